"""Attribute new activities to the decision that preceded them: the raw material of learning.

An activity counts for the newest decision on its contact made before it that acted (carried
out, and not a wait) and whose attribution window is open at the activity's time; when there is
none, for the newest decision made before it (:func:`credited_decision`), if it falls within that
decision's window. A window is the chosen action's ``attribution_days`` for engine-logged
decisions (hub/store/learning.py), :data:`ATTRIBUTION_WINDOW` for the others. The reward
components are counts per activity type (plus ``revenue`` for a won deal's amount), and the
value of each declared outcome the activity is (``decision.outcomes``, hub/outcomes_spec.py;
within that outcome's own window if it sets one); the engine weights them when the window
closes (hub/pipeline/learn.py). An activity synced after its decision's window closed is
recorded but no longer changes that decision's reward.

Every stored activity is owed credit until credited: its id is written to
``unattributed_activities`` in its insert's transaction and deleted in the transaction that
credits it, so an activity whose ids never reached a learn message is credited by the next one.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Delete, delete, select

from hub.config import DecisionSettings
from hub.mirrors import is_mirror
from hub.models import utcnow
from hub.outcomes_spec import DeclaredOutcome, declared_rewards, longest_window
from hub.pipeline.context import HubContext
from hub.store import Store
from hub.store import decisions as decision_store
from hub.store import learning as learning_store
from hub.store.contacts import aware
from hub.store.schema import activities, unattributed_activities

ATTRIBUTION_WINDOW = timedelta(days=7)


def _longest_window(decision: DecisionSettings) -> timedelta:
    days = [a.attribution_days for a in decision.actions]
    days.append(longest_window(decision.outcomes) or 0.0)
    return max([ATTRIBUTION_WINDOW, *(timedelta(days=d) for d in days)])


def reward_of(activity_type: str, properties: dict) -> dict[str, float]:
    """``{type: 1}``, plus the deal amount for a won opportunity."""
    out = {activity_type: 1.0}
    if activity_type == "opportunity_won":
        with contextlib.suppress(TypeError, ValueError):
            amount = float((properties or {}).get("amount") or 0.0)
            out["revenue"] = amount if math.isfinite(amount) else 0.0  # "NaN", "inf", "1e400": no amount
    return out


def attributed_reward(
    declared: Sequence[DeclaredOutcome], act, decided_at: datetime, action_end: datetime
) -> dict[str, float]:
    """What one activity adds to the reward of the decision made at ``decided_at`` (empty: nothing).

    The built-in counts within the action's window; each declared outcome within its own
    ``attribution_days`` if set, else the action's."""
    at = aware(act.occurred_at)
    row = reward_of(act.type, act.properties) if at <= action_end else {}
    for outcome, value in declared_rewards(declared, act.type, act.channel, act.properties or {}):
        days = outcome.attribution_days
        end = decided_at + timedelta(days=days) if days is not None else action_end
        if at <= end:
            row[outcome.name] = row.get(outcome.name, 0.0) + value
    return row


#: activities credited per transaction when catching up on those no message brought
OWED_BATCH = 1000
#: at most this many per call, so one learn task stays short; the next goes on where it stopped
OWED_PER_CALL = 20_000


def record_outcomes(ctx: HubContext, activity_ids: Sequence[int]) -> int:
    """Credit ``activity_ids`` now, then every stored activity still owed credit; returns the
    outcome rows written.

    The ids are a hint, not the record: a ``hub.learn`` message can be lost (a worker killed
    mid-sync, a broker down at publish time, a store away past the task's retries), and the
    store keeps what is owed (``unattributed_activities``), so the next learn credits it."""
    n = attribute(ctx.store, ctx.settings.decision, activity_ids)
    return n + attribute_owed(ctx.store, ctx.settings.decision)


def attribute(store: Store, decision: DecisionSettings, activity_ids: Sequence[int]) -> int:
    """Record what these stored activities add to the decisions before them; returns how many
    outcome rows were written (a sync, the API, the Segment input and the file imports)."""
    if not activity_ids:
        return 0
    with store.begin() as conn:
        # first: takes them off what is owed, and waits for a concurrent credit of the same ids,
        # so its outcomes are seen below (uq_outcome would refuse them twice)
        _claim(conn, delete(unattributed_activities).where(unattributed_activities.c.activity_id.in_(activity_ids)))
        return _credit(conn, decision, activity_ids)


