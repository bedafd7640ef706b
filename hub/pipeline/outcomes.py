"""Attribute new activities to the decision that preceded them: the raw material of learning.

An activity counts for the newest decision on its contact made within the attribution window
before it. The reward components are counts per activity type; the engine weights them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select

from hub.models import utcnow
from hub.pipeline.context import HubContext
from hub.store import decisions as decision_store
from hub.store.contacts import aware
from hub.store.schema import activities, decisions

ATTRIBUTION_WINDOW = timedelta(days=7)


def record_outcomes(ctx: HubContext, activity_ids: Sequence[int]) -> int:
    if not activity_ids:
        return 0
    with ctx.store.connect() as conn:
        acts = conn.execute(
            select(activities.c.id, activities.c.contact_id, activities.c.type, activities.c.occurred_at).where(
                activities.c.id.in_(list(activity_ids))
            )
        ).all()
        contact_ids = {a.contact_id for a in acts}
        earliest = min(aware(a.occurred_at) for a in acts) - ATTRIBUTION_WINDOW if acts else ctx.clock()
        decs = conn.execute(
            select(decisions.c.id, decisions.c.contact_id, decisions.c.created_at)
            .where(decisions.c.contact_id.in_(contact_ids), decisions.c.created_at >= earliest)
            .order_by(decisions.c.created_at)
        ).all()
    by_contact: dict[int, list] = {}
    for d in decs:
        by_contact.setdefault(d.contact_id, []).append(d)
    rows = []
    now = utcnow()
    for a in acts:
        at = aware(a.occurred_at)
        prior = [d for d in by_contact.get(a.contact_id, []) if at - ATTRIBUTION_WINDOW <= aware(d.created_at) <= at]
        if prior:
            rows.append({"decision_id": prior[-1].id, "activity_id": a.id, "reward": {a.type: 1.0}, "created_at": now})
    with ctx.store.begin() as conn:
        return decision_store.insert_outcomes(conn, rows)
