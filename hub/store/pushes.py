"""The push queue: one row per action per CRM record, with state, attempts and errors.

States: pending -> sending (claimed under a lease) -> done | skipped (nothing to change) |
failed (permanent, with its reason) | superseded (a newer decision replaced it). A write that
autonomy turns ``off`` is stored ``withheld`` and never sent: the decision's record shows what it
would have written, and learning and owner budgets know it did not happen. A claimed row
whose lease ran out (the worker died) is claimed again: delivery is at least once, and the
writes themselves are idempotent.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, func, or_, select, update

from hub.models import Action, ActionKind, Identity, PushRequest
from hub.store.batch import among, among_keys, insert_rows
from hub.store.contacts import aware
from hub.store.schema import contacts, decisions, identities, pushes

OPEN_STATES = ("pending", "sending")
#: writes that were or may still be sent: only a newer one of these makes an older write of the
#: same record and field group stale. One awaiting approval, rejected, withheld or superseded did
#: not land and may never land; counting it dropped an approved write that nothing replaced.
#: A landed (done, skipped) or failed one counts: the older write would overwrite it.
INTENT_STATES = ("pending", "sending", "done", "skipped", "failed")
#: the policy name of ``hub forget``'s clearing decisions (hub/forget.py): their writes empty
#: the hub's fields, so no consent change withholds them
FORGET_POLICY = "forget"
#: why a push is withdrawn instead of sent (:func:`withdrawn`)
CONSENT_CHANGED = (
    "withdrawn: the contact opted out (of e-mail or of all contact) after this decision; it is decided again"
)
#: why a push is ``withheld`` (governance.autonomy says ``off`` for its kind or action)
AUTONOMY_OFF = "withheld: governance.autonomy is off for this action or write kind; nothing was sent"
BUCKETS = 64  # lanes split by bucket % lanes, so any lane count up to 64 keeps a record in one lane


def bucket_of(external_id: str) -> int:
    """A record's bucket: stable across processes and releases (not Python's salted hash)."""
    return zlib.crc32(external_id.encode()) % BUCKETS


@dataclass
class PushRow:
    id: int
    decision_id: int
    contact_id: int
    identity: Identity
    kind: ActionKind
    payload: dict[str, Any]
    attempts: int

    def request(self) -> PushRequest:
        return PushRequest(
            push_id=self.id,
            identity=self.identity,
            action=Action(kind=self.kind, connector=self.identity.connector, payload=self.payload),
        )


def pending_of(conn: Connection, rows: Sequence[dict[str, Any]]) -> Select:
    """The pending pushes of the records in ``rows``, the ones a new write folds into. Read
    through ix_pushes_pending_record (connector, external_id where pending): a record's done
    pushes, one per decision it ever had, are not in that index."""
    return select(
        pushes.c.id, pushes.c.connector, pushes.c.object_type, pushes.c.external_id, pushes.c.kind, pushes.c.payload
    ).where(
        pushes.c.state == "pending",
        pushes.c.connector.in_(list({r["connector"] for r in rows})),
        among(conn, pushes.c.external_id, list({r["external_id"] for r in rows})),
    )


def enqueue(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> int:
    """Insert pushes; an open push of the same record and kind (and list) is folded in.

    Folding keeps one write per field: the newest value wins, older fields still pending ride
    along in the new push.
    """
    if not rows:
        return 0
    open_rows = conn.execute(pending_of(conn, rows)).all()
    open_by_key: dict[tuple, list[Any]] = {}
    for r in open_rows:
        open_by_key.setdefault(_fold_key(r.connector, r.object_type, r.external_id, r.kind, r.payload), []).append(r)
    folds = [
        (row, old)
        for row in rows
        for old in open_by_key.pop(
            _fold_key(row["connector"], row["object_type"], row["external_id"], row["kind"], row["payload"]), []
        )
    ]
    # still pending in the update itself: a push a worker claimed after the read above is in
    # flight, so it is not folded in (the new one waits for it and lands after it, in order)
    taken = set()
    if folds:
        taken = set(
            conn.execute(
                update(pushes)
                .where(among(conn, pushes.c.id, [old.id for _, old in folds]), pushes.c.state == "pending")
                .values(state="superseded", updated_at=now)
                .returning(pushes.c.id)
            ).scalars()
        )
    for row, old in folds:
        if old.id in taken and row["kind"] == ActionKind.SET_FIELDS.value:
            row["payload"] = {"fields": {**old.payload.get("fields", {}), **row["payload"].get("fields", {})}}
    return _insert(conn, rows, now, "pending")


def withhold(conn: Connection, rows: list[dict[str, Any]], now: datetime, reason: str) -> int:
    """Store writes that are never to be sent (state ``withheld``, with ``reason``). They fold
    nothing in and nothing folds into them: the pending writes of the same record stay the ones
    to send."""
    return _insert(conn, rows, now, "withheld", reason)


def _insert(conn: Connection, rows: list[dict[str, Any]], now: datetime, state: str, error: str | None = None) -> int:
    extra = {"last_error": error} if error is not None else {}
    full = [
        {
            **r,
            "state": state,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
            "bucket": bucket_of(r["external_id"]),
            **extra,
        }
        for r in rows
    ]
    insert_rows(conn, pushes, full)
    return len(full)


def held_replaced(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """The pushes awaiting approval that ``rows`` (newer writes) replace: the same record and
    field group, as ``enqueue`` folds by. Once a newer write is queued or held, the older one
    would only ever be superseded at push time."""
    if not rows:
        return []
    keys = {_fold_key(r["connector"], r["object_type"], r["external_id"], r["kind"], r["payload"]) for r in rows}
    held = conn.execute(
        select(
            pushes.c.id, pushes.c.connector, pushes.c.object_type, pushes.c.external_id, pushes.c.kind, pushes.c.payload
        ).where(
            pushes.c.state == "awaiting_approval",
            pushes.c.connector.in_(list({r["connector"] for r in rows})),
            among(conn, pushes.c.external_id, list({r["external_id"] for r in rows})),
        )
    ).all()
    return [h.id for h in held if _fold_key(h.connector, h.object_type, h.external_id, h.kind, h.payload) in keys]


def overtaken_by(conn: Connection, push_id: int) -> int | None:
    """The id of a newer push of the same record and field group that was or may still be sent,
    if any: ``claim_due`` would supersede this one instead of sending it."""
    row = conn.execute(select(pushes).where(pushes.c.id == push_id)).one()
    key = _fold_key(row.connector, row.object_type, row.external_id, row.kind, row.payload)
    newer = conn.execute(
        select(pushes.c.id, pushes.c.object_type, pushes.c.kind, pushes.c.payload)
        .where(
            pushes.c.connector == row.connector,
            pushes.c.external_id == row.external_id,
            pushes.c.id > push_id,
            pushes.c.state.in_(INTENT_STATES),
        )
        .order_by(pushes.c.id)
    )
    return next(
        (n.id for n in newer if _fold_key(row.connector, n.object_type, row.external_id, n.kind, n.payload) == key),
        None,
    )


def _fold_key(connector: str, object_type: str, external_id: str, kind: str, payload: dict[str, Any]) -> tuple:
    lst = payload.get("list") if kind in (ActionKind.ADD_TO_LIST.value, ActionKind.REMOVE_FROM_LIST.value) else None
    # add and remove of one list fold into each other: the newer intent wins
    kind_group = "list" if lst is not None else kind
    return (connector, object_type, external_id, kind_group, lst)


#: pages of due rows ``claim_due`` looks through for claimable ones before giving up
CLAIM_SCAN_PAGES = 20


def claim_due(
    conn: Connection,
    connector: str,
    now: datetime,
    limit: int,
    lease_seconds: int,
    only_ids: Sequence[int] | None = None,
    lane: tuple[int, int] = (0, 1),
) -> list[PushRow]:
    """Claim due pushes of lane ``lane[0]`` of ``lane[1]`` under a lease, in order, keeping the
    newest intent per record. Lanes hold disjoint records, so they never race for a row.

    A due push with a newer push for the same record and field group is stale and becomes
    ``superseded`` instead of being sent: otherwise a batch whose worker died (lease ran out)
    would be re-sent after a newer decision landed and overwrite it. A push whose older
    sibling is still in flight under a live lease waits, so the two cannot land out of order.
    """
    due = or_(
        and_(pushes.c.state == "pending", pushes.c.next_attempt_at <= now),
        and_(pushes.c.state == "sending", pushes.c.lease_until < now),
    )
    q = select(pushes).where(pushes.c.connector == connector, due)
    if lane[1] > 1:
        q = q.where(pushes.c.bucket % lane[1] == lane[0])
    if only_ids is not None:
        q = q.where(pushes.c.id.in_(list(only_ids)))
    # the oldest due rows may all wait on in-flight siblings (a worker died mid batch and its
    # lease has not run out): look further along instead of reporting nothing due
    rows: list[Any] = []
    after = 0
    for _ in range(CLAIM_SCAN_PAGES):
        page = conn.execute(q.where(pushes.c.id > after).order_by(pushes.c.id).limit(limit)).all()
        if not page:
            break
        after = page[-1].id
        held_back = withdrawn(conn, [r.id for r in page])
        if held_back:
            mark(conn, sorted(held_back), "superseded", now, error=CONSENT_CHANGED)
            page = [r for r in page if r.id not in held_back]
        rows += _newest_intent(conn, connector, page, now)[: limit - len(rows)]
        if len(rows) >= limit:
            break
    if not rows:
        return []
    # due again in the update itself: a decide that superseded a row (or another claim that took
    # it) after the read above committed first, and PostgreSQL re-checks the condition on the row
    # it waited for, so a stale write is never put back to sending
    claimed = set(
        conn.execute(
            update(pushes)
            .where(pushes.c.id.in_([r.id for r in rows]), due)
            .values(state="sending", lease_until=now + timedelta(seconds=lease_seconds), updated_at=now)
            .returning(pushes.c.id)
        ).scalars()
    )
    rows = [r for r in rows if r.id in claimed]
    return [
        PushRow(
            id=r.id,
            decision_id=r.decision_id,
            contact_id=r.contact_id,
            identity=Identity(connector=r.connector, object_type=r.object_type, external_id=r.external_id),
            kind=ActionKind(r.kind),
            payload=r.payload,
            attempts=r.attempts,
        )
        for r in rows
    ]


def withdrawn(conn: Connection, push_ids: Sequence[int]) -> set[int]:
    """The pushes among these whose decision is older than an opt-out: the contact now opts out
    of e-mail or of all contact and changed after the decision was made (a sync re-merged it).
    That decision did not know; sending its write (a next best action, a list, an owner) would
    let a CRM workflow act on a person who said no. The change makes the contact owed a new
    decision, which knows. Hold back what is due now: a write held for approval, retried after
    an error or re-claimed after a worker died. A list removal is sent all the same: it takes the
    person out of an audience, which is what their "no" asks for."""
    if not push_ids:
        return set()
    q = (
        select(pushes.c.id)
        .join(decisions, decisions.c.id == pushes.c.decision_id)
        .join(contacts, contacts.c.id == pushes.c.contact_id)
        .where(
            pushes.c.id.in_(list(push_ids)),
            or_(contacts.c.email_opt_out, contacts.c.do_not_contact),
            contacts.c.changed_at > decisions.c.created_at,
            decisions.c.policy != FORGET_POLICY,
            pushes.c.kind != ActionKind.REMOVE_FROM_LIST.value,
        )
    )
    return set(conn.execute(q).scalars())


def _newest_intent(conn: Connection, connector: str, rows: list[Any], now: datetime) -> list[Any]:
    """Drop stale rows (marked superseded) and rows waiting on an in-flight older sibling."""
    siblings = conn.execute(
        select(
            pushes.c.id,
            pushes.c.object_type,
            pushes.c.external_id,
            pushes.c.kind,
            pushes.c.payload,
            pushes.c.state,
            pushes.c.lease_until,
        ).where(
            pushes.c.connector == connector,
            pushes.c.external_id.in_(list({r.external_id for r in rows})),
            pushes.c.state.in_(INTENT_STATES),
        )
    ).all()
    newest: dict[tuple, int] = {}
    in_flight: dict[tuple, int] = {}
    for s in siblings:
        key = _fold_key(connector, s.object_type, s.external_id, s.kind, s.payload)
        newest[key] = max(newest.get(key, 0), s.id)
        lease = aware(s.lease_until)
        if s.state == "sending" and lease is not None and lease >= now:
            in_flight[key] = min(in_flight.get(key, s.id), s.id)
    keep, stale = [], []
    for r in rows:
        key = _fold_key(connector, r.object_type, r.external_id, r.kind, r.payload)
        if newest.get(key, r.id) > r.id:
            stale.append(r.id)
        elif in_flight.get(key, r.id) >= r.id:
            keep.append(r)
    if stale:
        conn.execute(update(pushes).where(pushes.c.id.in_(stale)).values(state="superseded", updated_at=now))
    return keep


def crm_state(conn: Connection, idents: Sequence[Identity]) -> dict[tuple[str, str, str], Any]:
    """What the CRM has now for each record: hub fields, lists and owner."""
    if not idents:
        return {}
    keys = list({i.key() for i in idents})
    q = select(
        identities.c.connector,
        identities.c.object_type,
        identities.c.external_id,
        identities.c.crm_fields,
        identities.c.lists,
        identities.c.owner,
    ).where(among_keys(conn, (identities.c.connector, identities.c.object_type, identities.c.external_id), keys))
    return {(r.connector, r.object_type, r.external_id): r for r in conn.execute(q)}


def mark(
    conn: Connection, ids: Sequence[int], state: str, now: datetime, error: str | None = None, attempts_inc: int = 0
) -> None:
    if not ids:
        return
    values: dict[str, Any] = {"state": state, "updated_at": now, "lease_until": None, "last_error": error}
    if attempts_inc:
        values["attempts"] = pushes.c.attempts + attempts_inc
    conn.execute(update(pushes).where(pushes.c.id.in_(list(ids))).values(**values))


def extend_lease(conn: Connection, ids: Sequence[int], until: datetime) -> int:
    """Keep these claimed rows ours until ``until`` (rows no longer sending are left alone)."""
    if not ids:
        return 0
    return conn.execute(
        update(pushes).where(pushes.c.id.in_(list(ids)), pushes.c.state == "sending").values(lease_until=until)
    ).rowcount


def reschedule(
    conn: Connection, push_id: int, when: datetime, error: str, now: datetime, attempts_inc: int = 1
) -> None:
    conn.execute(
        update(pushes)
        .where(pushes.c.id == push_id)
        .values(
            state="pending",
            next_attempt_at=when,
            last_error=error,
            attempts=pushes.c.attempts + attempts_inc,
            lease_until=None,
            updated_at=now,
        )
    )


def apply_to_identity(
    conn: Connection, identity: Identity, kind: ActionKind, payload: dict[str, Any], row: Any
) -> None:
    """Record a landed write as the CRM's new state, so the next diff and echo check know it."""
    where = and_(
        identities.c.connector == identity.connector,
        identities.c.object_type == identity.object_type,
        identities.c.external_id == identity.external_id,
    )
    if kind is ActionKind.SET_FIELDS:
        conn.execute(
            update(identities).where(where).values(crm_fields={**(row.crm_fields or {}), **payload.get("fields", {})})
        )
    elif kind is ActionKind.ADD_TO_LIST:
        conn.execute(update(identities).where(where).values(lists=sorted({*(row.lists or []), payload["list"]})))
    elif kind is ActionKind.REMOVE_FROM_LIST:
        conn.execute(update(identities).where(where).values(lists=sorted(set(row.lists or []) - {payload["list"]})))
    elif kind is ActionKind.ASSIGN_OWNER:
        conn.execute(update(identities).where(where).values(owner=payload["owner"]))