def attribute_owed(store: Store, decision: DecisionSettings, limit: int = OWED_PER_CALL) -> int:
    """Credit stored activities no caller handed over (oldest first, up to ``limit``)."""
    owed = unattributed_activities.c.activity_id
    with store.connect() as conn:
        if conn.execute(select(owed).limit(1)).first() is None:  # the usual case: no write at all
            return 0
    written = done = 0
    while done < limit:
        with store.begin() as conn:
            # a write first (SQLite then holds the write lock before it reads); concurrent
            # callers each get their own rows: a row another took is skipped, not credited twice
            batch = select(owed).order_by(owed).limit(OWED_BATCH).scalar_subquery()
            ids = _claim(conn, delete(unattributed_activities).where(owed.in_(batch)))
            if not ids:
                return written
            written += _credit(conn, decision, ids)
        done += len(ids)
    return written


def _claim(conn: Connection, stmt: Delete) -> list[int]:
    """Run a DELETE of ``unattributed_activities`` rows; the ids it took."""
    return list(conn.execute(stmt.returning(unattributed_activities.c.activity_id)).scalars())


def _credit(conn: Connection, decision: DecisionSettings, activity_ids: Sequence[int]) -> int:
    longest = _longest_window(decision)
    declared = decision.outcomes
    acts = conn.execute(
        select(
            activities.c.id,
            activities.c.contact_id,
            activities.c.type,
            activities.c.channel,
            activities.c.occurred_at,
            activities.c.properties,
        ).where(activities.c.id.in_(list(activity_ids)))
    ).all()
    contact_ids = sorted({a.contact_id for a in acts})
    earliest = min(aware(a.occurred_at) for a in acts) - longest if acts else utcnow()
    by_contact: dict[int, list[learning_store.PriorDecision]] = {}
    for d in learning_store.decisions_since(conn, contact_ids, earliest):
        by_contact.setdefault(d.contact_id, []).append(d)
    kinds = {a.id: a.kind for a in decision.actions}
    rows = []
    now = utcnow()
    for a in acts:
        if is_mirror(a.properties):  # the event it repeats was attributed (hub/mirrors.py)
            continue
        at = aware(a.occurred_at)
        prior = [d for d in by_contact.get(a.contact_id, []) if d.created_at <= at]
        if not prior:
            continue
        d = credited_decision(prior, at, kinds)
        reward = attributed_reward(declared, a, d.created_at, _window_end(d))
        if reward:
            rows.append({"decision_id": d.id, "activity_id": a.id, "reward": reward, "created_at": now})
    return decision_store.insert_outcomes(conn, rows)


def _window_end(d: learning_store.PriorDecision) -> datetime:
    return d.window_ends_at or d.created_at + ATTRIBUTION_WINDOW


def acted(d: learning_store.PriorDecision, kinds: dict[str, str]) -> bool:
    """Whether ``d`` did something to the contact: it was carried out
    (:func:`hub.store.learning.carried_out`) and chose no wait (the catalog's ``kind: wait``;
    an id the catalog no longer lists waits only if it is ``wait``). A decision the engine did
    not log (the rules policy's) acted if it wrote anything."""
    if not d.carried_out:
        return False
    if d.action is None:
        return d.writes
    return kinds.get(d.action, d.action) != "wait"


def credited_decision(
    prior: Sequence[learning_store.PriorDecision], at: datetime, kinds: dict[str, str]
) -> learning_store.PriorDecision:
    """The decision an activity at ``at`` is credited to, among ``prior`` (its contact's
    decisions made by ``at``, oldest first): the newest that :func:`acted` and whose own window
    is open at ``at`` (last touch among actions, as e-mail platforms attribute a conversion to
    the last message sent within its window); when none did, the newest.

    The newest alone was the rule before: the CRM's echo of the hub's own e-mail is a change, so
    the contact is decided again within the hour (mostly ``wait``), and that wait took every
    response to the e-mail (on the demo store 1,035 of 1,048 e-mail windows were cut to about a day)."""
    for d in reversed(prior):
        if at <= _window_end(d) and acted(d, kinds):
            return d
    return prior[-1]
