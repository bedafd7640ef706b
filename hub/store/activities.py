"""Activities: idempotent by (source, external_id); resolved to contacts through identities.

A synced activity whose contact is not stored yet is held (hub/store/held.py), not rejected:
its stream's cursor moves past it, so rejecting it lost it for good. ``release_held`` inserts
it once a contact with its identity or email is stored."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from hub import mirrors, opportunities
from hub.models import Activity, Contact, RecordError, normalize_email, utcnow
from hub.store import anonymous
from hub.store import held as held_store
from hub.store import suppressions as suppression_store
from hub.store.batch import among_keys
from hub.store.contacts import aware, resolve_emails, resolve_identity_ids
from hub.store.limits import activity_problems
from hub.store.profiles import update_profiles
from hub.store.schema import (
    activities,
    contact_profiles,
    contacts,
    decision_features,
    outcomes,
    unattributed_activities,
)

log = logging.getLogger(__name__)


@dataclass
class ActivityResult:
    inserted: int = 0
    duplicates: int = 0
    contacts: set[int] = field(default_factory=set)
    rejects: list[RecordError] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)
    #: (source, external_id) of activities naming no stored contact, held for it (``hold``)
    held: list[tuple[str, str]] = field(default_factory=list)
    #: activities of forgotten people (suppression list): neither stored nor held
    suppressed: int = 0
    #: openings added for closed opportunities that had none (hub/opportunities.py); their
    #: ids are in ``new_ids``, not counted in ``inserted``
    implied: int = 0


def _storable(items: Sequence[Activity], result: ActivityResult) -> list[Activity]:
    """Drop (into ``result.rejects``) activities the store cannot hold, naming record and field:
    one NUL or over-long value would fail the whole page's insert on PostgreSQL, and its cursor."""
    keep = []
    for a in items:
        problems = activity_problems(a)
        if problems:
            reason = "; ".join(f"{f} {why}" for f, why in problems)
            result.rejects.append(RecordError(external_id=a.external_id, reason=reason))
        else:
            keep.append(a)
    return keep


def insert_activities(
    conn: Connection, items: Sequence[Activity], now: datetime | None = None, hold: bool = False
) -> ActivityResult:
    """Insert new activities (repeats count as duplicates), with their profiles, mirrors and
    contacts' ``changed_at`` (``now``: the hub's clock, the time decisions are compared with),
    in the caller's transaction.

    An activity naming no stored contact is a reject, or with ``hold`` (a sync's activities
    stream, whose cursor will not come back for it) held until its contact is stored
    (hub/store/held.py); a forgotten person's is dropped and counted in ``suppressed``. An
    import keeps rejecting: its summary names the row, and the file can be imported again."""
    result = ActivityResult()
    items = _storable(items, result)
    if not items:
        return result
    items = list({(a.source, a.external_id): a for a in items}.values())
    keys = [(a.source, a.external_id) for a in items]
    q = select(activities.c.source, activities.c.external_id).where(
        among_keys(conn, (activities.c.source, activities.c.external_id), keys)
    )
    seen = {(s, e) for s, e in conn.execute(q)}
    resolved = resolve_identity_ids(conn, [a.contact_ref for a in items if a.contact_ref is not None])
    by_email = resolve_emails(conn, [a.contact_email for a in items if a.contact_email])
    rows = []
    unknown: list[Activity] = []
    for a in items:
        if (a.source, a.external_id) in seen:
            result.duplicates += 1
            continue
        cid = a.contact_id
        if cid is None and a.contact_ref is not None:
            cid = resolved.get(a.contact_ref.key())
        if cid is None and a.contact_email:
            cid = by_email.get(normalize_email(a.contact_email) or "")
        if cid is None:
            ref = a.contact_ref.external_id if a.contact_ref else (a.contact_email or "none")
            if hold and (a.contact_ref is not None or a.contact_email):
                unknown.append(a)
            else:
                result.rejects.append(RecordError(external_id=a.external_id, reason=f"no contact known for {ref!r}"))
            continue
        rows.append(
            {
                "contact_id": cid,
                "type": a.type.value,
                "channel": a.channel,
                "occurred_at": aware(a.occurred_at),
                "properties": a.properties,
                "source": a.source,
                "external_id": a.external_id,
            }
        )
        result.contacts.add(cid)
    if unknown:
        result.held, result.suppressed = held_store.hold(conn, unknown)
        for source, ext in result.held:  # not a bad record: its contact is expected
            log.info("%s activity %s held: its contact is not stored yet", source, ext)
    _mark_mirrors(conn, rows)
    opened = _implied_openings(conn, rows)
    result.inserted, result.implied = len(rows), len(opened)
    rows += opened
    if rows:
        conn.execute(insert(activities), rows)
        # a new activity is a change the contact is owed a decision for: the decide task, the
        # sweep and the consent check read changed_at (a record's re-merge sets it too)
        conn.execute(
            update(contacts).where(contacts.c.id.in_(sorted(result.contacts))).values(changed_at=now or utcnow())
        )
        # same transaction: the profile and the activities never disagree
        update_profiles(
            conn,
            [
                Activity(
                    contact_id=r["contact_id"],
                    type=r["type"],
                    occurred_at=r["occurred_at"],
                    properties=r["properties"] or {},
                    source=r["source"],
                    external_id=r["external_id"],
                )
                for r in rows
            ],
            utcnow(),
        )
        new_keys = [(r["source"], r["external_id"]) for r in rows]
        result.new_ids = list(
            conn.execute(
                select(activities.c.id).where(
                    among_keys(conn, (activities.c.source, activities.c.external_id), new_keys)
                )
            ).scalars()
        )
        # owed to attribution until credited: a lost ``hub.learn`` message no longer loses them
        conn.execute(insert(unattributed_activities), [{"activity_id": i} for i in result.new_ids])
    return result


