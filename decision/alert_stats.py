"""The statistics behind monitoring alerts: tests with a stated false-alarm rate.

A monitoring run watches many things at once (every feature, every segment), so each check
family is corrected with Holm's step-down procedure: in a healthy run the chance that *any*
alert of the family is raised is at most ``alpha``, whatever the dependence between tests.

>>> holm([0.01, 0.04, 0.03])
array([0.03, 0.06, 0.06])
>>> round(welch_less_p([1.0, 1.1, 0.9] * 50, [2.0, 2.1, 1.9] * 50), 6)
0.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (same order as given): reject where adjusted < alpha."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def _mean_var(x: np.ndarray) -> tuple[float, float, int]:
    x = np.asarray(x, dtype=float)
    n = len(x)
    return (float(x.mean()) if n else 0.0), (float(x.var(ddof=1)) if n > 1 else 0.0), n


def welch_less_p(current: Sequence[float], reference: Sequence[float]) -> float:
    """One-sided p-value that the current mean is below the reference mean (Welch, normal
    approximation: the samples here are hundreds of decisions or more)."""
    mc, vc, nc = _mean_var(np.asarray(current))
    mr, vr, nr = _mean_var(np.asarray(reference))
    if nc < 2 or nr < 2:
        return 1.0
    se = math.sqrt(vc / nc + vr / nr)
    if se == 0:
        return 0.0 if mc < mr else 1.0
    return float(stats.norm.cdf((mc - mr) / se))


def diff_in_diff_less_p(cur_in, ref_in, cur_out, ref_out) -> float:  # noqa: ANN001 - arrays
    """One-sided p-value that a segment's change (current minus reference) is below the rest's
    change: the segment fell *more* than everyone else, so it has a cause of its own."""
    parts = [_mean_var(np.asarray(x)) for x in (cur_in, ref_in, cur_out, ref_out)]
    if any(n < 2 for _, _, n in parts):
        return 1.0
    (m1, v1, n1), (m2, v2, n2), (m3, v3, n3), (m4, v4, n4) = parts
    se = math.sqrt(v1 / n1 + v2 / n2 + v3 / n3 + v4 / n4)
    d = (m1 - m2) - (m3 - m4)
    if se == 0:
        return 0.0 if d < 0 else 1.0
    return float(stats.norm.cdf(d / se))


def homogeneity_p(counts_a: Sequence[int], counts_b: Sequence[int]) -> float:
    """P-value that two samples' counts over the same bins come from one distribution: Pearson's
    chi-squared test of homogeneity, bins empty in both samples left out. (PSI times the
    effective sample size has the same limit, but its floored empty bins make it much larger
    than chi-squared on a few hundred rows: 10-30 times the stated false-alarm rate.)

    >>> homogeneity_p([50, 50], [50, 50])
    1.0
    >>> homogeneity_p([90, 10], [10, 90]) < 1e-20
    True
    """
    table = np.array([counts_a, counts_b], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(stats.chi2.sf(chi2, table.shape[1] - 1))


def share_above_p(hits: int, n: int, limit: float) -> float:
    """One-sided p-value against a true share of at most ``limit``: small when ``hits / n`` is
    clearly above it (binomial)."""
    if n == 0:
        return 1.0
    return float(stats.binom.sf(hits - 1, n, limit))


def share_below_p(hits: int, n: int, limit: float) -> float:
    """One-sided p-value for the true share being below ``limit`` (binomial)."""
    if n == 0:
        return 1.0
    return float(stats.binom.cdf(hits, n, limit))
