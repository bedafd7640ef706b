"""Store parsed Segment messages: a batch in one transaction, each message idempotent by its key.

identify: the traits become the person's record in the ``segment`` source (``userId`` is its
id; an email trait joins it to the same person's CRM records), then events held for its
``anonymousId`` (and its ``userId``, if events came before the identify) are stitched onto the
contact. track / page: an activity on the contact the ``userId`` or email trait names, or
(naming neither) the contact its ``anonymousId`` was last stitched to; else held (under the
userId if it names one) until an identify, sync or import stores the person. Forgotten people
(``hub forget``) are dropped, as with ``/v1/events``.

A batch is one transaction: one upsert of its identify records, one insert of its activities
and one attribution of their outcomes. A message the store cannot hold (a trait too long) is
refused before anything of it is written, so the rest of the batch stays. If another request
stores one of the same messages first, the batch is stored again one message at a time, so
only that message is a duplicate.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from hub.api.dispatch import BrokerUnavailable, Dispatcher
from hub.models import Activity, Identity, utcnow
from hub.pipeline.context import HubContext
from hub.segment import SOURCE, Message, MessageError, activity_of, contact_of
from hub.store import activities as activity_store
from hub.store import anonymous, lookup, suppressions
from hub.store.contacts import upsert_contacts
from hub.store.limits import contact_problems
from hub.store.schema import segment_messages

log = logging.getLogger(__name__)

Status = Literal["stored", "held", "identified", "ignored", "duplicate", "suppressed"]


@dataclass
class Stored:
    status: Status
    contact_id: int | None = None
    activity_type: str | None = None


def _user(m: Message) -> Identity | None:
    return Identity(connector=SOURCE, object_type="contact", external_id=m.user_id) if m.user_id else None


def _who(conn: Connection, m: Message) -> int | None:
    """The contact the userId or email names; the anonymousId's only when it names no one
    else (a new person on a shared browser is not its last user)."""
    ident = _user(m)
    found = lookup.contact_by_identity(conn, ident) if ident else None
    if found is None and m.email:
        found = lookup.contact_by_email(conn, m.email)
    if found is None and m.anonymous_id and ident is None and not m.email:
        found = anonymous.known_contact(conn, m.anonymous_id)
    return found


def _stitch(conn: Connection, m: Message, cid: int, identify: bool) -> list[Activity]:
    """Held events of this visitor, now the contact's. Events held under the userId itself
    (sent before its identify) are claimed by the identify; later events find the contact."""
    now = utcnow()
    user = _user(m)
    user_key = anonymous.identity_key(user) if identify and user else None
    earlier = anonymous.stitch(conn, cid, m.anonymous_id, m.email, now) if m.anonymous_id or m.email else []
    if user_key:
        earlier += anonymous.stitch(conn, cid, user_key, None, now)
    for key in filter(None, (m.anonymous_id, user_key)):
        mark = hashlib.sha256(f"{m.key}|{key}".encode()).hexdigest()[:48]
        anonymous.remember(conn, key, cid, f"{SOURCE}:{mark}", now)
    return earlier


def _upsert_people(conn: Connection, messages: Sequence[Message]) -> tuple[dict[str, MessageError], list[int]]:
    """The batch's identify records in one upsert (before its events, which may name them);
    returns the messages refused because the store cannot hold a trait, and the ids of CRM
    activities that were held for these people (hub/store/held.py) and are stored now."""
    people, refused = [], {}
    for m in messages:
        contact = contact_of(m) if m.type == "identify" else None
        if contact is None:
            continue
        problems = contact_problems(contact)
        if problems:
            refused[m.key] = MessageError("; ".join(f"traits: {f} {why}" for f, why in problems))
        else:
            people.append(contact)
    # a forgotten person's record is not stored (and answered below); an identify older than
    # the stored one (a retry, an import of history) only fills what the newer left empty
    upsert_contacts(conn, people, keep_newer=True)
    return refused, activity_store.release_held(conn, people).new_ids


def _identify(conn: Connection, m: Message) -> tuple[Stored, list[Activity]]:
    cid = _who(conn, m)
    if cid is None:
        return Stored("ignored"), []  # an anonymousId with no userId and no email names nobody yet
    return Stored("identified", cid), _stitch(conn, m, cid, identify=True)


def _event(conn: Connection, m: Message) -> tuple[Stored, list[Activity]]:
    act = activity_of(m)
    if act is None:
        raise MessageError(f"a {m.type} message makes no event")  # unreachable: track, page, screen do
    cid = _who(conn, m)
    if cid is None:
        # under the userId if it names one: its events wait for that user, not the browser's next
        user = _user(m)
        key = anonymous.identity_key(user) if user else m.anonymous_id
        anonymous.hold(conn, act.model_copy(update={"external_id": f"{SOURCE}:{m.key}"}), key, m.email, utcnow())
        return Stored("held", activity_type=act.type.value), []
    act.contact_id = cid
    return Stored("stored", cid, act.type.value), [act, *_stitch(conn, m, cid, identify=False)]


Result = Stored | MessageError


def _store_all(ctx: HubContext, messages: Sequence[Message]) -> tuple[list[Result], list[int]]:
    """Store in one transaction; returns a result per message and the new activity ids."""
    results: list[Result] = []
    pending: list[Activity] = []
    done: list[dict] = []
    now = utcnow()
    with ctx.store.begin() as conn:
        keys = list({m.key for m in messages})
        seen = set(
            conn.execute(select(segment_messages.c.message_id).where(segment_messages.c.message_id.in_(keys))).scalars()
        )
        refused, released = _upsert_people(conn, [m for m in messages if m.key not in seen])
        for m in messages:
            if m.key in seen:
                results.append(Stored("duplicate"))
                continue
            if suppressions.is_suppressed(conn, m.email, _user(m)):
                results.append(Stored("suppressed"))  # neither stored nor held: holding would keep their data
                continue
            if m.key in refused:
                results.append(refused[m.key])
                continue
            try:
                out, acts = _identify(conn, m) if m.type == "identify" else _event(conn, m)
            except MessageError as exc:
                results.append(exc)
                continue
            seen.add(m.key)
            pending += acts
            done.append({"message_id": m.key, "type": m.type, "received_at": now})
            results.append(out)
        if done:
            conn.execute(insert(segment_messages), done)
        new_ids = released + activity_store.insert_activities(conn, pending).new_ids
    return results, new_ids


def store_messages(
    ctx: HubContext, dispatch: Dispatcher, messages: Sequence[Message], redecide: bool = True
) -> list[Result]:
    """Store messages; then hand new activities to learning once and decide again, once per
    contact, where an event type asks for it (``redecide`` False for an import of history)."""
    try:
        results, new_ids = _store_all(ctx, messages)
    except IntegrityError:  # a concurrent request stored one of these first: find which
        results, new_ids = [], []
        for m in messages:
            try:
                one, ids = _store_all(ctx, [m])
            except IntegrityError:
                one, ids = [Stored("duplicate")], []
            results += one
            new_ids += ids
    again = {
        r.contact_id: m.key
        for m, r in zip(messages, results, strict=True)
        if redecide and isinstance(r, Stored) and r.contact_id and r.activity_type in ctx.settings.api.redecide_on
    }
    try:
        if new_ids:
            dispatch.learn(new_ids)
        for cid, key in again.items():
            dispatch.decide(cid, f"segment-{hashlib.sha256(key.encode()).hexdigest()[:40]}")
    except BrokerUnavailable as exc:
        # stored; a resend would be a duplicate, so say it in the log rather than fail it
        log.warning("segment messages stored, but not passed on: %s", exc.detail)
    return results
