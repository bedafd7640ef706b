"""Lift per experiment arm: outcome metrics per contact, differences with intervals, and how
many more contacts a difference needs before it is significant.

Every metric is a per-contact quantity measured after the contact's first decision, so the
difference of two arms' means has a plain Welch interval and a plain power calculation:

- ``conversion``: opened an opportunity (0/1);
- ``pipeline``: summed amount of opportunities opened;
- ``win_rate``: among contacts with an opportunity, won one (0/1) - a subset, so its n is smaller;
- ``deal_velocity_days``: days from first decision to first opportunity (converted only; lower is better);
- ``revenue``: summed amount of won opportunities (revenue per contact);
- ``unsubscribes``: unsubscribed (0/1);
- ``reward``: summed rewards the learner recorded in the outcomes table.

The sample size needed is for a two-sided 5 % test with 80 % power at the *observed*
difference: ``n = (1.96 + 0.84)^2 (var_a + var_b) / diff^2`` per arm. It is a planning number:
the observed difference is itself noisy, and many metrics are tested at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hub.reports.data import ArmFrame

METRICS = ("conversion", "pipeline", "win_rate", "deal_velocity_days", "revenue", "unsubscribes", "reward")
LOWER_IS_BETTER = {"deal_velocity_days", "unsubscribes"}
Z_ALPHA, Z_POWER = 1.959964, 0.841621
BASELINES = ("holdout", "rules", "control")


@dataclass(frozen=True)
class ArmMetric:
    arm: str
    metric: str
    n: int
    mean: float
    total: float


@dataclass(frozen=True)
class LiftRow:
    """``arm`` minus ``baseline`` on one metric."""

    metric: str
    arm: str
    baseline: str
    n_arm: int
    n_base: int
    diff: float
    low: float
    high: float
    relative: float | None
    significant: bool
    n_needed_per_arm: float  # inf when the observed difference is zero
    n_more_per_arm: float  # contacts still to add to the smaller arm (0 if enough)


def per_contact(frame: ArmFrame) -> dict[str, np.ndarray]:
    """Metric arrays aligned with the frame's contacts; NaN where a metric does not apply."""
    n = len(frame.contact_id)

    def by_type(kind: str, weights: np.ndarray | None = None) -> np.ndarray:
        sel = frame.ev_type == kind
        return np.bincount(frame.ev_row[sel], weights=None if weights is None else weights[sel], minlength=n)

    opps = by_type("opportunity_created")
    won = by_type("opportunity_won")
    first_opp = np.full(n, np.inf)
    sel = frame.ev_type == "opportunity_created"
    np.minimum.at(first_opp, frame.ev_row[sel], frame.ev_at[sel])
    converted = opps > 0
    return {
        "conversion": converted.astype(float),
        "pipeline": by_type("opportunity_created", frame.ev_amount).astype(float),
        "win_rate": np.where(converted, (won > 0).astype(float), np.nan),
        "deal_velocity_days": np.where(converted, (first_opp - frame.first_at) / 86400.0, np.nan),
        "revenue": by_type("opportunity_won", frame.ev_amount).astype(float),
        "unsubscribes": (by_type("unsubscribe") > 0).astype(float),
        "reward": frame.reward.astype(float),
    }


def arm_metrics(frame: ArmFrame) -> list[ArmMetric]:
    values = per_contact(frame)
    out = []
    for arm in frame.arms:
        sel = frame.arm == arm
        for metric in METRICS:
            v = values[metric][sel]
            v = v[~np.isnan(v)]
            out.append(ArmMetric(arm, metric, len(v), float(v.mean()) if len(v) else float("nan"), float(v.sum())))
    return out


def pick_baseline(arms: list[str], baseline: str | None = None) -> str | None:
    if baseline is not None:
        return baseline if baseline in arms else None
    return next((b for b in BASELINES if b in arms), None)


def lift_rows(frame: ArmFrame, baseline: str | None = None) -> list[LiftRow]:
    """Every non-baseline arm against the baseline (holdout, else rules, else control)."""
    base = pick_baseline(frame.arms, baseline)
    if base is None:
        return []
    values = per_contact(frame)
    rows = []
    for arm in frame.arms:
        if arm == base:
            continue
        for metric in METRICS:
            a = _clean(values[metric][frame.arm == arm])
            b = _clean(values[metric][frame.arm == base])
            rows.append(compare(metric, arm, base, a, b))
    return rows


def _clean(v: np.ndarray) -> np.ndarray:
    return v[~np.isnan(v)]


def compare(metric: str, arm: str, base: str, a: np.ndarray, b: np.ndarray) -> LiftRow:
    """Welch difference of means with a 95 % interval and the sample size still needed."""
    if len(a) == 0 or len(b) == 0:
        nan = float("nan")
        return LiftRow(metric, arm, base, len(a), len(b), nan, nan, nan, None, False, math.inf, math.inf)
    diff = float(a.mean() - b.mean())
    va = float(a.var(ddof=1)) if len(a) > 1 else 0.0
    vb = float(b.var(ddof=1)) if len(b) > 1 else 0.0
    se = math.sqrt(va / len(a) + vb / len(b))
    low, high = diff - Z_ALPHA * se, diff + Z_ALPHA * se
    significant = se > 0 and (low > 0 or high < 0)
    needed = (Z_ALPHA + Z_POWER) ** 2 * (va + vb) / diff**2 if diff != 0 else math.inf
    more = max(0.0, math.ceil(needed) - min(len(a), len(b))) if math.isfinite(needed) else math.inf
    base_mean = float(b.mean())
    return LiftRow(
        metric,
        arm,
        base,
        len(a),
        len(b),
        diff,
        low,
        high,
        diff / base_mean if base_mean else None,
        significant,
        needed,
        more,
    )