def counts(conn: Connection) -> dict[tuple[str, str], int]:
    q = select(pushes.c.connector, pushes.c.state, func.count()).group_by(pushes.c.connector, pushes.c.state)
    return {(c, s): n for c, s, n in conn.execute(q)}


def counts_and_retrying(
    conn: Connection,
) -> tuple[dict[tuple[str, str], int], dict[str, tuple[int, str | None]]]:
    """:func:`counts`, and per connector the open pushes a try already failed (waiting to be
    retried: a CRM down, a 5xx) with the newest of their errors, in one statement whatever the
    queue holds (the console's Overview is a fixed handful of statements)."""
    p2 = pushes.alias("p2")
    newest = (
        select(p2.c.last_error)
        .where(p2.c.connector == pushes.c.connector, p2.c.state.in_(OPEN_STATES), p2.c.last_error.is_not(None))
        .order_by(p2.c.updated_at.desc(), p2.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    q = select(pushes.c.connector, pushes.c.state, func.count(), func.count(pushes.c.last_error), newest).group_by(
        pushes.c.connector, pushes.c.state
    )
    counts: dict[tuple[str, str], int] = {}
    retrying: dict[str, tuple[int, str | None]] = {}
    for c, state, n, failed_once, error in conn.execute(q):
        counts[(c, state)] = n
        if state in OPEN_STATES and failed_once:
            retrying[c] = (retrying.get(c, (0, None))[0] + failed_once, error)
    return counts, retrying


@dataclass
class PushView:
    id: int
    connector: str
    object_type: str
    external_id: str
    kind: str
    payload: dict[str, Any]
    state: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None


def none_listed(state: str | None) -> str:
    """What `hub pushes list` and the console's Queues page say when no push is in ``state`` (None: any)."""
    return "No pushes yet." if state is None else f"No {state} pushes."


def list_pushes(
    conn: Connection, state: str | None = None, connector: str | None = None, limit: int = 100
) -> list[PushView]:
    q = select(pushes).order_by(pushes.c.id.desc()).limit(limit)
    if state:
        q = q.where(pushes.c.state == state)
    if connector:
        q = q.where(pushes.c.connector == connector)
    return [
        PushView(
            r.id,
            r.connector,
            r.object_type,
            r.external_id,
            r.kind,
            r.payload,
            r.state,
            r.attempts,
            r.last_error,
            aware(r.next_attempt_at),
        )
        for r in conn.execute(q)
    ]


def not_retryable(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    """Of ``ids``, those `hub pushes retry` cannot requeue, each with why (no such push, or its state)."""
    states = dict(conn.execute(select(pushes.c.id, pushes.c.state).where(pushes.c.id.in_(list(ids)))).all())
    return {
        i: f"state {states[i]}, not failed" if i in states else "no such push" for i in ids if states.get(i) != "failed"
    }


def retry_failed(conn: Connection, ids: Sequence[int] | None, now: datetime) -> int:
    q = update(pushes).where(pushes.c.state == "failed")
    if ids is not None:
        q = q.where(pushes.c.id.in_(list(ids)))
    return conn.execute(q.values(state="pending", attempts=0, next_attempt_at=now, updated_at=now)).rowcount
