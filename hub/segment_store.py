"""Store parsed Segment messages: each in one transaction, idempotent by its key.

identify: the traits become the person's record in the ``segment`` source (``userId`` is its
id; an email trait joins it to the same person's CRM records), then events held for its
``anonymousId`` (and its ``userId``, if events came before the identify) are stitched onto the
contact. track / page: an activity on the contact the ``userId``, email trait or a stitched
``anonymousId`` names; held until an identify names the person otherwise. Forgotten people
(``hub forget``) are dropped, as with ``/v1/events``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from hub.api.dispatch import BrokerUnavailable, Dispatcher
from hub.models import Identity, utcnow
from hub.pipeline.context import HubContext
from hub.segment import SOURCE, Message, MessageError, activity_of, contact_of
from hub.store import activities as activity_store
from hub.store import anonymous, lookup, suppressions
from hub.store.contacts import upsert_contacts
from hub.store.schema import segment_messages

log = logging.getLogger(__name__)

Status = Literal["stored", "held", "identified", "ignored", "duplicate", "suppressed"]


@dataclass
class Stored:
    status: Status
    contact_id: int | None = None
    new_ids: list[int] = field(default_factory=list)
    activity_type: str | None = None


def _user(m: Message) -> Identity | None:
    return Identity(connector=SOURCE, object_type="contact", external_id=m.user_id) if m.user_id else None


def _who(conn: Connection, m: Message) -> int | None:
    ident = _user(m)
    found = lookup.contact_by_identity(conn, ident) if ident else None
    if found is None and m.email:
        found = lookup.contact_by_email(conn, m.email)
    if found is None and m.anonymous_id:
        found = anonymous.known_contact(conn, m.anonymous_id)
    return found


def _stitch(conn: Connection, m: Message, cid: int) -> list:
    now = utcnow()
    earlier = anonymous.stitch(conn, cid, m.anonymous_id, m.email, now)
    if m.user_id:
        earlier += anonymous.stitch(conn, cid, f"user:{m.user_id}", None, now)
    for key in filter(None, (m.anonymous_id, f"user:{m.user_id}" if m.user_id else None)):
        mark = hashlib.sha256(f"{m.key}|{key}".encode()).hexdigest()[:48]
        anonymous.remember(conn, key, cid, f"{SOURCE}:{mark}", now)
    return earlier


def _identify(conn: Connection, m: Message) -> Stored:
    contact = contact_of(m)
    if contact is not None:
        up = upsert_contacts(conn, [contact])
        if up.rejects:
            raise MessageError("; ".join(r.reason for r in up.rejects))
        if up.suppressed:
            return Stored("suppressed")
    cid = _who(conn, m)
    if cid is None:
        return Stored("ignored")  # an anonymousId with no userId and no email names nobody yet
    res = activity_store.insert_activities(conn, _stitch(conn, m, cid))
    return Stored("identified", cid, res.new_ids)


def _event(conn: Connection, m: Message) -> Stored:
    act = activity_of(m)
    assert act is not None  # track, page and screen always make one
    cid = _who(conn, m)
    if cid is None:
        anonymous.hold(conn, act.model_copy(update={"external_id": f"{SOURCE}:{m.key}"}), m.hold_key, m.email, utcnow())
        return Stored("held", activity_type=act.type.value)
    act.contact_id = cid
    res = activity_store.insert_activities(conn, [act, *_stitch(conn, m, cid)])
    return Stored("stored", cid, res.new_ids, act.type.value)


def _store(ctx: HubContext, m: Message) -> Stored:
    with ctx.store.begin() as conn:
        seen = conn.execute(select(segment_messages.c.message_id).where(segment_messages.c.message_id == m.key))
        if seen.first() is not None:
            return Stored("duplicate")
        if suppressions.is_suppressed(conn, m.email, _user(m)):
            return Stored("suppressed")  # neither stored nor held: holding would keep their data
        out = _identify(conn, m) if m.type == "identify" else _event(conn, m)
        conn.execute(insert(segment_messages).values(message_id=m.key, type=m.type, received_at=utcnow()))
        return out


def store_message(ctx: HubContext, dispatch: Dispatcher, m: Message, redecide: bool = True) -> Stored:
    """Store one message; then hand new activities to learning and decide again where asked
    (``redecide`` False for an import of history: old events are no reason to act now)."""
    try:
        stored = _store(ctx, m)
    except IntegrityError:  # the same message raced in on another request and won
        return Stored("duplicate")
    try:
        if stored.new_ids:
            dispatch.learn(stored.new_ids)
        if redecide and stored.contact_id and stored.activity_type in ctx.settings.api.redecide_on:
            dispatch.decide(stored.contact_id, f"segment-{hashlib.sha256(m.key.encode()).hexdigest()[:40]}")
    except BrokerUnavailable as exc:
        # stored; a resend would be a duplicate, so say it in the log rather than fail it
        log.warning("segment message stored, but not passed on: %s", exc.detail)
    return stored
