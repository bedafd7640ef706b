"""Attribute new activities to the decision that preceded them: the raw material of learning.

An activity counts for the newest decision on its contact made before it, if it falls within
that decision's attribution window: the chosen action's ``attribution_days`` for engine-logged
decisions (hub/store/learning.py), :data:`ATTRIBUTION_WINDOW` for the others. The reward
components are counts per activity type (plus ``revenue`` for a won deal's amount), and the
value of each declared outcome the activity is (``decision.outcomes``, hub/outcomes_spec.py;
within that outcome's own window if it sets one); the engine weights them when the window
closes (hub/pipeline/learn.py). An activity synced after its decision's window closed is
recorded but no longer changes that decision's reward.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from hub.config import DecisionSettings
from hub.mirrors import is_mirror
from hub.models import utcnow
from hub.outcomes_spec import DeclaredOutcome, declared_rewards, longest_window
from hub.pipeline.context import HubContext
from hub.store import Store
from hub.store import decisions as decision_store
from hub.store import learning as learning_store
from hub.store.contacts import aware
from hub.store.schema import activities, decisions

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


def record_outcomes(ctx: HubContext, activity_ids: Sequence[int]) -> int:
    return attribute(ctx.store, ctx.settings.decision, activity_ids)


def attribute(store: Store, decision: DecisionSettings, activity_ids: Sequence[int]) -> int:
    """Record what these stored activities add to the decisions before them; returns how many
    outcome rows were written (a sync, the API, the Segment input and the file imports)."""
    if not activity_ids:
        return 0
    longest = _longest_window(decision)
    declared = decision.outcomes
    with store.connect() as conn:
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
        contact_ids = {a.contact_id for a in acts}
        earliest = min(aware(a.occurred_at) for a in acts) - longest if acts else utcnow()
        decs = conn.execute(
            select(decisions.c.id, decisions.c.contact_id, decisions.c.created_at)
            .where(decisions.c.contact_id.in_(contact_ids), decisions.c.created_at >= earliest)
            .order_by(decisions.c.created_at, decisions.c.id)
        ).all()
        ends = learning_store.window_days(conn, [d.id for d in decs])
    by_contact: dict[int, list] = {}
    for d in decs:
        by_contact.setdefault(d.contact_id, []).append(d)
    rows = []
    now = utcnow()
    for a in acts:
        if is_mirror(a.properties):  # the event it repeats was attributed (hub/mirrors.py)
            continue
        at = aware(a.occurred_at)
        prior = [d for d in by_contact.get(a.contact_id, []) if aware(d.created_at) <= at]
        if not prior:
            continue
        d = prior[-1]
        end = ends.get(d.id) or aware(d.created_at) + ATTRIBUTION_WINDOW
        reward = attributed_reward(declared, a, aware(d.created_at), end)
        if reward:
            rows.append({"decision_id": d.id, "activity_id": a.id, "reward": reward, "created_at": now})
    with store.begin() as conn:
        return decision_store.insert_outcomes(conn, rows)
