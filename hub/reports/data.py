"""What the reports read from the store, as arrays: one row per decided contact, one per event.

A contact's arm is the arm of its first decision in the window (arms are stable per contact,
see decision/experiment.py), and only what happened *after* that first decision counts as an
outcome, so activity before the hub acted is not credited to any arm. What each contact did in
the ``PRE_DAYS`` before it is read too, as the covariate of the CUPED adjustment
(hub/reports/lift.py): it was fixed before assignment, so it can only explain noise, never the
treatment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import ColumnElement, Connection, Row, Subquery, and_, func, select

from decision.objective import COMPONENT
from hub.mirrors import is_mirror
from hub.opportunities import is_implied
from hub.outcomes_spec import DeclaredOutcome, declared_rewards
from hub.store.contacts import aware
from hub.store.schema import activities, decisions

#: every activity type a business metric reads: the objective's components and the deal events
OUTCOME_TYPES = tuple(sorted({*COMPONENT, "opportunity_created", "opportunity_won", "opportunity_lost", "unsubscribe"}))
#: days before each contact's first decision whose events are its pre-period covariate
PRE_DAYS = 28


def _empty(dtype: type) -> np.ndarray:
    return np.zeros(0, dtype=dtype)


@dataclass(frozen=True)
class ArmFrame:
    """Decided contacts (``contact_id``, ``arm``, ``first_at`` epoch seconds) and their later
    events (``ev_row`` index into the contacts, ``ev_type``, ``ev_at``, ``ev_amount``), and the
    same for their events in the ``PRE_DAYS`` before ``first_at`` (``pre_*``; none when the
    store holds no history). hub/reports/metrics.py turns them into the business metrics."""

    contact_id: np.ndarray
    arm: np.ndarray
    first_at: np.ndarray
    ev_row: np.ndarray
    ev_type: np.ndarray
    ev_at: np.ndarray
    ev_amount: np.ndarray
    pre_row: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    pre_type: np.ndarray = field(default_factory=lambda: _empty(str))
    pre_at: np.ndarray = field(default_factory=lambda: _empty(float))
    pre_amount: np.ndarray = field(default_factory=lambda: _empty(float))
    #: per declared outcome (``decision.outcomes``) its value at each event (0 where the event is
    #: not that outcome), as the learner credits it (hub/pipeline/outcomes.py)
    ev_declared: dict[str, np.ndarray] = field(default_factory=dict)
    pre_declared: dict[str, np.ndarray] = field(default_factory=dict)
    #: per event: an opening implied by a closing (hub/opportunities.py), dated at the close
    #: because when it opened is not known; None: no event is
    ev_implied: np.ndarray | None = None
    pre_implied: np.ndarray | None = None

    @property
    def arms(self) -> list[str]:
        return sorted(set(self.arm.tolist()))

    def pre_period(self) -> ArmFrame:
        """The same contacts with their pre-period events as events, from ``PRE_DAYS`` before
        their first decision: the metrics of hub/reports/metrics.py over it are the covariates."""
        start = self.first_at - PRE_DAYS * 86400.0
        return ArmFrame(
            self.contact_id,
            self.arm,
            start,
            self.pre_row,
            self.pre_type,
            self.pre_at,
            self.pre_amount,
            ev_declared=self.pre_declared,
            ev_implied=self.pre_implied,
        )


def _amount(props: dict | None) -> float:
    raw = (props or {}).get("amount", (props or {}).get("value", 0))
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return 0.0
    return v if np.isfinite(v) and v > 0 else 0.0


def load_arm_frame(
    conn: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    history: bool = True,
    declared: Sequence[DeclaredOutcome] = (),
) -> ArmFrame:
    """Contacts first decided in ``[since, until)`` with their arm and their outcome events after
    it; with ``history``, also their events in the ``PRE_DAYS`` before (what the lift's CUPED
    adjustment reads; /metrics and monitoring, which read means only, skip that query).

    The window selects by each contact's first decision ever, not its first inside the window: a
    contact decided before ``since`` and again after it was treated before, so its "pre-period"
    would hold what the treatment caused, which CUPED would then subtract from the lift.

    ``declared``: the config's declared outcomes (``decision.outcomes``), whose events are read
    too and valued as the learner values them, so ``reward`` is the objective the engine learns."""
    first_at = func.min(decisions.c.created_at)
    first = select(decisions.c.contact_id, first_at.label("first_at")).group_by(decisions.c.contact_id)
    if since is not None:
        first = first.having(first_at >= since)
    if until is not None:
        first = first.having(first_at < until)
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
    when = activities.c.occurred_at
    types = outcome_types(declared)
    ev = _events(conn, first_sq, types, when >= first_sq.c.first_at)
    pre = []
    if history and cids:  # what each did in the PRE_DAYS before its first decision (bounded by the earliest)
        earliest = min(aware(at) for _, _, at in rows) - timedelta(days=PRE_DAYS)
        window = PRE_DAYS * 86400.0
        pre = [
            e
            for e in _events(conn, first_sq, types, when < first_sq.c.first_at, when >= earliest)
            if _epoch(e.occurred_at) >= firsts[seen[e.contact_id]] - window
        ]
    ev_cols, ev_declared, ev_implied = _in_order(_columns(ev, seen), _declared_values(declared, ev), _implied(ev))
    pre_cols, pre_declared, pre_implied = _in_order(_columns(pre, seen), _declared_values(declared, pre), _implied(pre))
    return ArmFrame(
        np.asarray(cids, dtype=np.int64),
        np.asarray(arms, dtype=str),
        np.asarray(firsts, dtype=float),
        *ev_cols,
        *pre_cols,
        ev_declared=ev_declared,
        pre_declared=pre_declared,
        ev_implied=ev_implied,
        pre_implied=pre_implied,
    )


Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _columns(events: Sequence[Row], seen: dict[int, int]) -> Columns:
    """Each event's contact row, type, epoch seconds and amount."""
    return (
        np.asarray([seen[e.contact_id] for e in events], dtype=np.int64),
        np.asarray([e.type for e in events], dtype=str),
        np.asarray([_epoch(e.occurred_at) for e in events], dtype=float),
        np.asarray([_amount(e.properties) for e in events], dtype=float),
    )