def release_held(conn: Connection, stored: Sequence[Contact], now: datetime | None = None) -> ActivityResult:
    """Insert the held activities that name one of ``stored``'s identities or emails (contacts
    just upserted) and take them off the hold; those still naming no stored contact (a record
    refused on its page) stay held, a forgotten person's are dropped. Call it in the upsert's
    transaction; the result's ``new_ids`` are owed to learning like any new activity's.

    Events from /v1/events and Segment held for these people (hub/store/anonymous.py) are
    stitched onto them too: no other inbound event may come to claim them."""
    keys, emails = [i.key() for c in stored for i in c.identities], [e for c in stored for e in c.emails]
    stitched = anonymous.release(conn, stored, now or utcnow())
    waiting = held_store.naming(conn, keys, emails)
    if not waiting:
        return insert_activities(conn, stitched, now)
    # a forgotten person's record is not stored, so what is held for it would wait out the hold
    forgotten = suppression_store.suppressed(conn, {d for c in stored for d in suppression_store.digests_of(c)})
    gone = [c for c in stored if suppression_store.digests_of(c) & forgotten] if forgotten else []
    dropped = held_store.forget(
        conn, [i.key() for c in gone for i in c.identities], [e for c in gone for e in c.emails]
    )
    if dropped:
        waiting = held_store.naming(conn, keys, emails)
    result = insert_activities(conn, waiting, now, hold=True)
    if stitched:  # they name their contact by id: never held again
        more = insert_activities(conn, stitched, now)
        result.inserted += more.inserted
        result.duplicates += more.duplicates
        result.contacts |= more.contacts
        result.new_ids += more.new_ids
    result.suppressed += dropped
    still = set(result.held)
    held_store.drop(conn, [(a.source, a.external_id) for a in waiting if (a.source, a.external_id) not in still])
    result.held = []  # nothing newly held: these were held already
    if result.inserted:
        log.info("%d held activities inserted: their contacts are stored now", result.inserted)
    return result


