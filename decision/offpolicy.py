"""Off-policy evaluation: what would a new policy have earned on logs made by another one?

Inputs are the log (actions, rewards, the logging policy's propensities) and the target
policy's action probabilities ``target`` (n, k) on the same rows, e.g. from
``policy.probabilities_many(X, mask)``. Three estimators, each with a percentile bootstrap
interval computed by resampling rows in vectorized chunks:

- IPS: mean of ``w * r`` with ``w = target[a] / propensity``; unbiased, high variance.
- SNIPS: ``sum(w r) / sum(w)``; slightly biased, far more stable when weights are large.
- Doubly robust: a reward model ``q(x, a)`` (scikit-learn, cross-fitted so no row is scored by
  a model that saw it) plus an IPS correction of its error; unbiased if either the propensities
  or the model are right.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a = rng.integers(0, 2, 2000); r = (a == 1).astype(float)
>>> est = ips(a, r, np.full(2000, 0.5), np.tile([0.0, 1.0], (2000, 1)))
>>> round(est.value, 1), est.low < est.value < est.high
(1.0, True)
>>> snips(a, r, np.full(2000, 0.5), np.tile([0.0, 1.0], (2000, 1))).value
1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from hub.errors import DecisionError

_CHUNK = 4_000_000  # resampled entries held in memory at once; fixes the random stream
_LEAF = 1 << 20  # rows gathered at once when one replicate exceeds _CHUNK / 2 rows; at least 128


@dataclass(frozen=True)
class Estimate:
    """A policy value with its bootstrap interval and the weights' effective sample size."""

    method: str
    value: float
    low: float
    high: float
    se: float
    n: int
    ess: float

    def covers(self, x: float) -> bool:
        return self.low <= x <= self.high


def _check(actions, rewards, propensities, target) -> tuple[np.ndarray, ...]:
    a = np.asarray(actions)
    r = np.asarray(rewards, dtype=float)
    p = np.asarray(propensities, dtype=float)
    t = np.asarray(target, dtype=float)
    n = len(a)
    if r.shape != (n,) or p.shape != (n,) or t.ndim != 2 or len(t) != n:
        raise DecisionError(
            f"need actions, rewards, propensities of shape ({n},) and target of shape ({n}, k); "
            f"got {r.shape}, {p.shape}, {t.shape}."
        )
    if n == 0:
        raise DecisionError("cannot evaluate a policy on an empty log.")
    if not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= t.shape[1]:
        raise DecisionError(f"logged actions must be integers in [0, {t.shape[1]}).")
    if not ((p > 0) & (p <= 1)).all():
        raise DecisionError("logged propensities must lie in (0, 1]; log them at decision time.")
    if not np.allclose(t.sum(axis=1), 1.0, atol=1e-6) or (t < 0).any():
        raise DecisionError("each row of target must be a probability distribution over actions.")
    return a, r, p, t


def importance_weights(actions, propensities, target) -> np.ndarray:
    """``target[i, a_i] / propensity_i``."""
    a = np.asarray(actions)
    t = np.asarray(target, dtype=float)
    return t[np.arange(len(a)), a] / np.asarray(propensities, dtype=float)


def bootstrap_ratio(num: np.ndarray, den: np.ndarray | None, n_bootstrap: int, seed: int | None) -> np.ndarray:
    """Bootstrap replicates of ``sum(num) / sum(den)`` (or the mean of ``num``), vectorized."""
    sums = bootstrap_sums([num] if den is None else [num, den], n_bootstrap, seed)
    return sums[:, 0] / (sums[:, 1] if den is not None else len(num))


