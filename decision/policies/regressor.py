"""Epsilon-greedy and softmax exploration over any scikit-learn regressor.

One clone of ``estimator`` per action (disjoint models). A regressor with ``partial_fit`` is
updated incrementally; any other is refitted on a per-action buffer of the most recent
``buffer_size`` rows. Both exploration rules have exact propensities.

Snapshots store the fitted estimators' public array attributes, not pickles, so only estimators
whose fitted state is arrays and scalars (linear models, SGD) can be saved; others raise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import Ridge

from hub.errors import DecisionError

from ._gaussian import group_rows
from .base import Policy, argmax_ties, masked

_SIMPLE = (int, float, str, bool, type(None), np.ndarray, np.generic)
# regressors whose predict is exactly X @ coef_ + intercept_: scored for all actions in one matmul
_LINEAR = {
    "LinearRegression",
    "Ridge",
    "RidgeCV",
    "SGDRegressor",
    "Lasso",
    "LassoCV",
    "ElasticNet",
    "ElasticNetCV",
    "BayesianRidge",
    "ARDRegression",
    "HuberRegressor",
    "Lars",
    "LassoLars",
    "PassiveAggressiveRegressor",
    "TheilSenRegressor",
    "QuantileRegressor",
}


class _RegressorPolicy(Policy):
    def _init_state(self, n_features: int) -> None:
        k = self.n_actions
        self.estimators_: list[Any] = [None] * k
        self.buffer_X_ = [np.empty((0, n_features)) for _ in range(k)]
        self.buffer_y_ = [np.empty(0) for _ in range(k)]
        self.n_obs_ = np.zeros(k)

    def _base(self) -> Any:
        return Ridge(alpha=1.0) if self.estimator is None else self.estimator

    def _predict(self, X: np.ndarray) -> np.ndarray:
        out = np.full((len(X), self.n_actions), float(self.initial_score))
        fitted = [a for a, est in enumerate(self.estimators_) if est is not None]
        if not fitted:
            return out
        if type(self._base()).__name__ in _LINEAR and type(self._base()).__module__.startswith("sklearn.linear_model"):
            W = np.stack([np.ravel(self.estimators_[a].coef_) for a in fitted])
            b = np.array([np.ravel(self.estimators_[a].intercept_)[0] for a in fitted])
            out[:, fitted] = X @ W.T + b
            return out
        for a in fitted:
            out[:, a] = self.estimators_[a].predict(X)
        return out

    def _learn(self, X, actions, rewards, propensities) -> None:
        incremental = hasattr(self._base(), "partial_fit")
        for a, rows in group_rows(actions):
            self.n_obs_[a] += len(rows)
            if self.estimators_[a] is None:
                self.estimators_[a] = clone(self._base())
            if incremental:
                self.estimators_[a].partial_fit(X[rows], rewards[rows])
                continue
            bx = np.vstack([self.buffer_X_[a], X[rows]])[-self.buffer_size :]
            by = np.concatenate([self.buffer_y_[a], rewards[rows]])[-self.buffer_size :]
            self.buffer_X_[a], self.buffer_y_[a] = bx, by
            self.estimators_[a].fit(bx, by)

    def _feature_weights(self, action: int) -> np.ndarray:
        est = self.estimators_[action]
        if est is None:
            return np.zeros(self.n_features_in_)
        coef = getattr(est, "coef_", None)
        if coef is None:
            raise DecisionError(f"{type(est).__name__} has no coef_; only linear models explain.")
        return np.ravel(coef)

    # persistence: fitted estimators as their plain attributes
    def _encode_params(self) -> dict[str, Any]:
        params = dict(self.get_params())
        est = params.pop("estimator")
        if est is not None:
            params["estimator"] = {
                "class": f"{type(est).__module__}.{type(est).__qualname__}",
                "params": est.get_params(deep=False),
            }
        return params

    @classmethod
    def _decode_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        params = dict(params)
        spec = params.pop("estimator", None)
        params["estimator"] = None if spec is None else _build_estimator(spec)
        return params

    def _encode_state(self) -> dict[str, Any]:
        state = super()._encode_state()
        fitted = []
        for est in self.estimators_:
            if est is None:
                fitted.append(None)
                continue
            params = est.get_params(deep=False)
            attrs = {k: v for k, v in vars(est).items() if k not in params}
            bad = [k for k, v in attrs.items() if not isinstance(v, _SIMPLE)]
            if bad:
                raise DecisionError(
                    f"cannot snapshot {type(est).__name__}: attributes {bad} are not arrays or "
                    "scalars; use a linear or SGD regressor for policies that must be saved."
                )
            fitted.append(attrs)
        state["estimators_"] = fitted
        return state

    def _decode_state(self, state: dict[str, Any]) -> None:
        fitted = state.pop("estimators_")
        super()._decode_state(state)
        self.estimators_ = []
        for attrs in fitted:
            est = None
            if attrs is not None:
                est = clone(self._base())
                for k, v in attrs.items():
                    setattr(est, k, v)
            self.estimators_.append(est)


def _build_estimator(spec: dict[str, Any]) -> Any:
    """Rebuild a scikit-learn estimator from its class path; only sklearn classes are allowed."""
    import importlib

    module, _, name = spec["class"].rpartition(".")
    if not module.startswith("sklearn."):
        raise DecisionError(f"refusing to rebuild non-scikit-learn estimator {spec['class']!r}.")
    return getattr(importlib.import_module(module), name)(**spec["params"])


class EpsilonGreedy(_RegressorPolicy):
    """Greedy on the regressors' predictions, uniform over eligible actions with prob. epsilon.

    >>> import numpy as np
    >>> p = EpsilonGreedy(n_actions=2, epsilon=0.0, seed=0)
    >>> _ = p.learn_many(np.ones((4, 1)), [0, 1, 0, 1], [0.0, 1.0, 0.0, 1.0])
    >>> p.choose_one([1.0])
    (1, 1.0)
    """

    def __init__(
        self,
        n_actions: int,
        estimator: Any = None,
        epsilon: float = 0.1,
        buffer_size: int = 5000,
        initial_score: float = 0.0,
        seed: int | None = None,
    ):
        self.n_actions = n_actions
        self.estimator = estimator
        self.epsilon = epsilon
        self.buffer_size = buffer_size
        self.initial_score = initial_score
        self.seed = seed
        self._seed_rng()

    def _probabilities(self, X, mask):
        ties = argmax_ties(self._predict(X), mask)
        greedy = ties / ties.sum(axis=1, keepdims=True)
        uniform = mask / mask.sum(axis=1, keepdims=True)
        return (1.0 - self.epsilon) * greedy + self.epsilon * uniform


class Softmax(_RegressorPolicy):
    """Boltzmann exploration: P(a) proportional to exp(prediction / temperature) when eligible.

    >>> import numpy as np
    >>> p = Softmax(n_actions=2, temperature=1.0, seed=0)
    >>> round(float(p.probabilities_many(np.zeros((1, 1)))[0, 0]), 2)
    0.5
    """

    def __init__(
        self,
        n_actions: int,
        estimator: Any = None,
        temperature: float = 0.1,
        buffer_size: int = 5000,
        initial_score: float = 0.0,
        seed: int | None = None,
    ):
        self.n_actions = n_actions
        self.estimator = estimator
        self.temperature = temperature
        self.buffer_size = buffer_size
        self.initial_score = initial_score
        self.seed = seed
        self._seed_rng()

    def _probabilities(self, X, mask):
        z = masked(self._predict(X), mask) / self.temperature
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
