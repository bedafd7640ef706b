"""Beta-Bernoulli Thompson sampling for context-free variant tests (subject lines, templates).

Context is accepted (so the policy fits the common interface) and ignored. Monte-Carlo
propensities use one block of ``n_draws`` Beta draws shared by every row of the batch (each
row then only differs by its eligibility mask), so the cost is n_draws x k random numbers.
"""

from __future__ import annotations

from itertools import starmap

import numpy as np
from numpy.typing import ArrayLike

from decision.draws import SCALAR_DRAWS
from hub.errors import DecisionError

from .base import Policy, masked, mc_winners, win_shares


class BetaBernoulli(Policy):
    """Thompson sampling with a Beta(alpha, beta) prior per action; rewards in [0, 1].

    ``alpha`` / ``beta`` may be one value per action to warm-start from stated priors.

    >>> import numpy as np
    >>> p = BetaBernoulli(n_actions=2, seed=0)
    >>> _ = p.learn_many(np.zeros((100, 0)), [0, 1] * 50, [0.0, 1.0] * 50)
    >>> p.choose_one(np.zeros(0))[0]
    1
    """

    exact_propensities = False

    def __init__(
        self,
        n_actions: int,
        alpha: float | ArrayLike = 1.0,
        beta: float | ArrayLike = 1.0,
        n_draws: int = 100,
        seed: int | None = None,
    ):
        self.n_actions = n_actions
        self.alpha = alpha
        self.beta = beta
        self.n_draws = n_draws
        self.seed = seed
        self._seed_rng()

    def _init_state(self, n_features: int) -> None:
        k = self.n_actions
        self.alpha_ = np.broadcast_to(np.asarray(self.alpha, dtype=float), (k,)).copy()
        self.beta_ = np.broadcast_to(np.asarray(self.beta, dtype=float), (k,)).copy()
        if (self.alpha_ <= 0).any() or (self.beta_ <= 0).any():
            raise DecisionError("alpha and beta must be positive.")
        self.n_obs_ = np.zeros(k)

    def _predict(self, X):
        mean = self.alpha_ / (self.alpha_ + self.beta_)
        return np.broadcast_to(mean, (len(X), self.n_actions)).copy()

    def _width(self, X, mask=None):
        a, b = self.alpha_, self.beta_
        sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        return np.broadcast_to(sd, (len(X), self.n_actions)).copy()

    def __setattr__(self, name: str, value: object) -> None:
        if name.endswith("_") and not name.startswith("_"):  # new state (``alpha_ += x`` assigns too)
            self.__dict__.pop("_pairs_cache", None)
        super().__setattr__(name, value)

    def _pairs(self) -> tuple[tuple[float, float], ...]:
        """Each action's (alpha, beta) as Python floats, once per model state (learning and
        loading assign the state, which drops them)."""
        cached = self.__dict__.get("_pairs_cache")
        if cached is None:
            if not hasattr(self, "alpha_"):
                self._check_X(np.zeros((1, 0)))
            pairs = zip(self.alpha_.tolist(), self.beta_.tolist(), strict=True)
            cached = self.__dict__["_pairs_cache"] = tuple(pairs)
        return cached

    def _learn(self, X, actions, rewards, propensities) -> None:
        if ((rewards < 0) | (rewards > 1)).any():
            raise DecisionError("BetaBernoulli rewards must lie in [0, 1].")
        self.__dict__.pop("_pairs_cache", None)  # (also dropped by the assignments below)
        k = self.n_actions
        self.alpha_ += np.bincount(actions, weights=rewards, minlength=k)
        self.beta_ += np.bincount(actions, weights=1.0 - rewards, minlength=k)
        self.n_obs_ += np.bincount(actions, minlength=k)

    def _mc(self, mask: np.ndarray) -> np.ndarray:
        # common random numbers: one (n_draws, k) block of Beta draws shared by all rows
        draws = self._rng.beta(self.alpha_, self.beta_, size=(self.n_draws, 1, self.n_actions))
        return mc_winners(np.zeros(mask.shape), lambda s, e: draws[s:e], self.n_draws, mask)

    def thompson_draw(self, n: int) -> np.ndarray:
        """(n,) one Thompson choice per row with every action eligible and no propensity: what
        :meth:`choose_many` picks, without the Monte-Carlo estimate of its probability."""
        if n == 1 and self.n_actions <= SCALAR_DRAWS:  # a real-time decision: one row per slot
            return np.array([self.thompson_one()])
        if not hasattr(self, "alpha_"):
            self._check_X(np.zeros((n, 0)))
        return np.argmax(self._rng.beta(self.alpha_, self.beta_, size=(n, self.n_actions)), axis=1)

    def thompson_one(self) -> int:
        """:meth:`thompson_draw` of one row as a Python int: its draws one by one
        (decision/draws.py) and the first largest, as np.argmax takes."""
        v = list(starmap(self._rng.beta, self._pairs()))
        return v.index(max(v))

    def _choose(self, X, mask):
        draws = self._rng.beta(self.alpha_, self.beta_, size=mask.shape)
        actions = np.argmax(masked(draws, mask), axis=1)
        hits = (self._mc(mask) == actions[None]).sum(axis=0)
        return actions, (hits + 1.0) / (self.n_draws + 1.0)

    def _probabilities(self, X, mask):
        return win_shares(self._mc(mask), self.n_actions)
