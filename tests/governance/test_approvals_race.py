"""Two people deciding one approval at the same moment: one wins, the other is told.

Real threads against the store. The main thread holds a write lock on the approval while both
deciders start, so both have read the approval as awaiting before either may write: on SQLite,
where ``SELECT ... FOR UPDATE`` is ignored, that was enough for both to succeed, leaving an
approval "rejected" whose push was sent, or two audit entries for one click.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from sqlalchemy import update

from hub.errors import GovernanceError
from hub.governance import approvals, audit
from hub.pipeline.run import run_once
from hub.store import pushes as push_store
from hub.store.schema import approvals as approval_table
from tests.governance.conftest import make_ctx, seed

NEEDS_APPROVAL = {"governance": {"autonomy": {"kinds": {"set_fields": "needs_approval"}}}}


def _race(ctx, approval_id: int, verdicts: tuple[str, str]) -> list[object]:
    """Run both decisions at once; each result is the view or the GovernanceError raised."""
    results: list[object] = [None, None]
    start = threading.Barrier(3)

    def decide(k: int) -> None:
        start.wait()
        note = "not this one" if verdicts[k] == "reject" else None
        try:
            with ctx.store.begin() as conn:
                results[k] = approvals.decide(conn, approval_id, verdicts[k], f"admin{k}", note, ctx.clock())
        except GovernanceError as exc:
            results[k] = exc

    threads = [threading.Thread(target=decide, args=(k,)) for k in (0, 1)]
    with ctx.store.begin() as lock:  # both deciders read, then wait here to write
        lock.execute(update(approval_table).where(approval_table.c.id == approval_id).values(note=None))
        for t in threads:
            t.start()
        start.wait()
        time.sleep(0.5)
    for t in threads:
        t.join(30)
    return results


@pytest.mark.parametrize("verdicts", [("approve", "reject"), ("reject", "approve"), ("approve", "approve")])
def test_one_decision_wins_and_push_agrees(tmp_path, store_url, redis_url, crm, verdicts):
    seed(crm, n=3, hot=0)
    ctx = make_ctx(tmp_path, store_url, redis_url, **NEEDS_APPROVAL)
    run_once(ctx)
    with ctx.store.connect() as conn:
        waiting = approvals.list_approvals(conn)
    assert len(waiting) == 3
    for a in waiting:
        results = _race(ctx, a.id, verdicts)
        won = [r for r in results if isinstance(r, approvals.ApprovalView)]
        lost = [r for r in results if isinstance(r, GovernanceError)]
        assert len(won) == 1 and len(lost) == 1, results
        # SQLite: the compare-and-set finds it decided; PostgreSQL: the row lock made the loser wait
        assert re.search(r"just decided by someone else|is already (approved|rejected)", str(lost[0]))
        with ctx.store.connect() as conn:
            final = approvals.get(conn, a.id)
            (push,) = [p for p in push_store.list_pushes(conn, state=None) if p.id == a.push_id]
            entries = [e for e in audit.entries(conn) if e.subject == f"approval {a.id}"]
        assert (final.state, final.decided_by) == (won[0].state, won[0].decided_by)
        assert push.state == {"approved": "pending", "rejected": "rejected"}[final.state]
        assert [(e.actor, e.action) for e in entries] == [(final.decided_by, verdicts[results.index(won[0])])]
    ctx.close()
