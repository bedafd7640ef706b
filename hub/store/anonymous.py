"""Events from visitors the hub cannot name yet, held until an identify event stitches them.

A row is kept after stitching with its ``contact_id`` set: it is the anonymous id's map to
the contact, so later events under the same anonymous id land on that contact directly.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, or_, select, update

from hub.models import Activity, ActivityType, normalize_email
from hub.store.contacts import aware
from hub.store.schema import activities, anonymous_events

SOURCE = "api"


def event_seen(conn: Connection, event_id: str) -> bool:
    held = conn.execute(select(anonymous_events.c.event_id).where(anonymous_events.c.event_id == event_id)).first()
    if held:
        return True
    stored = select(activities.c.id).where(activities.c.source == SOURCE, activities.c.external_id == event_id)
    return conn.execute(stored).first() is not None


def known_contact(conn: Connection, anonymous_id: str) -> int | None:
    q = (
        select(anonymous_events.c.contact_id)
        .where(anonymous_events.c.anonymous_id == anonymous_id, anonymous_events.c.contact_id.is_not(None))
        .limit(1)
    )
    return conn.execute(q).scalar()


def hold(conn: Connection, activity: Activity, anonymous_id: str | None, email: str | None, now: datetime) -> None:
    conn.execute(
        insert(anonymous_events).values(
            event_id=activity.external_id,
            anonymous_id=anonymous_id,
            email=normalize_email(email),
            type=activity.type.value,
            occurred_at=activity.occurred_at,
            properties=activity.properties,
            received_at=now,
        )
    )


def stitch(
    conn: Connection, contact_id: int, anonymous_id: str | None, email: str | None, now: datetime
) -> list[Activity]:
    """Claim held events of this visitor for ``contact_id``; returns them as activities to insert."""
    keys = []
    if anonymous_id:
        keys.append(anonymous_events.c.anonymous_id == anonymous_id)
    norm = normalize_email(email)
    if norm:
        keys.append(anonymous_events.c.email == norm)
    if not keys:
        return []
    rows = conn.execute(select(anonymous_events).where(anonymous_events.c.contact_id.is_(None), or_(*keys))).all()
    if not rows:
        return []
    conn.execute(
        update(anonymous_events)
        .where(anonymous_events.c.event_id.in_([r.event_id for r in rows]))
        .values(contact_id=contact_id, stitched_at=now)
    )
    return [
        Activity(
            contact_id=contact_id,
            type=ActivityType(r.type),
            channel="web",
            occurred_at=aware(r.occurred_at),
            properties=r.properties or {},
            source=SOURCE,
            external_id=r.event_id,
        )
        for r in rows
    ]


def remember(conn: Connection, anonymous_id: str, contact_id: int, event_id: str, now: datetime) -> None:
    """Map an anonymous id to its contact even when it had nothing held (an identify first)."""
    if known_contact(conn, anonymous_id) is not None:
        return
    conn.execute(
        insert(anonymous_events).values(
            event_id=f"identify:{event_id}",
            anonymous_id=anonymous_id,
            type=ActivityType.CUSTOM.value,
            occurred_at=now,
            properties={"identify": True},
            contact_id=contact_id,
            received_at=now,
            stitched_at=now,
        )
    )