def bootstrap_sums(columns: list[np.ndarray], n_bootstrap: int, seed: int | None) -> np.ndarray:
    """(n_bootstrap, m) sums of each of m columns over rows resampled with replacement.

    One set of resamples serves every column, so several estimates on one log (``hub
    evaluate`` has six) pay for one draw, not one each. Every sum is the one
    ``bootstrap_ratio`` has always computed, ``column[idx].sum(axis=1)`` on ``_CHUNK // n``
    replicates drawn at once, so a seed gives the same replicates to the last bit whichever
    columns share the draw. A log over ``_CHUNK / 2`` rows (one replicate per draw) is summed
    in pieces by ``_tree_sums``, which keeps memory bounded and the bits unchanged.
    """
    rng = np.random.default_rng(seed)
    n = len(columns[0])
    out = np.empty((n_bootstrap, len(columns)))
    step = max(1, _CHUNK // n)
    for start in range(0, n_bootstrap, step):
        b = min(step, n_bootstrap - start)
        if b == 1 and n > _LEAF:
            out[start] = _tree_sums(columns, rng, n, n)
            continue
        idx = rng.integers(0, n, size=(b, n))
        for j, col in enumerate(columns):
            out[start : start + b, j] = np.take(col, idx).sum(axis=1)  # col[idx], faster
    return out


def _tree_sums(columns: list[np.ndarray], rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """Sums of each column over ``length`` rows drawn from ``rng``, at most ``_LEAF`` gathered at once.

    numpy sums a row pairwise: it splits it at half its length rounded down to a multiple of
    8 and adds the two halves' sums. Splitting the same way, drawing each piece's indices in
    order (the generator's stream does not depend on how a draw is split), reproduces the
    one-shot sum exactly.
    """
    if length <= _LEAF:
        idx = rng.integers(0, n, size=length)
        return np.array([np.take(col, idx).sum() for col in columns])
    half = length // 2 - length // 2 % 8
    return _tree_sums(columns, rng, n, half) + _tree_sums(columns, rng, n, length - half)


def _estimate(method, value, reps, n, w, alpha) -> Estimate:
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    ess = float(w.sum() ** 2 / (w**2).sum()) if (w**2).sum() > 0 else 0.0
    return Estimate(method, float(value), float(lo), float(hi), float(reps.std(ddof=1)), n, ess)


def ips(
    actions,
    rewards,
    propensities,
    target,
    *,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    seed: int | None = 0,
    reps: np.ndarray | None = None,
) -> Estimate:
    """Inverse propensity scoring; ``reps``: bootstrap replicates already drawn (see ``evaluate_log``)."""
    a, r, p, t = _check(actions, rewards, propensities, target)
    w = importance_weights(a, p, t)
    if reps is None:
        reps = bootstrap_ratio(w * r, None, n_bootstrap, seed)
    return _estimate("ips", np.mean(w * r), reps, len(a), w, alpha)


def snips(
    actions,
    rewards,
    propensities,
    target,
    *,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    seed: int | None = 0,
    reps: np.ndarray | None = None,
) -> Estimate:
    """Self-normalized IPS; ``reps``: bootstrap replicates already drawn (see ``evaluate_log``)."""
    a, r, p, t = _check(actions, rewards, propensities, target)
    w = importance_weights(a, p, t)
    if w.sum() == 0:
        raise DecisionError("the target policy never takes a logged action; SNIPS is undefined.")
    if reps is None:
        reps = bootstrap_ratio(w * r, w, n_bootstrap, seed)
    return _estimate("snips", (w * r).sum() / w.sum(), reps, len(a), w, alpha)


def _design(X: np.ndarray, action: np.ndarray, k: int) -> np.ndarray:
    return np.hstack([X, np.eye(k)[action]])


def _predict(model, Z: np.ndarray) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return model.predict_proba(Z)[:, 1]
    return model.predict(Z)


def reward_predictions(
    X, actions, rewards, k: int, *, reward_model: Any = None, n_folds: int = 2, seed: int | None = 0
) -> np.ndarray:
    """Cross-fitted ``q(x_i, a)`` for every row and action, shape (n, k).

    The model sees ``[x, one_hot(a)]``; pass a pipeline (e.g. with PolynomialFeatures or a
    gradient-boosted model) for interactions. Classifiers are read through ``predict_proba``.
    """
    X = np.nan_to_num(np.asarray(X, dtype=float))
    a = np.asarray(actions)
    r = np.asarray(rewards, dtype=float)
    base = Ridge(alpha=1.0) if reward_model is None else reward_model
    q = np.empty((len(a), k))
    for train, test in KFold(n_folds, shuffle=True, random_state=seed).split(X):
        model = clone(base).fit(_design(X[train], a[train], k), r[train])
        for j in range(k):
            q[test, j] = _predict(model, _design(X[test], np.full(len(test), j), k))
    return q


def doubly_robust(
    X,
    actions,
    rewards,
    propensities,
    target,
    *,
    reward_model: Any = None,
    n_folds: int = 2,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    seed: int | None = 0,
    q: np.ndarray | None = None,
    reps: np.ndarray | None = None,
) -> Estimate:
    """Doubly robust estimate; ``q`` (n, k) may be passed to reuse reward predictions, and
    ``reps`` to reuse bootstrap replicates already drawn (see ``evaluate_log``)."""
    a, r, p, t = _check(actions, rewards, propensities, target)
    k = t.shape[1]
    if q is None:
        q = reward_predictions(X, a, r, k, reward_model=reward_model, n_folds=n_folds, seed=seed)
    w = importance_weights(a, p, t)
    terms = dr_terms(a, r, p, t, q)
    if reps is None:
        reps = bootstrap_ratio(terms, None, n_bootstrap, seed)
    return _estimate("dr", terms.mean(), reps, len(a), w, alpha)


def dr_terms(actions, rewards, propensities, target, q) -> np.ndarray:
    """Per-row doubly robust values; their mean is the DR estimate."""
    a, r, p, t = _check(actions, rewards, propensities, target)
    w = importance_weights(a, p, t)
    return (t * q).sum(axis=1) + w * (r - q[np.arange(len(a)), a])


def paired_difference(
    terms_a: np.ndarray,
    terms_b: np.ndarray,
    *,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    seed: int | None = 0,
) -> Estimate:
    """Value of policy A minus policy B from per-row terms on the same log (paired bootstrap).

    Much tighter than comparing two separate intervals, since both policies share the rows.
    """
    diff = np.asarray(terms_a, dtype=float) - np.asarray(terms_b, dtype=float)
    reps = bootstrap_ratio(diff, None, n_bootstrap, seed)
    return _estimate("dr_diff", diff.mean(), reps, len(diff), np.ones(len(diff)), alpha)


def evaluate(X, actions, rewards, propensities, target, **kwargs: Any) -> dict[str, Estimate]:
    """IPS, SNIPS and DR side by side, sharing one set of reward predictions."""
    boot = {k: v for k, v in kwargs.items() if k in ("n_bootstrap", "alpha", "seed")}
    a = np.asarray(actions)
    t = np.asarray(target, dtype=float)
    q = reward_predictions(
        X,
        a,
        rewards,
        t.shape[1],
        reward_model=kwargs.get("reward_model"),
        n_folds=kwargs.get("n_folds", 2),
        seed=kwargs.get("seed", 0),
    )
    return {
        "ips": ips(a, rewards, propensities, t, **boot),
        "snips": snips(a, rewards, propensities, t, **boot),
        "dr": doubly_robust(X, a, rewards, propensities, t, q=q, **boot),
    }
