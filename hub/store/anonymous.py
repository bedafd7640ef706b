"""Events from visitors the hub cannot name yet, held until an identify event stitches them.

A row is kept after stitching with its ``contact_id`` set: it is the anonymous id's map to
the contact, so later events under the same anonymous id land on that contact directly. The
newest map wins: a browser one person used and another signs in on is the second person's.

An event that names a person the hub does not know yet (an email, a record id, a Segment
userId) is held for that person, never for the anonymous id's last owner: under its email
(and anonymous id), or under :func:`identity_key` when it names no email. It is stitched
when an event names that person, or when a sync, import or identify stores them (``release``).
Every lookup of an event held for a record goes through :func:`identity_key`, as the writers
do: a long key is a hash, so the record id is not in the row to be found by its value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from hub.models import Activity, ActivityType, Contact, Identity, normalize_email
from hub.store.batch import among
from hub.store.contacts import aware, resolve_emails, resolve_identity_ids
from hub.store.schema import activities, anonymous_events

SOURCE = "api"
SEGMENT_USER = ("segment", "contact")  # a Segment userId's identity (hub/segment.py SOURCE)


def identity_key(ident: Identity) -> str:
    """The ``anonymous_id`` an event naming only this unknown record is held under:
    ``user:<userId>`` for a Segment user, else ``ref:`` and the identity (hashed if long)."""
    if (ident.connector, ident.object_type) == SEGMENT_USER:
        return f"user:{ident.external_id}"
    key = f"ref:{ident.connector}/{ident.object_type}/{ident.external_id}"
    return key if len(key) <= 120 else "ref:" + hashlib.sha256(key.encode()).hexdigest()


def forget(conn: Connection, records: Iterable[Identity], emails: Iterable[str], contact_id: int | None = None) -> int:
    """Delete what is held for a forgotten person: events under their addresses or their
    records' keys (whoever claimed them since), and with ``contact_id`` their visitor-id maps
    and stitched events; returns the rows. Keys come from :func:`identity_key`, never the raw
    id: a long one was held under its hash."""
    keys = sorted({identity_key(r) for r in records})
    addresses = sorted({e for e in (normalize_email(x) for x in emails) if e})
    conds = [anonymous_events.c.contact_id == contact_id] if contact_id is not None else []
    if keys:
        conds.append(among(conn, anonymous_events.c.anonymous_id, keys))
    if addresses:
        conds.append(among(conn, anonymous_events.c.email, addresses))
    return conn.execute(delete(anonymous_events).where(or_(*conds))).rowcount if conds else 0


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
        .order_by(anonymous_events.c.stitched_at.desc(), anonymous_events.c.received_at.desc())
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
    """Claim held events of this visitor for ``contact_id``; returns them as activities to insert.
    Under the anonymous id, only those naming no email or this one: an event that named
    someone else waits for them, whoever uses the browser next."""
    keys = []
    norm = normalize_email(email)
    if anonymous_id:
        keys.append(
            and_(
                anonymous_events.c.anonymous_id == anonymous_id,
                or_(anonymous_events.c.email.is_(None), anonymous_events.c.email == norm),
            )
        )
    if norm:
        keys.append(anonymous_events.c.email == norm)
    if not keys:
        return []
    rows = conn.execute(select(anonymous_events).where(anonymous_events.c.contact_id.is_(None), or_(*keys))).all()
    return _claim(conn, contact_id, rows, now)


def _claim(conn: Connection, contact_id: int, rows: Sequence, now: datetime) -> list[Activity]:
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


def release(conn: Connection, stored: Sequence[Contact], now: datetime) -> list[Activity]:
    """Held events naming one of ``stored`` (contacts just upserted by a sync, an import or an
    identify) by email or record id, claimed for the contact that is theirs now, with the
    anonymous history of their visitor ids, as :func:`stitch` would on an event naming them."""
    emails = sorted({e for c in stored for e in (normalize_email(x) for x in c.emails) if e})
    idents = {identity_key(i): i for c in stored for i in c.identities}
    conds = []
    if emails:
        conds.append(among(conn, anonymous_events.c.email, emails))
    if idents:
        conds.append(among(conn, anonymous_events.c.anonymous_id, sorted(idents)))
    if not conds:
        return []
    rows = conn.execute(select(anonymous_events).where(anonymous_events.c.contact_id.is_(None), or_(*conds))).all()
    if not rows:
        return []
    by_email = resolve_emails(conn, [r.email for r in rows if r.email])
    by_ident = resolve_identity_ids(conn, [idents[r.anonymous_id] for r in rows if r.anonymous_id in idents])
    out: list[Activity] = []
    claimed: set[str] = set()
    for r in rows:
        if r.event_id in claimed:
            continue  # claimed with an earlier row's visitor
        if r.email:
            cid = by_email.get(r.email)
        else:
            ident = idents.get(r.anonymous_id)
            cid = by_ident.get(ident.key()) if ident else None
        if cid is None:  # a record refused on its page, or a forgotten person's: still waiting
            continue
        if r.email and r.anonymous_id and r.anonymous_id not in idents:
            got = stitch(conn, cid, r.anonymous_id, r.email, now)
            # the visitor may have been someone else's since: only an unmapped one is theirs now
            remember(conn, r.anonymous_id, cid, f"release:{r.event_id}", now, repoint=False)
        else:
            got = _claim(conn, cid, [r], now)
        claimed.update(a.external_id for a in got)
        out += got
    return out


def remember(
    conn: Connection, anonymous_id: str, contact_id: int, event_id: str, now: datetime, repoint: bool = True
) -> None:
    """Map an anonymous id to its contact even when it had nothing held (an identify first).
    With ``repoint``, an id mapped to another contact is this one's from now on (the browser
    has a new user); without it, an id already mapped is left as it is."""
    known = known_contact(conn, anonymous_id)
    if known == contact_id or (known is not None and not repoint):
        return
    row_id = f"identify:{event_id}"
    if len(row_id) > anonymous_events.c.event_id.type.length:
        row_id = "identify:" + hashlib.sha256(event_id.encode()).hexdigest()
    conn.execute(
        insert(anonymous_events).values(
            event_id=row_id,
            anonymous_id=anonymous_id,
            type=ActivityType.CUSTOM.value,
            occurred_at=now,
            properties={"identify": True},
            contact_id=contact_id,
            received_at=now,
            stitched_at=now,
        )
    )