def _implied(events: Sequence[Row]) -> np.ndarray:
    """Each event: is it an opening implied by a closing (hub/opportunities.py)?"""
    return np.asarray([is_implied(e.properties) for e in events], dtype=bool)


def _in_order(
    cols: Columns, declared: dict[str, np.ndarray], implied: np.ndarray
) -> tuple[Columns, dict[str, np.ndarray], np.ndarray]:
    """The events by contact, time, type and amount, whatever order the store returned them in:
    PostgreSQL and SQLite order a join's rows differently, and a sum of floats depends on its
    order (the same demo's reward lift differed in its last digit between the two)."""
    row, type_, at, amount = cols
    order = np.lexsort((amount, type_, at, row))
    sorted_cols = (row[order], type_[order], at[order], amount[order])
    return sorted_cols, {k: v[order] for k, v in declared.items()}, implied[order]


def outcome_types(declared: Sequence[DeclaredOutcome]) -> tuple[str, ...]:
    """The activity types the reports read: the business metrics' and the declared outcomes'
    (an event or field outcome is stored as a ``custom`` activity)."""
    extra = {o.activity.value if o.activity is not None else "custom" for o in declared}
    return tuple(sorted({*OUTCOME_TYPES, *extra}))


def _declared_values(declared: Sequence[DeclaredOutcome], events: Sequence[Row]) -> dict[str, np.ndarray]:
    out = {o.name: np.zeros(len(events)) for o in declared}
    if not declared:  # the common case: no Python pass over every event (/metrics reads this too)
        return out
    for i, e in enumerate(events):
        for outcome, value in declared_rewards(declared, e.type, e.channel, e.properties or {}):
            out[outcome.name][i] += value
    return out


def _events(conn: Connection, first_sq: Subquery, types: Sequence[str], *when: ColumnElement[bool]) -> list[Row]:
    """The events of these ``types`` of the decided contacts at the times ``when`` allows,
    without mirrors (one event seen through two systems, hub/mirrors.py)."""
    a = activities.c
    found = conn.execute(
        select(a.contact_id, a.type, a.channel, a.occurred_at, a.properties)
        .join(first_sq, a.contact_id == first_sq.c.contact_id)
        .where(*when, a.type.in_(types))
    ).all()
    return [e for e in found if not is_mirror(e.properties)]


def _epoch(ts: datetime) -> float:
    return aware(ts).timestamp()
