"""Real-time decisions: the configured policy over a stored profile plus the visitor's session.

The session context becomes a transient page-view activity, so rules and models see the
visit in progress without it being stored. The decision is recorded (for the timeline and
for attributing outcomes) under its own request key; it queues no pushes, because the
caller acts on the answer itself. The engine's newest snapshot is loaded before deciding (and
again whenever a newer one is saved), so the answer's ``policy_version`` names the model
that made it, as the decide workers' decisions do.

Which snapshot is newest and which kill switches are on change a few times a day, yet reading
them is two of a decision's six statements. :class:`CurrentPolicy` re-reads them at most every
``api.policy_refresh_seconds`` (1 s by default) per API process: a new model or a flipped
switch decides every real-time request within that time of being stored.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Connection

from decision.interface import ContactView, Policy
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


class CurrentPolicy:
    """The policy to decide with: the engine at its newest snapshot, or the legacy rules while
    the ``next_best_action`` kill switch is on; read from the store when ``refresh_seconds``
    have passed since the last read (0: every time)."""

    def __init__(self, ctx: HubContext, refresh_seconds: float):
        self.ctx, self.refresh_seconds = ctx, refresh_seconds
        self._policy: Policy | None = None
        self._due = 0.0

    def get(self, conn: Connection) -> Policy:
        now = time.monotonic()
        if self._policy is None or now >= self._due:
            ensure_current(self.ctx, conn)  # one integer read; a reload when it moved on
            self._policy = policy_for(self.ctx, conn).policy
            self._due = now + self.refresh_seconds
        return self._policy


def decide_now(ctx: HubContext, ref: ContactRef, context: SessionContext | None, current: CurrentPolicy) -> Decision:
    """Decide for one contact and record the decision, in one transaction.

    The API calls this on its event loop, not in a worker thread: a decision is CPU work under
    the GIL, so threads run one at a time anyway, and the hop to a thread and back (futures,
    wake-ups, GIL hand-offs) cost 1.5 ms of CPU per request on top of ~4.5 (bench/api_load.py,
    SQLite, 100 req/s, 2026-12-03, load 4). The price is that a store wait (PostgreSQL's round
    trips, ~0.5 ms a decision on loopback; a locked SQLite file) holds the loop; more
    processes (``hub serve --workers N``) are the way to use more cores.
    """
    from hub.pipeline.features import ensure_features

    now = utcnow()
    ensure_features(ctx)  # declared features' fitted state, loaded once per process
    with ctx.store.begin() as conn:  # one transaction: read the profile, record the decision
        contact = load_contact(conn, ref)
        contact_id = contact.id
        acts = rt_store.activities_since(conn, contact_id, now - timedelta(days=LOOKBACK_DAYS))
        if context is not None:
            acts.append(session_activity(contact_id, context, now))
        policy = current.get(conn)
        decision = policy.decide([ContactView(contact=contact, activities=acts)], now)[0]
        rt_store.relax_commit(conn)
        decision.id = rt_store.insert_decision(conn, decision, f"rt-{uuid.uuid4().hex}")
    return decision
