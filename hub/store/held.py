"""Synced activities whose contact is not stored yet, held until it is (migration 0016).

A sync reads contacts, then activities. A contact and its first activity created in the CRM
between the two streams (a form fill that creates the contact) reach the store as an activity
naming nobody known; the activities cursor then moves past it, and no later sync reads it
again. So it is held here, under the identity or email it names, and inserted when a contact
with that identity or email is stored (``release_held`` in hub/store/activities.py, called
wherever contacts are upserted). A row held :data:`HOLD_DAYS` days is dropped with a warning:
its contact never arrived (a record type the hub does not sync, a record deleted at once).

A forgotten person's activity is never held (the suppression list is checked first), and
``hub forget`` deletes what is held under their addresses and record ids (hub/forget.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, or_, select

from hub.models import Activity, ActivityType, Identity, normalize_email, utcnow
from hub.store import suppressions as suppression_store
from hub.store.batch import among, among_keys
from hub.store.schema import held_activities

log = logging.getLogger(__name__)

#: days a held activity waits for its contact before it is dropped
HOLD_DAYS = 30

Key = tuple[str, str]  # (source, external_id)
_KEY = (held_activities.c.source, held_activities.c.external_id)


def _ref(a: Activity) -> Identity | None:
    return a.contact_ref if a.contact_id is None else None


def hold(conn: Connection, items: Sequence[Activity], now: datetime | None = None) -> tuple[list[Key], int]:
    """Hold activities whose contact is unknown; returns the keys now held (new or already
    held: holding twice is one row, its first ``held_at`` kept) and how many were a forgotten
    person's (not held)."""
    if not items:
        return [], 0
    now = now or utcnow()
    digests: dict[Key, set[str]] = {}
    for a in items:
        ds = {suppression_store.identity_digest(r) for r in [_ref(a)] if r is not None}
        ds |= {d for d in [suppression_store.email_digest(a.contact_email)] if a.contact_email and d}
        digests[(a.source, a.external_id)] = ds
    forgotten = suppression_store.suppressed(conn, set().union(*digests.values()))
    kept = [a for a in items if not digests[(a.source, a.external_id)] & forgotten]
    keys = [(a.source, a.external_id) for a in kept]
    if not keys:
        return [], len(items)
    already = set(
        conn.execute(
            select(held_activities.c.source, held_activities.c.external_id).where(among_keys(conn, _KEY, keys))
        ).tuples()
    )
    rows = []
    for a in kept:
        if (a.source, a.external_id) in already:
            continue
        ref = _ref(a)
        rows.append(
            {
                "source": a.source,
                "external_id": a.external_id,
                "connector": ref.connector if ref else None,
                "object_type": ref.object_type if ref else None,
                "ref_id": ref.external_id if ref else None,
                "email": normalize_email(a.contact_email) if a.contact_email else None,
                "activity": {
                    "type": a.type.value,
                    "channel": a.channel,
                    "occurred_at": a.occurred_at.isoformat(),
                    "properties": a.properties,
                },
                "held_at": now,
            }
        )
    if rows:
        conn.execute(insert(held_activities), rows)
    return keys, len(items) - len(kept)


def _activity(r) -> Activity:
    body = r.activity
    ref = (
        Identity(connector=r.connector, object_type=r.object_type, external_id=r.ref_id)
        if r.ref_id is not None
        else None
    )
    return Activity(
        contact_ref=ref,
        contact_email=r.email,
        type=ActivityType(body["type"]),
        channel=body.get("channel"),
        occurred_at=datetime.fromisoformat(body["occurred_at"]),
        properties=body.get("properties") or {},
        source=r.source,
        external_id=r.external_id,
    )


def _naming(conn: Connection, identities: Iterable[tuple[str, str, str]], emails: Iterable[str]):
    """The condition: held rows naming one of these identities or (normalized) emails."""
    keys = sorted(set(identities))
    addresses = sorted({e for e in (normalize_email(x) for x in emails) if e})
    conds = []
    if keys:
        ref = (held_activities.c.connector, held_activities.c.object_type, held_activities.c.ref_id)
        conds.append(among_keys(conn, ref, keys))
    if addresses:
        conds.append(among(conn, held_activities.c.email, addresses))
    return or_(*conds) if conds else None


def naming(conn: Connection, identities: Iterable[tuple[str, str, str]], emails: Iterable[str]) -> list[Activity]:
    """Held activities naming one of these identities or emails (their contact may be stored now)."""
    cond = _naming(conn, identities, emails)
    if cond is None:
        return []
    return [_activity(r) for r in conn.execute(select(held_activities).where(cond))]


def drop(conn: Connection, keys: Sequence[Key]) -> None:
    if keys:
        conn.execute(delete(held_activities).where(among_keys(conn, _KEY, keys)))


def forget(conn: Connection, identities: Iterable[tuple[str, str, str]], emails: Iterable[str]) -> int:
    """Delete what is held under a forgotten person's record ids or addresses; returns the rows."""
    cond = _naming(conn, identities, emails)
    return 0 if cond is None else conn.execute(delete(held_activities).where(cond)).rowcount


def expire(conn: Connection, now: datetime | None = None, days: int = HOLD_DAYS) -> list[Key]:
    """Drop activities held longer than ``days``, each named in a warning; returns their keys."""
    limit = (now or utcnow()) - timedelta(days=days)
    old = list(
        conn.execute(
            select(held_activities.c.source, held_activities.c.external_id).where(held_activities.c.held_at < limit)
        ).tuples()
    )
    if old:
        drop(conn, old)
        for source, ext in old:
            log.warning("%s activity %s dropped after %d days held: its contact never arrived", source, ext, days)
    return old


def count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(held_activities)).scalar() or 0
