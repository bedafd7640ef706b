"""The logging policy's propensities, estimated when the log did not record them.

A multinomial logistic model of the logged action on the logged context. Only the context and
the action are read (never the reward), so fitting on every logged row leaks nothing into the
evaluation. Estimates are floored at ``clip``: an IPS weight of 1 / 0.001 from a near-certain
model would let one row decide the verdict; the floor bounds every weight by ``1 / clip`` at the
price of a little bias where the log really almost never tried an action. The rows are not
renormalized after the floor (the textbook ``1 / max(p_hat, clip)``, Strehl et al. 2010):
renormalizing would shrink the likely actions' propensities by up to ``1 + (k - 1) * clip`` and
inflate every IPS value resting on them by as much (8% with 5 actions at 0.02).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(3000, 2))
>>> a = (rng.random(3000) < 0.25).astype(int)
>>> P = estimate_propensities(X, a, 2)
>>> bool(abs(P[:, 1].mean() - 0.25) < 0.03), P.shape
(True, (3000, 2))
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

DEFAULT_CLIP = 0.01
#: rows the logistic model is fitted on at most (the logging policy is simple; more rows only cost time)
MAX_FIT_ROWS = 200_000


def estimate_propensities(
    X: np.ndarray, actions: np.ndarray, n_actions: int, *, clip: float = DEFAULT_CLIP, seed: int | None = 0
) -> np.ndarray:
    """(n, k) estimated probability of each action given the context, floored at ``clip`` (a row
    may sum to a little over 1). Actions never logged get ``clip`` everywhere."""
    X = np.nan_to_num(np.asarray(X, dtype=float))
    a = np.asarray(actions, dtype=np.intp)
    n = len(a)
    rows = np.arange(n)
    if n > MAX_FIT_ROWS:
        rows = np.random.default_rng(seed).choice(n, MAX_FIT_ROWS, replace=False)
    seen = np.unique(a[rows])
    P = np.zeros((n, n_actions))
    if len(seen) == 1:
        P[:, seen[0]] = 1.0
    else:
        mu, sd = X[rows].mean(axis=0), X[rows].std(axis=0)
        sd[sd == 0] = 1.0
        model = LogisticRegression(C=1.0, max_iter=500)
        model.fit((X[rows] - mu) / sd, a[rows])
        P[:, model.classes_] = model.predict_proba((X - mu) / sd)
    return np.maximum(P, clip)


def logged_propensity(P: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """(n,) the probability of the action each row actually took."""
    return P[np.arange(len(actions)), np.asarray(actions, dtype=np.intp)]
