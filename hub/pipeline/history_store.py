"""The CRM's own send history as a touch log for :func:`hub.pipeline.history.warm_start`.

Marketing e-mail events synced from the CRM (HubSpot's e-mail events arrive as ``email_sent``,
``email_open``, ``email_click`` … activities with the campaign in ``properties.campaign``) are
past touches with their outcomes already in the store. Each send is one touch: its action is its
campaign (mapped to a catalog action with ``--map-action``), its reward the objective's worth of
the contact's responses after it, up to ``window_days`` later or the contact's next send,
whichever comes first (the same newest-touch attribution the pipeline uses for its own decisions).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import Connection, select

from decision.objective import COMPONENT, components, total
from hub.config import ObjectiveWeights
from hub.store.contacts import aware
from hub.store.schema import activities

SEND = "email_sent"


def touches_from_store(
    conn: Connection, weights: ObjectiveWeights, *, since: datetime | None = None, window_days: float = 7.0
) -> dict[str, np.ndarray]:
    """Columns ``contact`` (store id), ``action`` (campaign, ``""`` when unknown), ``time``,
    ``reward`` (objective points): one row per synced send."""
    kinds = [SEND, *COMPONENT]
    q = select(activities.c.contact_id, activities.c.type, activities.c.occurred_at, activities.c.properties).where(
        activities.c.type.in_(kinds), activities.c.contact_id.is_not(None)
    )
    if since is not None:
        q = q.where(activities.c.occurred_at >= since)
    per_contact: dict[int, list[tuple[datetime, str, dict]]] = defaultdict(list)
    for cid, kind, at, props in conn.execute(q.order_by(activities.c.contact_id, activities.c.occurred_at)):
        per_contact[cid].append((aware(at), kind, props or {}))
    window = timedelta(days=window_days)
    contact, action, time, reward = [], [], [], []
    for cid, rows in per_contact.items():
        sends = [i for i, (_, kind, _) in enumerate(rows) if kind == SEND]
        for n, i in enumerate(sends):
            at, _, props = rows[i]
            end = at + window
            if n + 1 < len(sends):
                end = min(end, rows[sends[n + 1]][0])
            outcomes = []
            for t, kind, _ in rows[i + 1 :]:
                if t > end:
                    break
                if kind != SEND and t > at:
                    outcomes.append({kind: 1.0})
            contact.append(str(cid))
            action.append(str(props.get("campaign") or ""))
            time.append(at)
            reward.append(total(components(outcomes), weights))
    return {
        "contact": np.array(contact, dtype=object),
        "action": np.array(action, dtype=object),
        "time": np.array(time, dtype=object),
        "reward": np.array(reward, dtype=float),
    }
