"""Attribute new activities to the decision that preceded them: the raw material of learning.

An activity counts for the newest decision on its contact made before it, if it falls within
that decision's attribution window: the chosen action's ``attribution_days`` for engine-logged
decisions (hub/store/learning.py), :data:`ATTRIBUTION_WINDOW` for the others. The reward
components are counts per activity type (plus ``revenue`` for a won deal's amount); the
engine weights them when the window closes (hub/pipeline/learn.py). An activity synced after
its decision's window closed is recorded but no longer changes that decision's reward.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select

from hub.models import utcnow
from hub.pipeline.context import HubContext
from hub.store import decisions as decision_store
from hub.store import learning as learning_store
from hub.store.contacts import aware
from hub.store.schema import activities, decisions

ATTRIBUTION_WINDOW = timedelta(days=7)


def _longest_window(ctx: HubContext) -> timedelta:
    days = [a.attribution_days for a in ctx.settings.decision.actions]
    return max([ATTRIBUTION_WINDOW, *(timedelta(days=d) for d in days)])


def reward_of(activity_type: str, properties: dict) -> dict[str, float]:
    """``{type: 1}``, plus the deal amount for a won opportunity."""
    out = {activity_type: 1.0}
    if activity_type == "opportunity_won":
        with contextlib.suppress(TypeError, ValueError):
            out["revenue"] = float((properties or {}).get("amount") or 0.0)
    return out


def record_outcomes(ctx: HubContext, activity_ids: Sequence[int]) -> int:
    if not activity_ids:
        return 0
    longest = _longest_window(ctx)
    with ctx.store.connect() as conn:
        acts = conn.execute(
            select(
                activities.c.id,
                activities.c.contact_id,
                activities.c.type,
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
        at = aware(a.occurred_at)
        prior = [d for d in by_contact.get(a.contact_id, []) if aware(d.created_at) <= at]
        if not prior:
            continue
        d = prior[-1]
        end = ends.get(d.id) or aware(d.created_at) + ATTRIBUTION_WINDOW
        if at <= end:
            rows.append(
                {"decision_id": d.id, "activity_id": a.id, "reward": reward_of(a.type, a.properties), "created_at": now}
            )
    with ctx.store.begin() as conn:
        return decision_store.insert_outcomes(conn, rows)
