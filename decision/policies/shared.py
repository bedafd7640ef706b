"""Shared-model linear Thompson sampling: one weight vector over context x action crossings.

The design row of (contact, action) is ``vec(x~ z~_a')`` with ``x~ = [x, 1]`` and
``z~_a = [action_features[a], 1]``: context main effects, action main effects and every
context-by-action interaction. Actions with similar features share evidence, which helps new
actions. With no action features, one-hot actions are used (a disjoint model plus a shared
part); keep ``(d + 1) * (p + 1)`` to a few hundred, since learning costs O(D^3) per batch.

Scores are sampled per row from the exact joint distribution across actions:
``s = M x~ Z~' ... `` has covariance ``Z~ T_n Z~'`` with ``T_n = x~' S x~`` of size (p+1)^2, so
each draw costs O(k p) per row instead of O(D^2).
"""

from __future__ import annotations

import numpy as np

from hub.errors import DecisionError

from ._gaussian import update_block
from .base import Policy, masked, mc_winners, win_shares


class SharedLinearThompson(Policy):
    """Linear Thompson sampling with one model shared by all actions.

    >>> import numpy as np
    >>> p = SharedLinearThompson(n_actions=2, action_features=[[0.0], [1.0]], seed=0)
    >>> _ = p.learn_many(np.ones((100, 1)), [0, 1] * 50, [0.0, 1.0] * 50)
    >>> int(p.choose_one([1.0])[0])
    1
    """

    exact_propensities = False

    def __init__(
        self,
        n_actions: int,
        action_features: list | np.ndarray | None = None,
        exploration: float = 1.0,
        prior_mean: float = 0.0,
        prior_variance: float = 1.0,
        noise_variance: float = 1.0,
        n_draws: int = 100,
        seed: int | None = None,
    ):
        self.n_actions = n_actions
        self.action_features = action_features
        self.exploration = exploration
        self.prior_mean = prior_mean
        self.prior_variance = prior_variance
        self.noise_variance = noise_variance
        self.n_draws = n_draws
        self.seed = seed
        self._seed_rng()

    def _action_design(self) -> np.ndarray:
        k = self.n_actions
        if self.action_features is None:
            F = np.eye(k)
        else:
            F = np.asarray(self.action_features, dtype=float)
            if F.ndim != 2 or len(F) != k:
                raise DecisionError(f"action_features must have shape ({k}, p); got {F.shape}.")
        return np.hstack([F, np.ones((k, 1))])

    def _init_state(self, n_features: int) -> None:
        Zt = self._action_design()
        d1, p1 = n_features + 1, Zt.shape[1]
        D = d1 * p1
        if self.prior_variance <= 0:
            raise DecisionError("prior_variance must be positive.")
        self.precision_ = np.eye(D) / self.prior_variance
        self.cov_ = np.eye(D) * self.prior_variance
        mean = np.zeros((d1, p1))
        mean[-1, -1] = self.prior_mean  # intercept x intercept: the overall expected reward
        self.mean_ = mean.ravel()
        self.b_ = self.precision_ @ self.mean_
        self.n_obs_ = np.zeros(self.n_actions)

    def _xt(self, X: np.ndarray) -> np.ndarray:
        return np.hstack([X, np.ones((len(X), 1))])

    def _predict(self, X: np.ndarray) -> np.ndarray:
        Zt = self._action_design()
        M = self.mean_.reshape(len(X[0]) + 1, Zt.shape[1])
        return self._xt(X) @ M @ Zt.T

    def _score_cov_factors(self, X: np.ndarray) -> np.ndarray:
        """(n, p1, p1) Cholesky factors L_n of T_n = x~' S x~, scaled by the noise variance."""
        Xt = self._xt(X)
        d1 = Xt.shape[1]
        p1 = len(self.mean_) // d1
        A = (Xt @ self.cov_.reshape(d1, -1)).reshape(len(X), p1, d1, p1)  # one BLAS call
        T = np.einsum("njkl,nk->njl", A, Xt) * self.noise_variance
        T = 0.5 * (T + np.swapaxes(T, 1, 2)) + 1e-12 * np.eye(p1)
        return np.linalg.cholesky(T)

    def _width(self, X: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        G = self._noise_factors(X, scale=1.0)
        return np.sqrt((G**2).sum(axis=2))

    def _choose(self, X, mask):
        mean, G = self._predict(X), self._noise_factors(X)
        first = mean + np.einsum("nkb,nb->nk", G, self._rng.standard_normal((len(X), G.shape[2])))
        actions = np.argmax(masked(first, mask), axis=1)
        hits = (self._mc(mean, G, mask) == actions[None]).sum(axis=0)
        return actions, (hits + 1.0) / (1 + self.n_draws)

    def _noise_factors(self, X, scale=None):
        """(n, k, p1): score noise is ``G_n @ eps`` with eps ~ N(0, I_p1)."""
        Zt = self._action_design()
        scale = self.exploration if scale is None else scale
        return scale * np.einsum("ka,nab->nkb", Zt, self._score_cov_factors(X))

    def _mc(self, mean, G, mask):
        # common random numbers across rows, as in LinearThompson
        eps = self._rng.standard_normal((G.shape[2], self.n_draws), dtype=np.float32)
        G32 = G.astype(np.float32)
        return mc_winners(mean, lambda s, e: np.moveaxis(G32 @ eps[:, s:e], 2, 0), self.n_draws, mask)

    def _probabilities(self, X, mask):
        mean, G = self._predict(X), self._noise_factors(X)
        return win_shares(self._mc(mean, G, mask), self.n_actions)

    def _learn(self, X, actions, rewards, propensities) -> None:
        Zt = self._action_design()
        Phi = np.einsum("ni,nj->nij", self._xt(X), Zt[actions]).reshape(len(X), -1)
        update_block(self.precision_, self.cov_, self.b_, self.mean_, Phi, rewards, self.noise_variance)
        self.n_obs_ += np.bincount(actions, minlength=self.n_actions)

    def _feature_weights(self, action: int) -> np.ndarray:
        Zt = self._action_design()
        M = self.mean_.reshape(self.n_features_in_ + 1, Zt.shape[1])
        return (M @ Zt[action])[:-1]
