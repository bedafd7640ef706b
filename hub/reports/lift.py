"""Lift per experiment arm: outcome metrics per contact, differences with intervals, and how
many more contacts a difference needs before it is significant.

Every metric is a per-contact quantity defined once in hub/reports/metrics.py (reward,
opportunities, pipeline, won revenue, unsubscribes, conversion, win rate, deal velocity), so
the difference of two arms' means has a plain Welch interval and a plain power calculation.

The sample size needed is for a two-sided 5 % test with 80 % power at the *observed*
difference: ``n = (1.96 + 0.84)^2 (var_a + var_b) / diff^2`` per arm. It is a planning number:
the observed difference is itself noisy, and many metrics are tested at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hub.config import ObjectiveWeights
from hub.reports.data import ArmFrame
from hub.reports.metrics import LOWER_IS_BETTER, METRICS, ArmMetric, arm_metrics, per_contact

Z_ALPHA, Z_POWER = 1.959964, 0.841621
BASELINES = ("holdout", "rules", "control")


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


def pick_baseline(arms: list[str], baseline: str | None = None) -> str | None:
    if baseline is not None:
        return baseline if baseline in arms else None
    return next((b for b in BASELINES if b in arms), None)


def lift_rows(frame: ArmFrame, baseline: str | None = None, weights: ObjectiveWeights | None = None) -> list[LiftRow]:
    """Every non-baseline arm against the baseline (holdout, else rules, else control), on
    every metric of hub/reports/metrics.py (``weights``: the objective behind ``reward``)."""
    base = pick_baseline(frame.arms, baseline)
    if base is None:
        return []
    values = per_contact(frame, weights)
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
        diff / base_mean if base_mean > 0 else None,  # a relative lift only means something over a positive baseline
        significant,
        needed,
        more,
    )


__all__ = ["LOWER_IS_BETTER", "METRICS", "ArmMetric", "LiftRow", "arm_metrics", "compare", "lift_rows", "per_contact"]
