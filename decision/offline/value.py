"""Values of many policies on one log, with paired bootstrap intervals.

Every policy's per-row terms (IPS ``w * r``, the weight ``w`` for SNIPS, and doubly robust
terms when reward predictions are given) become columns of one matrix; each bootstrap
replicate resamples the log's rows once, for every column alike. So the difference of any two
policies is paired (the same resampled rows), which is far tighter than two separate intervals,
and a policy equal to another differs by exactly 0. A replicate is a vector of row counts, so
all columns are summed with one matrix product per chunk of replicates (no per-row Python).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a = rng.integers(0, 2, 4000); r = (a == 1).astype(float); p = np.full(4000, 0.5)
>>> v = PolicyValues(a, r, p, {"always 1": np.tile([0.0, 1.0], (4000, 1)), "always 0": np.tile([1.0, 0.0], (4000, 1))})
>>> round(v.estimate("always 1").estimate, 1), v.difference("always 1", "always 0").low > 0.9
(1.0, True)
>>> v.difference("always 1", "always 1").to_dict()
{'estimate': 0.0, 'low': 0.0, 'high': 0.0}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from decision.offpolicy import importance_weights

#: row counts held in memory at once (replicates x rows)
_CHUNK = 4_000_000


def bootstrap_means(columns: np.ndarray, n_bootstrap: int, seed: int | None) -> np.ndarray:
    """(n_bootstrap, m) column means over rows resampled with replacement, the same rows for
    every column in a replicate."""
    rng = np.random.default_rng(seed)
    n, m = columns.shape
    out = np.empty((n_bootstrap, m))
    step = max(1, _CHUNK // max(n, 1))
    for start in range(0, n_bootstrap, step):
        b = min(step, n_bootstrap - start)
        idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(float)
        out[start : start + b] = counts @ columns / n
    return out


@dataclass(frozen=True)
class Interval:
    """A point estimate with its percentile bootstrap interval."""

    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


class PolicyValues:
    """IPS, SNIPS and (with ``q``) DR values of each target policy, from one joint bootstrap.

    ``targets`` maps a name to the policy's (n, k) action probabilities on the log's rows;
    ``propensities`` are the logging policy's probabilities of the logged actions; ``q`` (n, k)
    cross-fitted reward predictions (decision/offpolicy.py ``reward_predictions``) for DR.
    """

    def __init__(
        self,
        actions: np.ndarray,
        rewards: np.ndarray,
        propensities: np.ndarray,
        targets: Mapping[str, np.ndarray],
        *,
        q: np.ndarray | None = None,
        n_bootstrap: int = 1000,
        alpha: float = 0.05,
        seed: int | None = 0,
    ):
        a = np.asarray(actions, dtype=np.intp)
        r = np.asarray(rewards, dtype=float)
        p = np.asarray(propensities, dtype=float)
        self.n, self.alpha, self.names = len(a), alpha, list(targets)
        self.methods = ("ips", "snips", "dr") if q is not None else ("ips", "snips")
        cols, self.weights = [], {}
        for name, t in targets.items():
            w = importance_weights(a, p, t)
            self.weights[name] = w
            cols += [w * r, w]
            if q is not None:
                cols.append((t * q).sum(axis=1) + w * (r - q[np.arange(self.n), a]))
        self._width = len(self.methods)
        self._columns = np.column_stack(cols)
        self._point = self._columns.mean(axis=0)
        self._reps = bootstrap_means(self._columns, n_bootstrap, seed)

    def _series(self, name: str, method: str, reps: bool) -> np.ndarray | float:
        j = self.names.index(name) * self._width
        src = self._reps if reps else self._point
        if method == "ips":
            return src[..., j]
        if method == "snips":
            with np.errstate(divide="ignore", invalid="ignore"):
                return src[..., j] / src[..., j + 1]
        return src[..., j + 2]

    def _interval(self, point: float, reps: np.ndarray) -> Interval:
        ok = reps[np.isfinite(reps)]
        if len(ok) < 2 or not np.isfinite(point):
            return Interval(float(point), float("nan"), float("nan"))
        lo, hi = np.quantile(ok, [self.alpha / 2, 1 - self.alpha / 2])
        return Interval(float(point), float(lo), float(hi))

    def estimate(self, name: str, method: str = "ips") -> Interval:
        """The value of policy ``name`` by ``method`` (ips, snips or dr)."""
        return self._interval(self._series(name, method, False), self._series(name, method, True))

    def difference(self, name: str, other: str, method: str = "ips") -> Interval:
        """Value of ``name`` minus value of ``other``, paired: the same resampled rows for both."""
        point = self._series(name, method, False) - self._series(other, method, False)
        return self._interval(point, self._series(name, method, True) - self._series(other, method, True))

    def overlap(self, name: str) -> dict[str, float]:
        """Effective sample size of the policy's importance weights, and the largest weight."""
        w = self.weights[name]
        ess = float(w.sum() ** 2 / (w**2).sum()) if (w**2).sum() > 0 else 0.0
        return {"ess": ess, "ess_share": ess / self.n, "max_weight": float(w.max())}
