"""A write decided before the person said no is never sent after it.

The push path re-checks consent: a write held for approval, retried after an error or re-claimed
after a worker died is withdrawn when its contact opted out (of e-mail or of all contact) after
the decision; the change makes the contact owed a new decision, which knows. ``hub forget
--clear-crm`` withdraws writes held for approval too. Each of these was sent before.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from hub.errors import GovernanceError
from hub.forget import forget
from hub.governance import approvals
from hub.pipeline.push import push_connector
from hub.pipeline.run import run_once
from hub.store import pushes as push_store
from tests.governance.conftest import make_ctx

NEEDS_APPROVAL = {"governance": {"autonomy": {"kinds": {"set_fields": "needs_approval"}}}}


def hub_writes(crm) -> list[tuple[str, str]]:
    return [(e["field"], e["new"]) for e in crm.effects()]


def test_an_approval_after_the_person_opted_out_is_withdrawn_not_sent(tmp_path, store_url, redis_url, crm):
    ctx = make_ctx(tmp_path, store_url, redis_url, **NEEDS_APPROVAL)
    crm.put_contact("0", email="ann@example.com", first_name="Ann", stage="lead")
    run_once(ctx)
    with ctx.store.connect() as conn:
        (held,) = approvals.list_approvals(conn)
    assert held.payload["fields"]["next_best_action"] == "email_nurture"
    crm.put_contact("0", opt_out=True)  # Ann unsubscribes in the CRM before anyone approves
    run_once(ctx)
    with ctx.store.begin() as conn:
        view = approvals.decide(conn, held.id, "approve", "ops", None, ctx.clock())
    assert (view.state, view.decided_by) == ("rejected", "system")
    assert "opted out" in view.note
    push_connector(ctx, "crm")
    assert ("next_best_action", "email_nurture") not in hub_writes(crm)
    with ctx.store.connect() as conn:
        (row,) = [p for p in push_store.list_pushes(conn) if p.id == held.push_id]
    assert (row.state, row.last_error) == ("superseded", push_store.CONSENT_CHANGED)
    ctx.close()


def test_a_retry_after_the_person_opted_out_is_withdrawn_not_sent(tmp_path, store_url, redis_url, crm):
    ctx = make_ctx(tmp_path, store_url, redis_url)
    crm.put_contact("0", email="ann@example.com", first_name="Ann", stage="lead")
    crm.r.set(crm.k("flaky_left"), 1)  # the CRM answers 503 once: the write waits for a retry
    run_once(ctx)
    with ctx.store.connect() as conn:
        (queued,) = push_store.list_pushes(conn)
    assert queued.state == "pending" and queued.attempts == 1
    crm.put_contact("0", opt_out=True)
    run_once(ctx)  # the sync sees the opt-out; the rules now order nothing for Ann
    time.sleep(0.5)  # past the back-off
    push_connector(ctx, "crm")
    assert hub_writes(crm) == []
    with ctx.store.connect() as conn:
        (row,) = push_store.list_pushes(conn)
    assert (row.state, row.last_error) == ("superseded", push_store.CONSENT_CHANGED)
    ctx.close()


def test_a_write_decided_after_the_opt_out_is_sent(tmp_path, store_url, redis_url, crm):
    """The check withholds only what was decided before: an opted-out person's own decision
    (what the hub writes for them knowing they said no) still lands."""
    ctx = make_ctx(tmp_path, store_url, redis_url, **NEEDS_APPROVAL)
    crm.put_contact("0", email="ann@example.com", first_name="Ann", stage="lead", opt_out=True)
    crm.put_contact("1", email="bo@example.com", first_name="Bo", stage="lead")
    run_once(ctx)
    with ctx.store.connect() as conn:
        (held,) = approvals.list_approvals(conn)  # Bo's: the rules order nothing for Ann
    with ctx.store.begin() as conn:
        assert approvals.decide(conn, held.id, "approve", "ops", None, ctx.clock()).state == "approved"
    push_connector(ctx, "crm")
    assert ("next_best_action", "email_nurture") in hub_writes(crm)
    ctx.close()


def test_forget_withdraws_writes_held_for_approval(tmp_path, store_url, redis_url, crm):
    ctx = make_ctx(
        tmp_path, store_url, redis_url, governance={"autonomy": {"kinds": {"add_to_list": "needs_approval"}}}
    )
    crm.put_contact("0", email="ann@example.com", first_name="Ann", stage="lead")
    now = datetime.now(UTC)
    for k in range(3):  # a hot lead: the rules add her to the sales-ready list
        crm.add_activity(f"pv-{k}", "0", "page_view", now - timedelta(days=k))
    run_once(ctx)
    with ctx.store.connect() as conn:
        (held,) = approvals.list_approvals(conn)
    assert held.kind == "add_to_list"
    crm.r.set(crm.k("flaky_left"), 1)  # the CRM is briefly unreachable: forget waits on it
    assert not forget(ctx, "ann@example.com", clear_crm=True).done
    with ctx.store.begin() as conn, pytest.raises(GovernanceError, match="already rejected"):
        approvals.decide(conn, held.id, "approve", "ops", None, ctx.clock())
    time.sleep(0.5)
    push_connector(ctx, "crm")
    assert forget(ctx, "ann@example.com", clear_crm=True).done
    assert ("lists", "sales-ready") not in hub_writes(crm)
    ctx.close()


def test_on_a_simulated_clock_a_write_decided_after_the_opt_out_is_sent(tmp_path, store_url, redis_url, crm):
    """The demo and the sandbox run the hub on a simulated clock. A sync stamped changes with the
    wall clock while decisions carried the simulated one, so every opted-out person's later
    writes looked decided before the opt-out and were withdrawn, day after day."""
    from hub.models import Decision
    from hub.pipeline.sync import sync_connector
    from hub.store import decisions as decision_store
    from tests.push_rows import set_field_rows

    ctx = make_ctx(tmp_path, store_url, redis_url)
    day = datetime(2026, 1, 5, 9, tzinfo=UTC)  # months before the wall clock
    ctx.clock = lambda: day
    crm.put_contact("0", email="ann@example.com", first_name="Ann", stage="lead", opt_out=True)
    (cid,) = sync_connector(ctx, "crm").changed
    later = Decision(
        contact_id=cid, actions=[], policy="engine", policy_version="v", created_at=day + timedelta(hours=1)
    )
    with ctx.store.begin() as conn:
        (did,) = decision_store.insert_decisions(conn, [later], "after-the-opt-out")
        push_store.enqueue(conn, set_field_rows(cid, did, ["0"], {"next_best_action": "wait"}), later.created_at)
        (pid,) = [p.id for p in push_store.list_pushes(conn)]
        assert push_store.withdrawn(conn, [pid]) == set()  # decided knowing: sent
    ctx.close()


def test_a_list_removal_decided_before_the_opt_out_is_still_sent(tmp_path, store_url, redis_url, crm):
    """A removal takes the person out of an audience, which is what their "no" asks for: it is not
    withheld with the decision's other writes (it was, and the person stayed on the nurture list)."""
    from hub.models import Decision
    from hub.pipeline.sync import sync_connector
    from hub.store import decisions as decision_store
    from tests.push_rows import set_field_rows

    ctx = make_ctx(tmp_path, store_url, redis_url)
    day = datetime(2026, 1, 5, 9, tzinfo=UTC)
    ctx.clock = lambda: day
    crm.put_contact("0", email="ann@example.com", first_name="Ann", stage="lead")
    (cid,) = sync_connector(ctx, "crm").changed
    before = Decision(contact_id=cid, actions=[], policy="engine", policy_version="v", created_at=day)
    with ctx.store.begin() as conn:
        (did,) = decision_store.insert_decisions(conn, [before], "before-the-opt-out")
        rows = set_field_rows(cid, did, ["0"], {"next_best_action": "sales_outreach"})
        rows.append({**rows[0], "kind": "remove_from_list", "payload": {"list": "nurture"}})
        push_store.enqueue(conn, rows, day)
        ids = {p.kind: p.id for p in push_store.list_pushes(conn)}
    ctx.clock = lambda: day + timedelta(hours=2)
    crm.put_contact("0", opt_out=True)
    sync_connector(ctx, "crm")
    with ctx.store.connect() as conn:
        assert push_store.withdrawn(conn, list(ids.values())) == {ids["set_fields"]}
    ctx.close()
