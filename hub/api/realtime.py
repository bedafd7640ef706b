"""Real-time decisions: the configured policy over a stored contact plus the visitor's session.

A contact is read as a decide worker reads it (hub/pipeline/decide.py): its stored profile (the
activity aggregates kept current as activities are stored), the hub's own decisions for it in
the last 7 days (touches ordered but not yet synced back count against the contact policy) and
today's sales handoffs per owner (the engine's budgets). So a contact gets the same features
from the API as from a decide batch, and a request costs the same whatever the length of its
history. The session context is folded into that profile as a transient page-view activity, so
rules and models see the visit in progress without it being stored. The decision is recorded
under its own request key, with the model's features in the learning log as a decide batch logs
them (outcomes are credited to a contact's latest decision, so the outcomes after a visit are
learned from). It queues no pushes, because the caller acts on the answer itself, so it is no
touch for the contact policy, no sales handoff and no update a change was owed
(hub/store/decisions.py ``from_batches``). The engine's newest snapshot is loaded before
deciding (and again whenever a newer one is saved), so the answer's ``policy_version`` names the
model that made it, as the decide workers' decisions do.

Which snapshot is newest, which kill switches are on, the declared tags a visit is folded with
and the handoffs made today change a few times a day (the handoffs with each decide batch), yet
reading them took most of a decision's statements. :class:`RealtimeDecider` re-reads them at
most every ``api.policy_refresh_seconds`` (1 s by default) per API process: a new model or a
flipped switch decides every real-time request within that time of being stored. The rest runs
on a connection the decider keeps (hub/store/realtime.py): one statement reads the contacts of a
whole batch (hub/api/batcher.py), and its decisions are recorded in one round trip (one pipelined
statement each on PostgreSQL).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection

from decision.interface import ContactView, Policy
from hub.api.problems import Problem
from hub.api.schemas import ContactRef, SessionContext
from hub.governance.plan import policy_for
from hub.models import Activity, ActivityType, Decision, Identity, utcnow
from hub.outcomes_spec import longest_window
from hub.pipeline.context import HubContext
from hub.pipeline.decide import freeze_heap, handoffs_today
from hub.pipeline.learn import ensure_current
from hub.profile import add_activity
from hub.store import realtime as rt_store
from hub.store.decisions import DECIDED_DAYS, REALTIME_KEY_PREFIX
from hub.store.feature_specs import load_tags

#: one real-time request: who, and the visit in progress
RealtimeRequest = tuple[ContactRef, SessionContext | None]


def lookup(ref: ContactRef) -> rt_store.Lookup:
    """What the store finds ``ref``'s contact by."""
    if ref.contact_id is not None:
        return ref.contact_id
    if ref.email is not None:
        return ref.email
    assert ref.external is not None
    return Identity(connector=ref.external.connector, object_type=ref.external.object_type, external_id=ref.external.id)


def not_found(ref: ContactRef) -> Problem:
    """The 404 problem for a contact ``ref`` names and the store does not hold, saying what was not found."""
    if ref.contact_id is not None:
        return Problem(404, "Contact not found", f"no contact with id {ref.contact_id}")
    if ref.email is not None:
        return Problem(404, "Contact not found", "no contact with that email; it appears after its CRM syncs")
    assert ref.external is not None
    ext = ref.external
    return Problem(404, "Contact not found", f"no {ext.object_type} {ext.id!r} from {ext.connector!r}")


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


def visit_view(
    found: rt_store.Found, context: SessionContext | None, now: datetime, tags: Sequence[dict] = ()
) -> ContactView:
    """What the policy sees of a stored contact during a visit: its profile with the visit folded
    in (with the store's declared ``tags``, as storing it would fold it), and its recent decisions."""
    contact, profile, decided = found
    if context is not None:
        add_activity(profile, session_activity(contact.id, context, now), tags)
    return ContactView(contact=contact, profile=profile, decided=decided)


