"""Approvals end to end through the pipeline: held, approved -> pushed, rejected -> never, expired."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.errors import GovernanceError
from hub.governance import approvals, audit
from hub.governance.step import governance_step
from hub.pipeline.push import push_connector
from hub.pipeline.run import run_once
from hub.store import pushes as push_store
from tests.governance.conftest import make_ctx, seed

HOLD_LISTS = {"governance": {"autonomy": {"kinds": {"add_to_list": "needs_approval"}, "approval_ttl_hours": 24}}}


def list_adds(crm) -> list[str]:
    return sorted(e["record"] for e in crm.effects() if e["field"] == "lists")


def test_held_approved_rejected_expired(tmp_path, store_url, redis_url, crm):
    seed(crm, n=5, hot=3)
    ctx = make_ctx(tmp_path, store_url, redis_url, **HOLD_LISTS)
    run_once(ctx)
    # fields went out for everyone at once; the three list adds wait for a person
    assert len({e["record"] for e in crm.effects() if e["field"] == "next_best_action"}) == 5
    assert list_adds(crm) == []
    with ctx.store.connect() as conn:
        waiting = approvals.list_approvals(conn)
        held = push_store.list_pushes(conn, state=approvals.HELD)
    assert [(a.kind, a.external_id) for a in waiting] == [
        ("add_to_list", "0"),
        ("add_to_list", "1"),
        ("add_to_list", "2"),
    ]
    assert {p.id for p in held} == {a.push_id for a in waiting}

    first, second, third = waiting
    now = ctx.clock()
    with ctx.store.begin() as conn:
        assert approvals.decide(conn, first.id, "approve", "ana", "fits the campaign", now).state == "approved"
        assert approvals.decide(conn, second.id, "reject", "bo", "account in legal hold", now).state == "rejected"
    with pytest.raises(GovernanceError, match="already approved"), ctx.store.begin() as conn:
        approvals.decide(conn, first.id, "reject", "cy", "changed my mind", now)
    with pytest.raises(GovernanceError, match="needs a reason"), ctx.store.begin() as conn:
        approvals.decide(conn, third.id, "reject", "cy", "  ", now)

    push_connector(ctx, "crm")
    assert list_adds(crm) == [first.external_id]  # approved -> pushed; rejected -> never

    later = now + timedelta(hours=25)
    assert governance_step(ctx, later).expired == 1
    with ctx.store.begin() as conn:
        expired = approvals.get(conn, third.id)
        assert (expired.state, expired.note, expired.decided_by) == ("expired", "expired", audit.SYSTEM)
        states = {p.id: (p.state, p.last_error) for p in push_store.list_pushes(conn, state=None, limit=1000)}
    assert states[second.push_id] == ("rejected", "rejected by bo: account in legal hold")
    assert states[third.push_id] == ("rejected", "expired")
    with pytest.raises(GovernanceError, match="already expired"), ctx.store.begin() as conn:
        approvals.decide(conn, third.id, "approve", "ana", None, later)
    run_once(ctx)
    assert list_adds(crm) == [first.external_id]

    with ctx.store.connect() as conn:
        log = [(e.actor, e.action, e.subject, e.reason) for e in reversed(audit.entries(conn))]
    assert log == [
        ("ana", "approve", f"approval {first.id}", "fits the campaign"),
        ("bo", "reject", f"approval {second.id}", "account in legal hold"),
        ("system", "expire", f"approval {third.id}", "expired"),
    ]
    ctx.close()


def test_expiry_is_enforced_without_the_sweep(tmp_path, redis_url, crm):
    seed(crm, n=2, hot=1)
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url, **HOLD_LISTS)
    run_once(ctx)
    with ctx.store.begin() as conn:
        (a,) = approvals.list_approvals(conn)
        late = approvals.decide(conn, a.id, "approve", "ana", None, a.expires_at + timedelta(seconds=1))
    assert late.state == "expired"
    push_connector(ctx, "crm")
    assert list_adds(crm) == []
    ctx.close()


def test_catalog_action_setting_wins_over_kind_and_off_sends_nothing(tmp_path, redis_url, crm):
    seed(crm, n=4, hot=2)
    gov = {
        "governance": {
            "autonomy": {
                "kinds": {"add_to_list": "off", "set_fields": "automatic"},
                "actions": {"sales_outreach": "needs_approval"},
            }
        }
    }
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url, **gov)
    report = run_once(ctx)
    assert report.decide.decided == 4
    nba = {e["record"]: e["new"] for e in crm.effects() if e["field"] == "next_best_action"}
    assert nba == {"2": "email_nurture", "3": "email_nurture"}  # the hand-offs wait
    assert list_adds(crm) == []
    with ctx.store.connect() as conn:
        waiting = approvals.list_approvals(conn)
        everything = push_store.list_pushes(conn, state=None, limit=1000)
    # sales_outreach holds its field write; its list add is the action's too, so it is held, not off
    assert sorted((a.external_id, a.kind, a.action) for a in waiting) == [
        ("0", "add_to_list", "sales_outreach"),
        ("0", "set_fields", "sales_outreach"),
        ("1", "add_to_list", "sales_outreach"),
        ("1", "set_fields", "sales_outreach"),
    ]
    assert all(p.kind != "add_to_list" or p.state == approvals.HELD for p in everything)
    ctx.close()


def test_off_kind_is_never_queued(tmp_path, redis_url, crm):
    seed(crm, n=3, hot=3)
    ctx = make_ctx(
        tmp_path,
        f"sqlite:///{tmp_path / 'hub.db'}",
        redis_url,
        governance={"autonomy": {"kinds": {"add_to_list": "off"}}},
    )
    run_once(ctx)
    with ctx.store.connect() as conn:
        states = {(p.kind, p.state, p.last_error) for p in push_store.list_pushes(conn, state=None, limit=1000)}
        assert approvals.list_approvals(conn) == []
    # the list adds are stored withheld (the decision's record says what it would have written)
    assert states == {("set_fields", "done", None), ("add_to_list", "withheld", push_store.AUTONOMY_OFF)}
    assert list_adds(crm) == []
    run_once(ctx)  # withheld writes are never claimed
    assert list_adds(crm) == []
    ctx.close()
