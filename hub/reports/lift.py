"""Lift per experiment arm: outcome metrics per contact, differences with intervals, and how
many more contacts a difference needs before it is significant.

Every metric is a per-contact quantity defined once in hub/reports/metrics.py (reward,
opportunities, pipeline, won revenue, unsubscribes, conversion, win rate, deal velocity), so
the difference of two arms' means has a plain interval (see :func:`compare`: Newcombe's for a
0/1 metric, Welch's otherwise) and a plain power calculation.

The sample size needed is for a two-sided 5 % test with 80 % power at the *observed*
difference, counted over both arms together at their current ratio (``r`` the arm's share):
``n = (1.96 + 0.84)^2 (var_a / r + var_b / (1 - r)) / diff^2``; at a 9:1 split the small arm
is what limits it. It is a planning number: the observed difference is itself noisy, and many
metrics are tested at once.

CUPED (Deng, Xu, Kohavi and Walker, WSDM 2013; what Optimizely, Statsig and Eppo call variance
reduction): where contacts have history, each metric is adjusted by the same metric over the
``PRE_DAYS`` before their first decision, ``y - theta (x - mean x)`` with ``theta = cov(x, y) /
var(x)`` pooled over both arms. The pre-period was fixed before the arm was drawn, so the
adjusted difference estimates the same effect; it removes the part of the noise that the
history predicts (a share ``corr(x, y)^2`` of the variance), and with it chance imbalance
between the arms in who was already active. Without history (``x`` constant) nothing changes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from hub.config import ObjectiveWeights
from hub.reports.data import PRE_DAYS, ArmFrame
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
    #: contacts in both arms together, at their current ratio, for a two-sided 5 % test with
    #: 80 % power at the observed difference (inf when it is zero)
    n_needed: float
    n_more: float  # contacts still to add to both arms together, at that ratio (0 if enough)
    #: share of the difference's variance the pre-period covariate removed (CUPED; 0: none)
    variance_reduction: float = 0.0
    #: why there is no interval ("too few contacts", "too few events"); "" when there is one
    note: str = ""
    #: each arm's mean per contact as observed, before the CUPED adjustment ``diff`` gets (NaN:
    #: no contact it applies to); a difference is read beside what it is a difference of
    arm_mean: float = math.nan
    base_mean: float = math.nan


def pick_baseline(arms: list[str], baseline: str | None = None) -> str | None:
    if baseline is not None:
        return baseline if baseline in arms else None
    return next((b for b in BASELINES if b in arms), None)


def cuped_note(reductions: list[tuple[str, float]], means_shown: bool = False) -> str:
    """When CUPED used the contacts' history: per metric the variance it removed ("" when none),
    as `hub report lift`, `hub report impact` and the Experiments page say it."""
    adjusted = {m: v for m, v in reductions if v > 0}
    if not adjusted:
        return ""
    return (
        f"Adjusted for what each contact did in the {PRE_DAYS} days before its first decision (CUPED) on "
        f"{', '.join(sorted(adjusted))}: up to {max(adjusted.values()):.1%} of the variance removed"
        + (" (the difference is adjusted; the means are as observed)." if means_shown else ".")
    )


def no_lift(arms: list[str], baseline: str | None = None) -> str:
    """Why there is no lift to show, as `hub report lift` and the console's Experiments page say it."""
    base = pick_baseline(arms, baseline)
    if not arms:
        return "No decisions yet, so no arms to compare."
    if base is None:
        return (
            f"No baseline arm (holdout, rules or control) among the arms ({', '.join(arms)}), so no lift to show: "
            "the holdout gets its share of contacts (decision.engine.holdout_share, 10% by default) as more are decided."
        )
    return f"Only the baseline arm {base!r} has decisions; there is nothing to compare with it."


def lift_rows(frame: ArmFrame, baseline: str | None = None, weights: ObjectiveWeights | None = None) -> list[LiftRow]:
    """Every non-baseline arm against the baseline (holdout, else rules, else control), on
    every metric of hub/reports/metrics.py (``weights``: the objective behind ``reward``)."""
    base = pick_baseline(frame.arms, baseline)
    if base is None:
        return []
    values = with_history(frame, weights)
    return [arm_lift(frame, values, metric, arm, base) for arm in frame.arms if arm != base for metric in METRICS]


#: per metric: each contact's value, and the same metric over its pre-period (the CUPED covariate)
MetricValues = dict[str, tuple[np.ndarray, np.ndarray]]


def with_history(frame: ArmFrame, weights: ObjectiveWeights | None = None) -> MetricValues:
    """Every metric per contact with its pre-period covariate (hub/reports/data.py, PRE_DAYS)."""
    after, before = per_contact(frame, weights), per_contact(frame.pre_period(), weights)
    return {m: (after[m], before[m]) for m in after}


def arm_lift(frame: ArmFrame, values: MetricValues, metric: str, arm: str, base: str) -> LiftRow:
    """``arm`` minus ``base`` on ``metric``, over the contacts it applies to, CUPED-adjusted.
    A covariate that does not apply (a pre-period win rate without a pre-period deal) is 0."""
    y, x = values[metric]
    keep_a, keep_b = (frame.arm == arm) & ~np.isnan(y), (frame.arm == base) & ~np.isnan(y)
    return compare(metric, arm, base, y[keep_a], y[keep_b], np.nan_to_num(x[keep_a]), np.nan_to_num(x[keep_b]))


