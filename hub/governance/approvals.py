"""The approvals queue: pushes a person must approve before they are sent.

Storage choice: a held push is a normal row of the push queue in state
``awaiting_approval``, and its approval is a row of the ``approvals`` table (one per push).
The push row keeps the exact write that will be sent (so what a person approves is what
lands, and ``hub pushes list`` shows it); ``claim_due`` only takes ``pending`` rows, so a held
push cannot be sent by any worker, old or new, without a code path that knows approvals.
The approval row holds the human part: who, when, why, and when it expires. Approving moves
the push to ``pending`` (due now); rejecting or expiring moves it to ``rejected`` with the
reason, so it is never sent.

Held pushes are never folded with later pushes of the same record (``enqueue`` folds only
``pending`` rows): a field awaiting approval cannot ride along in an automatic write. A newer
write of the same record and fields withdraws the older approval instead
(:func:`withdraw_replaced`): the push run keeps only the newest write, so it could never be sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, insert, select, update

from hub.errors import GovernanceError, NotFoundError
from hub.governance import audit
from hub.models import Action, ActionKind, readable
from hub.store import pushes as push_store
from hub.store.contacts import aware
from hub.store.schema import approvals, contacts, pushes

HELD = "awaiting_approval"
REJECTED = "rejected"
#: why the system rejects an approval a newer write of the same record and fields replaced
REPLACED = "replaced: a newer decision writes the same record and fields, so this write would never be sent"
Verdict = Literal["approve", "reject"]


@dataclass(frozen=True)
class ApprovalView:
    id: int
    push_id: int
    decision_id: int
    contact_id: int
    email: str | None
    action: str | None
    kind: str
    connector: str
    external_id: str
    payload: dict[str, Any]
    state: str
    requested_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None

    def write(self) -> str:
        """The held write whole: the console's hover text (`hub approvals list --json` has the payload)."""
        return f"{self.kind} {readable(self.payload)} to {self.connector} {self.external_id}"

    def summary(self) -> str:
        """The held write in a few words, as `hub approvals list` and the console's Approvals page
        list it: the summary `hub decisions` writes (the field naming the action and how many more;
        the reason is the page's Why column), then where it goes."""
        return f"{Action(kind=ActionKind(self.kind), payload=self.payload).summary()} to {self.connector} {self.external_id}"


def hold(
    conn: Connection, rows: list[dict[str, Any]], actions: list[str | None], now: datetime, ttl_hours: float
) -> int:
    """Queue ``rows`` (push rows as ``push_rows`` builds them) as held pushes, one approval each.
    Call :func:`withdraw_replaced` first with every write to be queued or held."""
    if not rows:
        return 0
    expires = now + timedelta(hours=ttl_hours)
    held = [
        {**row, "state": HELD, "attempts": 0, "next_attempt_at": expires, "created_at": now, "updated_at": now}
        for row in rows
    ]
    # one INSERT per table, push ids returned in row order
    stmt = insert(pushes).returning(pushes.c.id, sort_by_parameter_order=True)
    push_ids = list(conn.execute(stmt, held).scalars())
    conn.execute(
        insert(approvals),
        [
            {
                "push_id": push_id,
                "decision_id": row["decision_id"],
                "contact_id": row["contact_id"],
                "action": action,
                "kind": row["kind"],
                "state": "awaiting",
                "requested_at": now,
                "expires_at": expires,
            }
            for push_id, row, action in zip(push_ids, rows, actions, strict=True)
        ],
    )
    return len(rows)