def _implied_openings(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Openings for the new closed opportunities no opening accounts for (hub/opportunities.py):
    one read of those contacts' stored opportunity activities, only when the rows close one."""
    who = sorted({r["contact_id"] for r in rows if r["type"] in opportunities.CLOSED})
    if not who:
        return []
    q = select(activities.c.contact_id, activities.c.type, activities.c.occurred_at, activities.c.properties).where(
        activities.c.contact_id.in_(who), activities.c.type.in_(opportunities.TYPES)
    )
    stored = [
        {"contact_id": c, "type": k, "occurred_at": aware(at), "properties": p} for c, k, at, p in conn.execute(q)
    ]
    return opportunities.implied_openings(rows, stored)


def _mark_mirrors(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Mark each new row that repeats an event another source recorded (hub/mirrors.py): one
    read of the candidates' contacts' stored events of those types around those times."""
    candidates = [r for r in rows if r["type"] in mirrors.WINDOWS]
    if not candidates:
        return
    start = min(r["occurred_at"] for r in candidates) - mirrors.LONGEST
    end = max(r["occurred_at"] for r in candidates) + mirrors.LONGEST
    q = select(
        activities.c.contact_id,
        activities.c.type,
        activities.c.occurred_at,
        activities.c.source,
        activities.c.external_id,
        activities.c.properties,
    ).where(
        activities.c.contact_id.in_(sorted({r["contact_id"] for r in candidates})),
        activities.c.type.in_(sorted({r["type"] for r in candidates})),
        activities.c.occurred_at.between(start, end),
    )
    seen: mirrors.Seen = {}
    for cid, kind, at, source, ext, props in conn.execute(q):
        if not mirrors.is_mirror(props):
            seen.setdefault((cid, kind), []).append((aware(at), source, ext))
    mirrors.mark(candidates, seen)  # a batch's own rows count too


def recent_activities(conn: Connection, contact_ids: Iterable[int], since: datetime) -> dict[int, list[Activity]]:
    ids = sorted(set(contact_ids))
    out: dict[int, list[Activity]] = {i: [] for i in ids}
    if not ids:
        return out
    q = (
        select(activities)
        .where(activities.c.contact_id.in_(ids), activities.c.occurred_at >= since)
        .order_by(activities.c.contact_id, activities.c.occurred_at)
    )
    for r in conn.execute(q):
        out[r.contact_id].append(activity_from_row(r))
    return out


def activity_from_row(r: Any) -> Activity:
    """An ``activities`` row as the model every reader uses."""
    return Activity(
        contact_id=r.contact_id,
        type=r.type,
        channel=r.channel,
        occurred_at=aware(r.occurred_at),
        properties=r.properties or {},
        source=r.source,
        external_id=r.external_id,
    )


def _refold(conn: Connection, ids: list[int], now: datetime) -> None:
    """Fold all stored activities of ``ids`` into fresh profiles (their old ones deleted first)."""
    conn.execute(delete(contact_profiles).where(contact_profiles.c.contact_id.in_(ids)))
    # the columns named: migrations 0003 and 0012 run this on a table without the later ones (tx)
    a = activities.c
    q = select(a.id, a.contact_id, a.type, a.channel, a.occurred_at, a.properties, a.source, a.external_id)
    rows = [dict(r._mapping) for r in conn.execute(q.where(a.contact_id.in_(ids)))]
    for r in rows:
        r["occurred_at"] = aware(r["occurred_at"])
    # a merge brings two contacts' events together: the same event from their two CRMs is one
    marked = mirrors.mark(rows, {})
    if marked:
        conn.execute(
            update(activities).where(activities.c.id == bindparam("row_id")).values(properties=bindparam("props")),
            [{"row_id": r["id"], "props": r["properties"]} for r in marked],
        )
        _uncredit(conn, [r["id"] for r in marked])
    update_profiles(conn, [activity_from_row(SimpleNamespace(**r)) for r in rows], now)


def _uncredit(conn: Connection, activity_ids: list[int]) -> None:
    """Take back what activities now known to be mirrors gave decisions whose reward is still
    open: the one event was credited through both CRMs before a merge showed it was one
    (attribution skips mirrors, hub/pipeline/outcomes.py). A closed reward stays as learned."""
    closed = select(decision_features.c.decision_id).where(decision_features.c.finalized_at.is_not(None))
    conn.execute(
        delete(outcomes).where(outcomes.c.activity_id.in_(activity_ids), outcomes.c.decision_id.not_in(closed))
    )


def rebuild_profile(conn: Connection, contact_id: int, now: datetime) -> None:
    """Recompute one contact's profile from its activities (after a merge moved some in)."""
    _refold(conn, [contact_id], now)


def rebuild_profiles(conn: Connection, chunk: int = 1000) -> int:
    """Recompute every profile from the activities table (after migration 0002, or to repair).

    Reads contacts in id chunks so memory stays bounded; returns the number of profiles written.
    """
    conn.execute(delete(contact_profiles))
    written, last_id = 0, 0
    while True:
        ids = list(
            conn.execute(
                select(activities.c.contact_id)
                .where(activities.c.contact_id > last_id)
                .group_by(activities.c.contact_id)
                .order_by(activities.c.contact_id)
                .limit(chunk)
            ).scalars()
        )
        if not ids:
            return written
        _refold(conn, ids, datetime.now().astimezone())
        written += len(ids)
        last_id = ids[-1]