def cuped(a: np.ndarray, b: np.ndarray, xa: np.ndarray, xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` adjusted by their covariates (see the module docstring); unchanged when
    the covariate does not vary."""
    x, y = np.concatenate([xa, xb]), np.concatenate([a, b])
    if len(x) < 3 or float(x.var()) <= 0.0:
        return a, b
    theta = float(np.cov(x, y)[0, 1] / x.var(ddof=1))
    mean = float(x.mean())
    return a - theta * (xa - mean), b - theta * (xb - mean)


def compare(
    metric: str,
    arm: str,
    base: str,
    a: np.ndarray,
    b: np.ndarray,
    xa: np.ndarray | None = None,
    xb: np.ndarray | None = None,
) -> LiftRow:
    """``arm`` minus ``base`` with a 95 % interval and the sample size still needed.

    A 0/1 metric gets Newcombe's interval for a difference of proportions: a normal interval
    with each arm's own variance calls a rare event "significant" whenever the smaller arm saw
    none (its variance is then 0). Any other metric is CUPED-adjusted by ``xa``, ``xb`` and gets
    a Welch interval whose per-arm variances are floored at the pooled one, for the same reason.
    No contact in an arm, fewer than 2, or no variation at all: no interval, and ``note`` says why.
    """
    means = {"arm_mean": _mean(a), "base_mean": _mean(b)}
    if len(a) == 0 or len(b) == 0:
        nan = float("nan")
        row = LiftRow(metric, arm, base, len(a), len(b), nan, nan, nan, None, False, math.inf, math.inf, **means)
        return dataclasses.replace(row, note=NO_CONTACTS)
    base_mean = float(b.mean())
    if min(len(a), len(b)) < 2:
        return _no_interval(metric, arm, base, a, b, base_mean, TOO_FEW_CONTACTS, means)
    if np.ptp(np.concatenate([a, b])) == 0:  # every contact has the same value: no event to compare
        return _no_interval(metric, arm, base, a, b, base_mean, TOO_FEW_EVENTS, means)
    raw_var = _var(a) / len(a) + _var(b) / len(b)
    binary = _is_binary(a) and _is_binary(b)
    if not binary and xa is not None and xb is not None:
        a, b = cuped(a, b, xa, xb)
    diff = float(a.mean() - b.mean())
    relative = diff / base_mean if base_mean > 0 else None  # only meaningful over a positive baseline
    va, vb = _var(a), _var(b)
    pooled = ((len(a) - 1) * va + (len(b) - 1) * vb) / (len(a) + len(b) - 2)
    va, vb = max(va, pooled), max(vb, pooled)
    var = va / len(a) + vb / len(b)
    if binary:
        low, high = _newcombe(int(a.sum()), len(a), int(b.sum()), len(b))
    elif var > 0:
        low, high = diff - Z_ALPHA * math.sqrt(var), diff + Z_ALPHA * math.sqrt(var)
    else:  # each arm constant: nothing says how much either could vary
        return _no_interval(metric, arm, base, a, b, base_mean, TOO_FEW_EVENTS, means)
    significant = low > 0 or high < 0
    # the arms keep their ratio (a 10 % holdout stays 10 %): n a share r, the other 1 - r
    r = len(a) / (len(a) + len(b))
    needed = (Z_ALPHA + Z_POWER) ** 2 * (va / r + vb / (1 - r)) / diff**2 if diff != 0 else math.inf
    more = max(0.0, math.ceil(needed) - len(a) - len(b)) if math.isfinite(needed) else math.inf
    # 0 when nothing was adjusted: the same arrays give the same variance, bit for bit
    reduction = max(0.0, 1.0 - (_var(a) / len(a) + _var(b) / len(b)) / raw_var) if raw_var > 0 else 0.0
    return LiftRow(
        metric, arm, base, len(a), len(b), diff, low, high, relative, significant, needed, more, reduction, **means
    )


TOO_FEW_CONTACTS = "too few contacts"
#: an arm without one contact the metric applies to (a win rate where no deal was opened)
NO_CONTACTS = "no contacts it applies to"
TOO_FEW_EVENTS = "too few events"


def _no_interval(
    metric: str,
    arm: str,
    base: str,
    a: np.ndarray,
    b: np.ndarray,
    base_mean: float,
    note: str,
    means: dict[str, float],
) -> LiftRow:
    diff = float(a.mean() - b.mean())
    relative = diff / base_mean if base_mean > 0 else None
    nan = float("nan")
    return LiftRow(
        metric, arm, base, len(a), len(b), diff, nan, nan, relative, False, math.inf, math.inf, note=note, **means
    )


def _mean(v: np.ndarray) -> float:
    return float(v.mean()) if len(v) else math.nan


def _var(v: np.ndarray) -> float:
    return float(v.var(ddof=1)) if len(v) > 1 else 0.0


def _is_binary(v: np.ndarray) -> bool:
    return bool(np.all((v == 0) | (v == 1)))


def _wilson(x: int, n: int) -> tuple[float, float]:
    centre = (x + Z_ALPHA**2 / 2) / (n + Z_ALPHA**2)
    half = Z_ALPHA * math.sqrt(x * (n - x) / n + Z_ALPHA**2 / 4) / (n + Z_ALPHA**2)
    return max(0.0, centre - half), min(1.0, centre + half)


def _newcombe(xa: int, na: int, xb: int, nb: int) -> tuple[float, float]:
    """95 % interval for ``xa/na - xb/nb`` from the two Wilson intervals (Newcombe 1998, method
    10): it keeps its coverage when an arm has no events, where the normal interval collapses."""
    pa, pb = xa / na, xb / nb
    (la, ua), (lb, ub) = _wilson(xa, na), _wilson(xb, nb)
    d = pa - pb
    return d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2), d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)


__all__ = [
    "LOWER_IS_BETTER",
    "METRICS",
    "ArmMetric",
    "LiftRow",
    "arm_lift",
    "arm_metrics",
    "compare",
    "cuped",
    "lift_rows",
    "per_contact",
    "with_history",
]