def withdraw_replaced(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> int:
    """Withdraw the awaiting approvals that ``rows``, newer writes about to be queued or held,
    replace (the same record and field group): held writes are not folded like pending ones, so
    each new decision of a contact added one more approval, and approving an older one only got
    it superseded at push time. Rejected for the system, saying why; returns how many."""
    if not rows or conn.execute(select(approvals.c.id).where(approvals.c.state == "awaiting").limit(1)).first() is None:
        return 0
    replaced = push_store.held_replaced(conn, rows)
    if not replaced:
        return 0
    held = conn.execute(
        select(approvals.c.id, approvals.c.push_id).where(
            approvals.c.push_id.in_(replaced), approvals.c.state == "awaiting"
        )
    ).all()
    return withdraw(conn, [r.id for r in held], [r.push_id for r in held], now, REPLACED) if held else 0


def _view(r: Any) -> ApprovalView:
    return ApprovalView(
        id=r.id,
        push_id=r.push_id,
        decision_id=r.decision_id,
        contact_id=r.contact_id,
        email=r.primary_email,
        action=r.action,
        kind=r.kind,
        connector=r.connector,
        external_id=r.external_id,
        payload=r.payload,
        state=r.state,
        requested_at=aware(r.requested_at),
        expires_at=aware(r.expires_at),
        decided_by=r.decided_by,
        decided_at=aware(r.decided_at) if r.decided_at else None,
        note=r.note,
    )


def _query():
    return (
        select(
            approvals,
            pushes.c.connector,
            pushes.c.external_id,
            pushes.c.payload,
            contacts.c.primary_email,
        )
        .join(pushes, pushes.c.id == approvals.c.push_id)
        .join(contacts, contacts.c.id == approvals.c.contact_id)
    )


def none_listed(state: str | None) -> str:
    """What `hub approvals list` and the console say when no approval is in ``state`` (None: any)."""
    if state is None:
        return "No approvals yet."
    return "Nothing awaits approval." if state == "awaiting" else f"No {state} approvals."


def list_approvals(conn: Connection, state: str | None = "awaiting", limit: int = 100) -> list[ApprovalView]:
    """Oldest first for the awaiting queue (first in, first decided); newest first otherwise."""
    q = _query().limit(limit)
    if state:
        q = q.where(approvals.c.state == state)
    q = q.order_by(approvals.c.id if state == "awaiting" else approvals.c.id.desc())
    return [_view(r) for r in conn.execute(q)]


def get(conn: Connection, approval_id: int) -> ApprovalView:
    r = conn.execute(_query().where(approvals.c.id == approval_id)).first()
    if r is None:
        raise NotFoundError(f"there is no approval {approval_id}; see `hub approvals list`.")
    return _view(r)


def decide(
    conn: Connection, approval_id: int, verdict: Verdict, by: str, note: str | None, now: datetime
) -> ApprovalView:
    """Approve (the push becomes due now) or reject (it is never sent). Audited.

    An approval past its expiry is expired here instead (the returned view's state is
    ``expired``), so an approval never lands late even if the periodic sweep has not run yet.
    An approval whose contact opted out after the decision is rejected by the system instead
    (:func:`hub.store.pushes.withdrawn`): approving would send what the person said no to. So is
    one a newer write of the same fields overtook: it would be superseded, never sent.
    """
    if not by.strip():
        raise GovernanceError("say who decides (--by NAME).")
    if verdict == "reject" and not (note or "").strip():
        raise GovernanceError("a rejection needs a reason (--note TEXT).")
    # lock the row where the store can (PostgreSQL): two people deciding at once, one wins
    row = conn.execute(select(approvals).where(approvals.c.id == approval_id).with_for_update()).first()
    if row is None:
        raise NotFoundError(f"there is no approval {approval_id}; see `hub approvals list`.")
    if row.state != "awaiting":
        why = f": {row.note}" if row.note else ""
        raise GovernanceError(f"approval {approval_id} is already {row.state} (by {row.decided_by or 'nobody'}{why}).")
    if aware(row.expires_at) <= now:  # expire it now and say so (no raise: the expiry must commit)
        if not expire_due(conn, now, ids=[approval_id]):
            raise _just_decided(conn, approval_id)
        return get(conn, approval_id)
    if verdict == "approve" and push_store.withdrawn(conn, [row.push_id]):
        if not withdraw(conn, [row.id], [row.push_id], now):
            raise _just_decided(conn, approval_id)
        return get(conn, approval_id)
    if verdict == "approve" and push_store.overtaken_by(conn, row.push_id):
        # a newer write of the same fields (held before withdraw_replaced existed, or queued by
        # a path past governance): approved, it would be superseded at push time, never sent
        if not withdraw(conn, [row.id], [row.push_id], now, REPLACED):
            raise _just_decided(conn, approval_id)
        return get(conn, approval_id)
    state = "approved" if verdict == "approve" else "rejected"
    # compare and set: the row lock above is ignored by SQLite, so two deciders may both get
    # here; only the one whose update still finds it awaiting may touch the push and audit
    decided = conn.execute(
        update(approvals)
        .where(approvals.c.id == approval_id, approvals.c.state == "awaiting")
        .values(state=state, decided_by=by, decided_at=now, note=note)
    ).rowcount
    if not decided:
        raise _just_decided(conn, approval_id)
    if verdict == "approve":
        push_values: dict[str, Any] = {"state": "pending", "next_attempt_at": now, "last_error": None}
    else:
        push_values = {"state": REJECTED, "last_error": f"rejected by {by}: {note}"}
    conn.execute(
        update(pushes).where(pushes.c.id == row.push_id, pushes.c.state == HELD).values(**push_values, updated_at=now)
    )
    audit.record(
        conn,
        now,
        by,
        verdict,
        f"approval {approval_id}",
        note,
        {"push_id": row.push_id, "kind": row.kind, "catalog_action": row.action},
    )
    return get(conn, approval_id)


def _just_decided(conn: Connection, approval_id: int) -> GovernanceError:
    """The refusal for one who lost the race: a decision committed between our read and write."""
    won = conn.execute(select(approvals.c.state, approvals.c.decided_by).where(approvals.c.id == approval_id)).one()
    return GovernanceError(
        f"approval {approval_id} was just decided by someone else ({won.state} by {won.decided_by}); "
        "reload the approvals to see it."
    )


def withdraw(
    conn: Connection,
    approval_ids: list[int],
    push_ids: list[int],
    now: datetime,
    reason: str = push_store.CONSENT_CHANGED,
) -> int:
    """Reject these awaiting approvals for the system, their held pushes superseded: no one may
    approve them any more (the contact opted out after the decision, or is being forgotten).
    Only those still awaiting are changed and audited (a person may have just decided one);
    returns how many."""
    changed = sorted(
        conn.execute(
            update(approvals)
            .where(approvals.c.id.in_(approval_ids), approvals.c.state == "awaiting")
            .values(state=REJECTED, decided_by=audit.SYSTEM, decided_at=now, note=reason)
            .returning(approvals.c.id)
        ).scalars()
    )
    push_of = dict(zip(approval_ids, push_ids, strict=True))
    if not changed:
        return 0
    conn.execute(
        update(pushes)
        .where(pushes.c.id.in_([push_of[aid] for aid in changed]), pushes.c.state == HELD)
        .values(state="superseded", last_error=reason, updated_at=now)
    )
    audit.record_many(
        conn,
        [
            {"at": now, "actor": audit.SYSTEM, "action": "reject", "subject": f"approval {aid}", "reason": reason}
            for aid in changed
        ],
    )
    return len(changed)


def expire_due(conn: Connection, now: datetime, ids: list[int] | None = None) -> int:
    """Expire awaiting approvals past their time: rejected with the reason "expired"."""
    q = select(approvals.c.id, approvals.c.push_id, approvals.c.kind, approvals.c.action).where(
        approvals.c.state == "awaiting", approvals.c.expires_at <= now
    )
    if ids is not None:
        q = q.where(approvals.c.id.in_(ids))
    due = conn.execute(q).all()
    if not due:
        return 0
    # only those still awaiting: a person deciding one at this moment keeps their decision
    still = set(
        conn.execute(
            update(approvals)
            .where(approvals.c.id.in_([r.id for r in due]), approvals.c.state == "awaiting")
            .values(state="expired", decided_by=audit.SYSTEM, decided_at=now, note="expired")
            .returning(approvals.c.id)
        ).scalars()
    )
    due = [r for r in due if r.id in still]
    if not due:
        return 0
    conn.execute(
        update(pushes)
        .where(pushes.c.id.in_([r.push_id for r in due]), pushes.c.state == HELD)
        .values(state=REJECTED, last_error="expired", updated_at=now)
    )
    audit.record_many(
        conn,
        [
            {
                "at": now,
                "actor": audit.SYSTEM,
                "action": "expire",
                "subject": f"approval {r.id}",
                "reason": "expired",
                "details": {"push_id": r.push_id, "kind": r.kind, "catalog_action": r.action},
            }
            for r in due
        ],
    )
    return len(due)


def counts(conn: Connection) -> dict[str, int]:
    from sqlalchemy import func

    return {s: n for s, n in conn.execute(select(approvals.c.state, func.count()).group_by(approvals.c.state))}
