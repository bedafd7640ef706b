"""Real-time decisions: the configured policy over a stored profile plus the visitor's session.

The session context becomes a transient page-view activity, so rules and models see the
visit in progress without it being stored. The decision is recorded (for the timeline and
for attributing outcomes) under its own request key; it queues no pushes, because the
caller acts on the answer itself. The engine's newest snapshot is loaded before deciding (and
again whenever a newer one is saved), so the answer's ``policy_version`` names the model
that made it, as the decide workers' decisions do.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Connection

from decision.interface import ContactView
from hub.api.problems import Problem
from hub.api.schemas import ContactRef, SessionContext
from hub.governance.plan import policy_for
from hub.models import Activity, ActivityType, Contact, Decision, Identity, utcnow
from hub.pipeline.context import HubContext
from hub.pipeline.decide import LOOKBACK_DAYS
from hub.pipeline.learn import ensure_current
from hub.store import realtime as rt_store


def load_contact(conn: Connection, ref: ContactRef) -> Contact:
    """The contact ``ref`` names, read with its identities and emails in two statements, or a
    404 problem saying what was not found."""
    if ref.contact_id is not None:
        found = rt_store.load_contact(conn, ref.contact_id)
        if found is None:
            raise Problem(404, "Contact not found", f"no contact with id {ref.contact_id}")
        return found
    if ref.email is not None:
        found = rt_store.load_contact_by_email(conn, ref.email)
        if found is None:
            raise Problem(404, "Contact not found", "no contact with that email; it appears after its CRM syncs")
        return found
    assert ref.external is not None
    ident = Identity(
        connector=ref.external.connector, object_type=ref.external.object_type, external_id=ref.external.id
    )
    found = rt_store.load_contact_by_identity(conn, ident)
    if found is None:
        raise Problem(
            404, "Contact not found", f"no {ident.object_type} {ident.external_id!r} from {ident.connector!r}"
        )
    return found


def session_activity(contact_id: int, context: SessionContext, now: datetime) -> Activity:
    props = {
        k: v for k, v in (("page", context.page), ("campaign", context.campaign), ("referrer", context.referrer)) if v
    }
    return Activity(
        contact_id=contact_id,
        type=ActivityType.PAGE_VIEW,
        channel="web",
        occurred_at=now,
        properties={**context.properties, **props},
        source="session",
        external_id=f"session-{uuid.uuid4().hex}",
    )


def decide_now(ctx: HubContext, ref: ContactRef, context: SessionContext | None) -> Decision:
    from hub.pipeline.features import ensure_features

    now = utcnow()
    ensure_features(ctx)  # declared features' fitted state, loaded once per process
    with ctx.store.begin() as conn:  # one transaction: read the profile, record the decision
        contact = load_contact(conn, ref)
        contact_id = contact.id
        acts = rt_store.activities_since(conn, contact_id, now - timedelta(days=LOOKBACK_DAYS))
        if context is not None:
            acts.append(session_activity(contact_id, context, now))
        # the newest model, as decide workers use: one integer read, a reload when it moved on
        ensure_current(ctx, conn)
        policy = policy_for(ctx, conn).policy  # the legacy rules while the kill switch is on
        decision = policy.decide([ContactView(contact=contact, activities=acts)], now)[0]
        rt_store.relax_commit(conn)
        decision.id = rt_store.insert_decision(conn, decision, f"rt-{uuid.uuid4().hex}")
    return decision
