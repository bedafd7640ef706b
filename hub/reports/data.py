"""What the reports read from the store, as arrays: one row per decided contact, one per event.

A contact's arm is the arm of its first decision in the window (arms are stable per contact,
see decision/experiment.py), and only what happened *after* that first decision counts as an
outcome, so activity before the hub acted is not credited to any arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, and_, func, select

from decision.objective import COMPONENT
from hub.mirrors import is_mirror
from hub.store.contacts import aware
from hub.store.schema import activities, decisions

#: every activity type a business metric reads: the objective's components and the deal events
OUTCOME_TYPES = tuple(sorted({*COMPONENT, "opportunity_created", "opportunity_won", "opportunity_lost", "unsubscribe"}))


@dataclass(frozen=True)
class ArmFrame:
    """Decided contacts (``contact_id``, ``arm``, ``first_at`` epoch seconds) and their later
    events (``ev_row`` index into the contacts, ``ev_type``, ``ev_at``, ``ev_amount``).
    hub/reports/metrics.py turns them into the business metrics."""

    contact_id: np.ndarray
    arm: np.ndarray
    first_at: np.ndarray
    ev_row: np.ndarray
    ev_type: np.ndarray
    ev_at: np.ndarray
    ev_amount: np.ndarray

    @property
    def arms(self) -> list[str]:
        return sorted(set(self.arm.tolist()))


def _amount(props: dict | None) -> float:
    raw = (props or {}).get("amount", (props or {}).get("value", 0))
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return 0.0
    return v if np.isfinite(v) and v > 0 else 0.0


def load_arm_frame(conn: Connection, since: datetime | None = None, until: datetime | None = None) -> ArmFrame:
    """Contacts decided in ``[since, until)`` with their arm and their outcome events after it."""
    first = select(decisions.c.contact_id, func.min(decisions.c.created_at).label("first_at")).group_by(
        decisions.c.contact_id
    )
    if since is not None:
        first = first.where(decisions.c.created_at >= since)
    if until is not None:
        first = first.where(decisions.c.created_at < until)
    first_sq = first.subquery()
    rows = conn.execute(
        select(decisions.c.contact_id, decisions.c.arm, first_sq.c.first_at)
        .join(
            first_sq,
            and_(decisions.c.contact_id == first_sq.c.contact_id, decisions.c.created_at == first_sq.c.first_at),
        )
        .order_by(decisions.c.contact_id, decisions.c.id)
    ).all()
    seen: dict[int, int] = {}
    cids, arms, firsts = [], [], []
    for cid, arm, at in rows:
        if cid in seen:
            continue  # two decisions at the same instant: the first written wins
        seen[cid] = len(cids)
        cids.append(cid)
        arms.append(arm)
        firsts.append(_epoch(at))
    ev = conn.execute(
        select(activities.c.contact_id, activities.c.type, activities.c.occurred_at, activities.c.properties)
        .join(first_sq, activities.c.contact_id == first_sq.c.contact_id)
        .where(activities.c.occurred_at >= first_sq.c.first_at, activities.c.type.in_(OUTCOME_TYPES))
    ).all()
    ev = [e for e in ev if not is_mirror(e.properties)]  # one event seen through two systems (hub/mirrors.py)
    return ArmFrame(
        np.asarray(cids, dtype=np.int64),
        np.asarray(arms, dtype=str),
        np.asarray(firsts, dtype=float),
        np.asarray([seen[e.contact_id] for e in ev], dtype=np.int64),
        np.asarray([e.type for e in ev], dtype=str),
        np.asarray([_epoch(e.occurred_at) for e in ev], dtype=float),
        np.asarray([_amount(e.properties) for e in ev], dtype=float),
    )


def _epoch(ts: datetime) -> float:
    return aware(ts).timestamp()
