"""Behavioural events from websites and apps, stored as activities.

Idempotent by event id (a resend answers ``duplicate``). An event names its person by email,
by a connector's record id, or by an anonymous visitor id; events the hub cannot attach to
a contact yet are held, and stitched when an event carries both the anonymous id and a
known email or record id, or when a sync, import or identify stores the person they name.
The anonymous id's contact is used only for an event that names nobody else. Events for a forgotten person (``hub forget``: their email or record
id is on the suppression list) are dropped, answered ``suppressed``. Stored events of the types in ``api.redecide_on`` get the
contact decided again through the dispatcher.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from hub.api.dispatch import BrokerUnavailable, Dispatcher
from hub.api.problems import Problem
from hub.api.schemas import BUILTIN_EVENT_TYPES, EventIdentity, EventIn, EventOut
from hub.models import Activity, ActivityType, Identity, utcnow
from hub.outcomes_spec import event_names
from hub.pipeline.context import HubContext
from hub.store import activities as activity_store
from hub.store import anonymous, lookup, suppressions

log = logging.getLogger(__name__)


@dataclass
class _Stored:
    suppressed: bool = False
    contact_id: int | None = None
    stitched: int = 0
    new_ids: list[int] = field(default_factory=list)


def _who(conn: Connection, who: EventIdentity, ident: Identity | None) -> int | None:
    """The contact the event names; the anonymous id's map only when it names nobody else (a
    shared browser's last user is not the new person an email or record id names)."""
    if ident is not None:
        found = lookup.contact_by_identity(conn, ident)
        if found is not None:
            return found
    if who.email is not None:
        found = lookup.contact_by_email(conn, who.email)
        if found is not None:
            return found
    if who.anonymous_id is not None and ident is None and who.email is None:
        return anonymous.known_contact(conn, who.anonymous_id)
    return None


def _hold_key(who: EventIdentity, ident: Identity | None) -> str | None:
    """Held under the anonymous id, unless it names a record and no email: then under the
    record, so that the browser's next user does not claim it."""
    if ident is not None and who.email is None:
        return anonymous.identity_key(ident)
    return who.anonymous_id


def check_type(ctx: HubContext, event: EventIn) -> None:
    """Built-in types and declared event names pass; anything else is a 422 naming both."""
    declared = event_names(ctx.settings.decision.outcomes)
    if event.type in BUILTIN_EVENT_TYPES or event.type in declared:
        return
    names = ", ".join(declared) if declared else "none (declare them under decision.outcomes in hub.yaml)"
    raise Problem(
        422,
        "Invalid request",
        f"type: {event.type!r} is neither a built-in type ({', '.join(BUILTIN_EVENT_TYPES)}) nor a declared"
        f" event name; declared: {names}",
        errors=[{"field": "type", "message": f"unknown event type {event.type!r}"}],
        declared=declared,
    )


def _activity(event: EventIn) -> Activity:
    props = dict(event.properties)
    builtin = event.type in BUILTIN_EVENT_TYPES
    if event.name or not builtin:
        props["name"] = event.name if builtin else event.type  # a declared event is a custom one by name
    return Activity(
        type=ActivityType(event.type) if builtin else ActivityType.CUSTOM,
        channel="web",
        occurred_at=event.occurred_at or utcnow(),
        properties=props,
        source=anonymous.SOURCE,
        external_id=event.event_id,
    )


def _store(ctx: HubContext, event: EventIn) -> _Stored | None:
    """Write the event (and anything it stitches) in one transaction; None if already seen."""
    now = utcnow()
    who = event.identity
    with ctx.store.begin() as conn:
        if anonymous.event_seen(conn, event.event_id):
            return None
        ext = who.external
        ident = Identity(connector=ext.connector, object_type=ext.object_type, external_id=ext.id) if ext else None
        if suppressions.is_suppressed(conn, who.email, ident):
            # a forgotten person: neither stored nor held (holding would keep their address)
            return _Stored(suppressed=True)
        act = _activity(event)
        cid = _who(conn, who, ident)
        if cid is None:
            anonymous.hold(conn, act, _hold_key(who, ident), who.email, now)
            return _Stored()
        act.contact_id = cid
        earlier = anonymous.stitch(conn, cid, who.anonymous_id, who.email, now)
        res = activity_store.insert_activities(conn, [act, *earlier])
        if who.anonymous_id:
            anonymous.remember(conn, who.anonymous_id, cid, event.event_id, now)
        return _Stored(contact_id=cid, stitched=len(earlier), new_ids=res.new_ids)


def ingest(ctx: HubContext, dispatch: Dispatcher, event: EventIn) -> EventOut:
    check_type(ctx, event)
    try:
        stored = _store(ctx, event)
    except IntegrityError:  # the same event id raced in on another request and won
        stored = None
    if stored is None:
        return EventOut(event_id=event.event_id, status="duplicate")
    if stored.suppressed:
        return EventOut(event_id=event.event_id, status="suppressed")
    if stored.contact_id is None:
        return EventOut(event_id=event.event_id, status="held")
    out = EventOut(event_id=event.event_id, status="stored", contact_id=stored.contact_id, stitched=stored.stitched)
    try:
        if stored.new_ids:
            dispatch.learn(stored.new_ids)
        if event.type in ctx.settings.api.redecide_on:
            key = hashlib.sha256(event.event_id.encode()).hexdigest()[:40]  # ids may outgrow the key column
            out.redecide = dispatch.decide(stored.contact_id, f"event-{key}")
    except BrokerUnavailable as exc:
        # the event is stored, and a resend would be a duplicate: say so rather than fail it;
        # the contact is decided again by its next sync or event
        log.warning("event %s stored, but not re-decided: %s", event.event_id, exc.detail)
        out.redecide = "unavailable"
    return out
