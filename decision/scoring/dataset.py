"""Training sets for lead scoring: features from history before a cut-off, labels after it.

For a cut-off ``t`` and horizon ``h`` days a contact's row is

- features: pure functions of the contact's stable attributes and of its activities with
  ``occurred_at < t`` (counts per type over 7/30/90 days, recency, tenure, deal amounts over the past year,
  firmographics);
- label ``y``: 1 if an ``opportunity_created`` activity (``label_type``) falls in ``[t, t + h)``;
- ``value``: the summed ``amount`` of those opportunities (0 without one).

Leakage rules, since the contact record is today's snapshot and not the one at ``t``: only
fields that the outcome does not change are used (company size, revenue, consent); the
lifecycle stage and owner are left out because sales sets them *because* an opportunity
opened. The one snapshot field whose change time is in the history is the e-mail opt-out: a
contact opted out today whose first unsubscribe falls at or after the cut-off was still opted in
at it, so the row says so (today's value would tell the model who later went quiet). Stacking several cut-offs gives more rows; :func:`time_split` then keeps every
training row's label window before the test cut-off, so no label the test sees was learned.

>>> from datetime import datetime, UTC
>>> from hub.models import Activity, Contact
>>> c = Contact(id=1)
>>> acts = [Activity(contact_id=1, type="page_view", occurred_at=datetime(2024, 1, 5, tzinfo=UTC),
...                  source="s", external_id="a"),
...         Activity(contact_id=1, type="opportunity_created", occurred_at=datetime(2024, 2, 1, tzinfo=UTC),
...                  properties={"amount": 5000}, source="s", external_id="b")]
>>> ts = build_training_set([c], acts, datetime(2024, 1, 10, tzinfo=UTC))
>>> int(ts.y[0]), float(ts.value[0]), float(ts.X[0, ts.feature_names.index("page_view_7d")])
(1, 5000.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from hub.errors import DecisionError
from hub.models import Activity, ActivityType, Contact

FEATURE_SCHEMA_VERSION = 1
WINDOWS = (7, 30, 90)
COUNTED = (
    ActivityType.PAGE_VIEW,
    ActivityType.EMAIL_OPEN,
    ActivityType.EMAIL_CLICK,
    ActivityType.FORM_SUBMIT,
    ActivityType.CONTENT_DOWNLOAD,
    ActivityType.WEBINAR,
    ActivityType.MEETING,
    ActivityType.CALL,
    ActivityType.OPPORTUNITY_CREATED,
    ActivityType.OPPORTUNITY_WON,
    ActivityType.OPPORTUNITY_LOST,
    ActivityType.UNSUBSCRIBE,
)
_TYPE_INDEX = {t.value: i for i, t in enumerate(COUNTED)}
LONG_WINDOW = 365  # totals and tenure look back at most a year: "ever" would grow with the data's age
_NO_EVENT_DAYS = 400.0  # "not within a year" for recency features: past the window, finite for every model

FEATURE_NAMES: tuple[str, ...] = (
    *(f"{t.value}_{w}d" for t in COUNTED for w in WINDOWS),
    "opportunities_365d",
    "won_365d",
    "amount_365d",
    "days_since_last_activity",
    "days_since_last_opportunity",
    "tenure_days_365",
    "log_employees",
    "log_annual_revenue",
    "email_opt_out",
    "do_not_contact",
)


@dataclass(frozen=True)
class TrainingSet:
    """Rows of (contact, cut-off): features ``X``, label ``y``, deal ``value``."""

    X: np.ndarray
    y: np.ndarray
    value: np.ndarray
    contact_ids: np.ndarray
    cutoffs: np.ndarray  # datetime64[s] per row
    horizon_days: int
    feature_names: tuple[str, ...] = FEATURE_NAMES

    def __len__(self) -> int:
        return len(self.y)

    def take(self, rows: np.ndarray) -> TrainingSet:
        return TrainingSet(
            self.X[rows],
            self.y[rows],
            self.value[rows],
            self.contact_ids[rows],
            self.cutoffs[rows],
            self.horizon_days,
            self.feature_names,
        )


def amount_of(activity: Activity) -> float:
    """Deal amount of an opportunity activity (``amount`` or ``value`` property), 0 if unreadable."""
    raw = activity.properties.get("amount", activity.properties.get("value", 0))
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return 0.0
    return v if np.isfinite(v) and v > 0 else 0.0


@dataclass(frozen=True)
class _Events:
    """Activities as arrays: contact row, type index (-1 if not counted), epoch seconds, amount."""

    row: np.ndarray
    kind: np.ndarray
    t: np.ndarray
    amount: np.ndarray


def _events(activities: Sequence[Activity], rows: dict[int, int]) -> _Events:
    keep = [a for a in activities if a.contact_id in rows]
    return _Events(
        np.fromiter((rows[a.contact_id] for a in keep), dtype=np.int64, count=len(keep)),
        np.fromiter((_TYPE_INDEX.get(str(a.type), -1) for a in keep), dtype=np.int64, count=len(keep)),
        np.fromiter((a.occurred_at.timestamp() for a in keep), dtype=np.float64, count=len(keep)),
        np.fromiter((amount_of(a) for a in keep), dtype=np.float64, count=len(keep)),
    )


_OPT_OUT = 2  # email_opt_out's column in _static


def _static(contacts: Sequence[Contact]) -> np.ndarray:
    def log1p(v: float | int | None) -> float:
        return float(np.log1p(v)) if v is not None and v >= 0 else np.nan

    return np.asarray(
        [
            (
                log1p(c.company.employees),
                log1p(c.company.annual_revenue),
                float(c.consent.email_opt_out),
                float(c.consent.do_not_contact),
            )
            for c in contacts
        ],
        dtype=float,
    ).reshape(len(contacts), 4)


def _features(n: int, ev: _Events, static: np.ndarray, cutoff: float) -> np.ndarray:
    k = len(COUNTED)
    age = (cutoff - ev.t) / 86400.0
    before = (ev.t < cutoff) & (age <= LONG_WINDOW)
    counts = np.zeros((n, k, len(WINDOWS)))
    counted = before & (ev.kind >= 0)
    for j, w in enumerate(WINDOWS):
        sel = counted & (age <= w)
        np.add.at(counts[:, :, j], (ev.row[sel], ev.kind[sel]), 1.0)
    opp = _TYPE_INDEX[ActivityType.OPPORTUNITY_CREATED.value]
    won = _TYPE_INDEX[ActivityType.OPPORTUNITY_WON.value]
    is_opp = before & (ev.kind == opp)
    opps = np.bincount(ev.row[is_opp], minlength=n).astype(float)
    wins = np.bincount(ev.row[before & (ev.kind == won)], minlength=n).astype(float)
    amount = np.bincount(ev.row[is_opp], weights=ev.amount[is_opp], minlength=n)
    last_any = np.full(n, _NO_EVENT_DAYS)
    np.minimum.at(last_any, ev.row[before], age[before])
    last_opp = np.full(n, _NO_EVENT_DAYS)
    np.minimum.at(last_opp, ev.row[is_opp], age[is_opp])
    first_any = np.zeros(n)  # days since the first activity within the year: tenure, capped
    np.maximum.at(first_any, ev.row[before], age[before])
    unsub = ev.kind == _TYPE_INDEX[ActivityType.UNSUBSCRIBE.value]
    later = np.bincount(ev.row[unsub & (ev.t >= cutoff)], minlength=n) > 0
    earlier = np.bincount(ev.row[unsub & (ev.t < cutoff)], minlength=n) > 0
    static = static.copy()
    static[later & ~earlier, _OPT_OUT] = 0.0  # opted out after the cut-off: not yet at it
    return np.column_stack([counts.reshape(n, -1), opps, wins, amount, last_any, last_opp, first_any, static])


def features_at(contacts: Sequence[Contact], activities: Sequence[Activity], cutoff: datetime) -> np.ndarray:
    """Feature matrix (contacts x FEATURE_NAMES) from history strictly before ``cutoff``.

    The same function scores live contacts (cut-off = now) and builds training rows, so
    training and serving features cannot diverge.
    """
    ids = _ids(contacts)
    ev = _events(activities, {cid: i for i, cid in enumerate(ids)})
    return _features(len(ids), ev, _static(contacts), _ts(cutoff))


def build_training_set(
    contacts: Sequence[Contact],
    activities: Sequence[Activity],
    cutoff: datetime,
    *,
    horizon_days: int = 90,
    label_type: ActivityType = ActivityType.OPPORTUNITY_CREATED,
) -> TrainingSet:
    """One row per contact: features before ``cutoff``, label in ``[cutoff, cutoff + horizon)``."""
    return build_rolling(contacts, activities, [cutoff], horizon_days=horizon_days, label_type=label_type)


def build_rolling(
    contacts: Sequence[Contact],
    activities: Sequence[Activity],
    cutoffs: Sequence[datetime],
    *,
    horizon_days: int = 90,
    label_type: ActivityType = ActivityType.OPPORTUNITY_CREATED,
) -> TrainingSet:
    """Rows for several cut-offs stacked (more training rows from the same history)."""
    if horizon_days <= 0:
        raise DecisionError(f"horizon_days must be positive; got {horizon_days}.")
    ids = _ids(contacts)
    rows = {cid: i for i, cid in enumerate(ids)}
    ev = _events(activities, rows)
    label_idx = _TYPE_INDEX.get(label_type.value)
    if label_idx is None:
        raise DecisionError(f"label_type {label_type.value!r} is not a counted activity type.")
    static = _static(contacts)
    n = len(ids)
    parts = []
    for cutoff in cutoffs:
        t0 = _ts(cutoff)
        t1 = t0 + horizon_days * 86400.0
        hit = (ev.kind == label_idx) & (ev.t >= t0) & (ev.t < t1)
        y = np.bincount(ev.row[hit], minlength=n) > 0
        value = np.bincount(ev.row[hit], weights=ev.amount[hit], minlength=n)
        stamp = np.full(n, np.datetime64(int(t0), "s"))
        parts.append((_features(n, ev, static, t0), y.astype(int), value, np.asarray(ids), stamp))
    X, y, value, cids, stamps = (np.concatenate(p) for p in zip(*parts, strict=True))
    return TrainingSet(X.reshape(len(y), len(FEATURE_NAMES)), y, value, cids, stamps, horizon_days)


def recent_rate(
    contacts: Sequence[Contact],
    activities: Sequence[Activity],
    at: datetime,
    *,
    lookback_days: int = 30,
    horizon_days: int = 90,
    label_type: ActivityType = ActivityType.OPPORTUNITY_CREATED,
) -> float:
    """The label rate over ``horizon_days`` implied by the last ``lookback_days`` before ``at``.

    Uses only what is known at ``at`` (no label from the future): the share of contacts with a
    label event in ``[at - lookback, at)``, scaled to the horizon assuming a constant hazard,
    ``1 - (1 - r) ** (horizon / lookback)``.
    """
    ids = {c.id for c in contacts}
    t0, t1 = _ts(at) - lookback_days * 86400.0, _ts(at)
    hit = {
        a.contact_id
        for a in activities
        if a.contact_id in ids and a.type == label_type and t0 <= a.occurred_at.timestamp() < t1
    }
    r = len(hit) / max(len(ids), 1)
    return float(1.0 - (1.0 - r) ** (horizon_days / lookback_days))


def time_split(ts: TrainingSet, test_cutoff: datetime) -> tuple[TrainingSet, TrainingSet]:
    """Train on rows whose whole label window ends by ``test_cutoff``; test on rows cut at it or later.

    Rows in between (cut before the test cut-off, label window reaching past it) are dropped:
    their labels overlap the test period and would leak it.
    """
    t = np.datetime64(int(_ts(test_cutoff)), "s")
    end = ts.cutoffs + np.timedelta64(ts.horizon_days * 86400, "s")
    train = np.flatnonzero(end <= t)
    test = np.flatnonzero(ts.cutoffs >= t)
    if len(train) == 0 or len(test) == 0:
        raise DecisionError(
            f"time split at {test_cutoff.isoformat()} leaves {len(train)} training and {len(test)} test rows; "
            "move the test cut-off or add cut-offs."
        )
    return ts.take(train), ts.take(test)


def cutoffs_every(start: datetime, end: datetime, step_days: int) -> list[datetime]:
    """Cut-offs from ``start`` to ``end`` (inclusive) every ``step_days``."""
    out, t = [], start
    while t <= end:
        out.append(t)
        t += timedelta(days=step_days)
    return out


def _ids(contacts: Sequence[Contact]) -> list[int]:
    ids = [c.id for c in contacts]
    if any(i is None for i in ids):
        raise DecisionError("every contact needs a hub id (store-resolved) to build features.")
    if len(set(ids)) != len(ids):
        raise DecisionError("contact ids must be unique.")
    return ids  # type: ignore[return-value]


def _ts(t: datetime) -> float:
    if t.tzinfo is None:
        raise DecisionError(f"cut-off {t.isoformat()} needs a time zone (use UTC).")
    return t.timestamp()