class RealtimeDecider:
    """Real-time decisions of one API process: its store connection and its policy.

    The policy is the engine at its newest snapshot, or the legacy rules while the
    ``next_best_action`` kill switch is on, read from the store when ``refresh_seconds`` have
    passed since the last read (0: before every decision).
    """

    def __init__(self, ctx: HubContext, refresh_seconds: float):
        self.ctx, self.refresh_seconds = ctx, refresh_seconds
        self.connection = rt_store.HeldConnection(ctx.store.engine)
        self._policy: Policy | None = None
        self._tags: list[dict] = []  # the store's declared tags, which a visit is folded with
        self._used: dict[str, int] | None = None  # today's sales handoffs per owner (engine only)
        self._due = 0.0
        self._outcome_days = longest_window(ctx.settings.decision.outcomes)  # when a logged reward is final

    def policy(self, conn: Connection, now: datetime) -> Policy:
        """The policy, re-read with the tags and today's handoffs once ``refresh_seconds`` passed."""
        clock = time.monotonic()
        if self._policy is None or clock >= self._due:
            ensure_current(self.ctx, conn)  # one integer read; a reload when it moved on
            self._policy = policy_for(self.ctx, conn).policy
            self._tags = load_tags(conn)
            self._used = None
            if getattr(self._policy, "needs_profiles", False):  # the engine: its budgets, as a decide batch
                self._used = handoffs_today(self.ctx, conn, now)
            self._due = clock + self.refresh_seconds
        return self._policy

    def decide(self, ref: ContactRef, context: SessionContext | None) -> Decision:
        """Decide for one contact and record the decision: a batch of one (:meth:`decide_many`)."""
        result = self.decide_many([(ref, context)])[0]
        if isinstance(result, Problem):
            raise result
        return result

    def decide_many(self, requests: Sequence[RealtimeRequest]) -> list[Decision | Problem]:
        """Decide for each request, then record the decisions all at once (one write, atomic).

        One engine call decides the whole batch (its cost per row falls steeply with rows,
        see hub/api/batcher.py); a contact named twice is decided again in a second call, after
        the first. A request whose contact is not found gets its 404 problem in its place and
        the others go on; any other error fails the batch (rolled back, nothing recorded).

        The API calls this on its event loop, not in a worker thread: a decision is CPU work
        under the GIL, so threads run one at a time anyway, and the hop to a thread and back
        (futures, wake-ups, GIL hand-offs) cost 1.5 ms of CPU per request on top of ~4.5
        (bench/api_load.py, SQLite, 100 req/s, 2026-12-03, load 4). The price: a store wait
        (PostgreSQL's round trips, a locked SQLite file) holds the loop; more processes
        (``hub serve --workers N``) are the way to use more cores.
        """
        from hub.pipeline.features import ensure_features

        ctx = self.ctx
        now = utcnow()
        ensure_features(ctx)  # declared features' fitted state, loaded once per process
        out: list[Decision | Problem | None] = [None] * len(requests)
        with self.connection.begin() as conn:  # read the contacts, decide, record the decisions
            policy = self.policy(conn, now)
            rounds: list[list[tuple[int, ContactView]]] = []
            since = now - timedelta(days=DECIDED_DAYS)
            found = rt_store.profiles(conn, [lookup(ref) for ref, _ in requests], since)
            for i, ((ref, context), got) in enumerate(zip(requests, found, strict=True)):
                if got is None:
                    out[i] = not_found(ref)
                    continue
                view = visit_view(got, context, now, self._tags)
                free = next((r for r in rounds if all(v.contact.id != view.contact.id for _, v in r)), None)
                if free is None:
                    rounds.append(free := [])
                free.append((i, view))
            made: list[tuple[int, Decision]] = []
            for batch in rounds:
                views = [v for _, v in batch]
                decisions = (
                    policy.decide(views, now, self._used) if self._used is not None else policy.decide(views, now)
                )
                made.extend((i, d) for (i, _), d in zip(batch, decisions, strict=True))
            keyed = [(d, REALTIME_KEY_PREFIX + uuid.uuid4().hex) for _, d in made]
            for (i, d), new_id in zip(made, rt_store.record_decisions(conn, keyed, self._outcome_days), strict=True):
                d.id = new_id
                out[i] = d
        if rounds:
            freeze_heap()  # once, after the first decision: the model is loaded
        return out  # type: ignore[return-value]  # every slot is filled above

    def close(self) -> None:
        self.connection.close()
