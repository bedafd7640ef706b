"""A newer decision for the same record and fields: what happens to the older approval.

Held writes are never folded like pending ones, so each new decision of a contact added one
more approval; approving an older one told the admin it would be sent while the push run then
dropped it as superseded by a newer sibling that was only awaiting approval, or even rejected.
Now a newer write withdraws the older awaiting approval (the system rejects it, saying why),
an approved write is overtaken only by a newer one that was or may still be sent, and
approving one that such a write has overtaken is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.errors import GovernanceError
from hub.governance import approvals, audit
from hub.pipeline.decide import decide_contacts
from hub.pipeline.push import push_connector
from hub.pipeline.run import run_once
from hub.pipeline.sync import sync_connector
from hub.store import pushes as push_store
from tests.governance.conftest import make_ctx

NEEDS_APPROVAL = {"governance": {"autonomy": {"kinds": {"set_fields": "needs_approval"}}}}


def nba_writes(crm) -> list[str]:
    return [e["new"] for e in crm.effects() if e["field"] == "next_best_action"]


def heat_up(crm, ext: str = "0") -> None:
    """Three page views: the rules' sales hand-off replaces the nurture."""
    now = datetime.now(UTC)
    for k in range(3):
        crm.add_activity(f"pv-{ext}-{k}", ext, "page_view", now - timedelta(days=k))


def decide_again(ctx, key: str) -> None:
    """Sync and decide what changed, without the push run that ``run_once`` ends with."""
    changed = sync_connector(ctx, "crm").changed
    assert changed
    decide_contacts(ctx, sorted(changed), key)


def push_of(conn, push_id: int) -> push_store.PushView:
    (row,) = [p for p in push_store.list_pushes(conn, state=None, limit=1000) if p.id == push_id]
    return row


def test_a_newer_held_write_withdraws_the_older_approval(tmp_path, store_url, redis_url, crm):
    ctx = make_ctx(tmp_path, store_url, redis_url, **NEEDS_APPROVAL)
    crm.put_contact("0", email="ann@example.com", first_name="Ann", stage="lead")
    run_once(ctx)
    with ctx.store.connect() as conn:
        (older,) = approvals.list_approvals(conn)
    heat_up(crm)
    run_once(ctx)
    with ctx.store.connect() as conn:
        (newer,) = approvals.list_approvals(conn)  # one waits, not two
        was = approvals.get(conn, older.id)
        older_push = push_of(conn, older.push_id)
        log = [(e.actor, e.action, e.subject) for e in audit.entries(conn)]
    assert newer.id != older.id and newer.payload["fields"]["next_best_action"] == "sales_outreach"
    assert (was.state, was.decided_by) == ("rejected", audit.SYSTEM)
    assert "newer decision" in was.note
    assert older_push.state == "superseded"
    assert log == [(audit.SYSTEM, "reject", f"approval {older.id}")]
    with pytest.raises(GovernanceError, match="already rejected"), ctx.store.begin() as conn:
        approvals.decide(conn, older.id, "approve", "ana", None, ctx.clock())
    with ctx.store.begin() as conn:
        assert approvals.decide(conn, newer.id, "approve", "ana", None, ctx.clock()).state == "approved"
    push_connector(ctx, "crm")
    assert nba_writes(crm) == ["sales_outreach"]
    ctx.close()


@pytest.mark.parametrize("newer_verdict", ["awaiting", "reject"])
def test_an_approved_write_is_sent_whatever_a_newer_held_write_awaits(
    tmp_path, store_url, redis_url, crm, newer_verdict
):
    """Approved, then a newer decision is held before the push run: the approved write is sent
    (the newer one, awaiting or rejected, was not sent and may never be)."""
    ctx = make_ctx(tmp_path, store_url, redis_url, **NEEDS_APPROVAL)
    crm.put_contact("0", email="ann@example.com", first_name="Ann", stage="lead")
    run_once(ctx)
    with ctx.store.begin() as conn:
        (older,) = approvals.list_approvals(conn)
        assert approvals.decide(conn, older.id, "approve", "ana", None, ctx.clock()).state == "approved"
    heat_up(crm)
    decide_again(ctx, "again")
    with ctx.store.connect() as conn:
        (newer,) = approvals.list_approvals(conn)
    if newer_verdict == "reject":
        with ctx.store.begin() as conn:
            approvals.decide(conn, newer.id, "reject", "bo", "not yet", ctx.clock())
    push_connector(ctx, "crm")
    assert nba_writes(crm) == ["email_nurture"]
    with ctx.store.connect() as conn:
        assert push_of(conn, older.push_id).state == "done"
    if newer_verdict == "awaiting":  # approved later, the newer write lands after the older
        with ctx.store.begin() as conn:
            approvals.decide(conn, newer.id, "approve", "ana", None, ctx.clock())
        push_connector(ctx, "crm")
        assert nba_writes(crm) == ["email_nurture", "sales_outreach"]
    ctx.close()


def test_a_newer_automatic_write_withdraws_the_older_approval(tmp_path, store_url, redis_url, crm):
    """The nurture's fields need approval, the hand-off's are sent at once: once the hand-off is
    queued, the nurture awaiting approval could only ever be superseded at push time."""
    gov = {
        "governance": {
            "autonomy": {"kinds": {"set_fields": "needs_approval"}, "actions": {"sales_outreach": "automatic"}}
        }
    }
    ctx = make_ctx(tmp_path, store_url, redis_url, **gov)
    crm.put_contact("0", email="ann@example.com", first_name="Ann", stage="lead")
    run_once(ctx)
    with ctx.store.connect() as conn:
        (older,) = [a for a in approvals.list_approvals(conn) if a.kind == "set_fields"]
    heat_up(crm)
    run_once(ctx)
    assert nba_writes(crm) == ["sales_outreach"]
    with ctx.store.connect() as conn:
        was = approvals.get(conn, older.id)
    assert (was.state, was.decided_by) == ("rejected", audit.SYSTEM) and "newer decision" in was.note
    ctx.close()


def test_approving_a_write_a_newer_one_overtook_is_refused(tmp_path, store_url, redis_url, crm):
    """An approval held before newer writes withdrew older ones (or by any path that did not):
    approving it is refused and it is withdrawn, instead of "approved" and never sent."""
    ctx = make_ctx(tmp_path, store_url, redis_url, **NEEDS_APPROVAL)
    crm.put_contact("0", email="ann@example.com", first_name="Ann", stage="lead")
    run_once(ctx)
    with ctx.store.begin() as conn:
        (older,) = approvals.list_approvals(conn)
        held = push_of(conn, older.push_id)
        newer = {
            "decision_id": older.decision_id,
            "contact_id": older.contact_id,
            "connector": held.connector,
            "object_type": held.object_type,
            "external_id": held.external_id,
            "kind": held.kind,
            "payload": {"fields": {"next_best_action": "sales_outreach"}},
        }
        push_store.enqueue(conn, [newer], ctx.clock())  # straight into the queue, past governance
    push_connector(ctx, "crm")
    assert nba_writes(crm) == ["sales_outreach"]
    with ctx.store.begin() as conn:
        view = approvals.decide(conn, older.id, "approve", "ana", None, ctx.clock())
    assert (view.state, view.decided_by) == ("rejected", audit.SYSTEM) and "newer decision" in view.note
    push_connector(ctx, "crm")
    assert nba_writes(crm) == ["sales_outreach"]
    ctx.close()
