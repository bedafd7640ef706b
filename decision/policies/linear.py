"""Disjoint linear bandits: one Bayesian linear regression per action.

Scores for a batch are computed for all contacts and actions at once: the mean is one matmul
(n, D) x (D, k) and the posterior width ``sqrt(z' S_a z)`` one matmul per action over the rows
where that action is eligible (a few rows: one batched matmul over all pairs), so nothing loops
over rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hub.errors import DecisionError

from ._gaussian import decay_blocks, group_rows, spd_inverse, update_block
from .base import Policy, argmax_ties, crn_win_counts, masked, row_win_counts


def _same_rows(a: np.ndarray, b: np.ndarray) -> bool:
    """The same batch: the same array, or one with equal rows (each ``*_many`` call copies X)."""
    return a is b or (a.shape == b.shape and np.array_equal(a, b))


class _BatchScope:
    """:meth:`_DisjointLinear.one_batch` as a plain context manager (a generator-based one costs
    more than the one-row work it saves; a decision enters it a dozen times)."""

    __slots__ = ("policy", "outer")

    def __init__(self, policy: _DisjointLinear) -> None:
        self.policy = policy
        self.outer = False

    def __enter__(self) -> None:
        if self.policy.__dict__.get("_batch_scope") is None:
            self.policy.__dict__["_batch_scope"] = {}
            self.outer = True

    def __exit__(self, *exc: object) -> None:
        if self.outer:
            self.policy.__dict__["_batch_scope"] = None


class _DisjointLinear(Policy):
    """Per-action posterior ``N(mean_[a], noise-scaled cov_[a])`` over weights of [x, 1].

    Three options, all off by default and all exact under save / restore (their state is
    ordinary sufficient statistics):

    - ``half_life`` (rows): exponential forgetting. Before each batch of m rows is folded in,
      every earlier row's weight is multiplied by ``0.5 ** (m / half_life)`` (see
      :func:`~decision.policies._gaussian.decay_blocks`), for every action, so a reward that
      drifts (seasonality, a market shift) is tracked, and an action left untried drifts back
      toward its prior and gets explored again. ``None``: never forget.
    - ``learn_noise``: learn each action's noise variance instead of assuming
      ``noise_variance``. The conjugate normal-inverse-gamma posterior of the variance ratio
      (prior: ``noise_variance`` worth ``NOISE_PRIOR_ROWS`` rows) scales that action's posterior
      width, so an action whose reward barely varies (an ad click) is not explored as if it
      were as noisy as a sales call, and a heavy-tailed one (a rare -30 unsubscribe) is
      explored with the width its noise really has. Means are unchanged.
    - ``squared_features``: the design is ``[x, x[:, S]**2, 1]`` instead of ``[x, 1]``, so each
      action's reward may bend in the features S (True: every feature; or a list of column
      indices). A second-order term per feature, no cross terms: D grows by |S|, not d^2.
      Rewards that are convex or saturating in a count are common: the unsubscribe risk of one
      more email is near zero for a contact mailed once this week and steep for one mailed
      three times, and a straight line through both misjudges both. For a 0/1 column the square
      repeats the column, so the engine squares only its count-like columns: the widths, a
      (k, n, D) x (D, D) product, are the cost of a batch.
    """

    #: pseudo-rows behind the prior guess ``noise_variance`` when ``learn_noise`` is on
    NOISE_PRIOR_ROWS = 20.0

    def _squared_columns(self, n_features: int) -> np.ndarray:
        """Indices of the input columns that also enter squared."""
        return self._columns(n_features)[0]

    def _columns(self, n_features: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_squared_columns`, and the input column behind each design column (every
        feature, the squared ones again, then column 0 as the intercept's placeholder)."""
        sq, intercept = self.squared_features, self.fit_intercept
        # checked once per (option, width), not once per batch: a one-row decision reads it
        # for the design of every call and the check cost as much as the design itself
        cached = self.__dict__.get("_columns_cache")
        if cached is not None and cached[0] == n_features and cached[1] == intercept and cached[2] == sq:
            return cached[3]
        if sq is True:
            cols = np.arange(n_features)
        elif not sq:
            cols = np.arange(0)
        else:
            cols = np.asarray(sq, dtype=np.intp)
            if cols.ndim != 1 or (cols < 0).any() or (cols >= n_features).any():
                raise DecisionError(f"squared_features holds column indices below {n_features}, got {list(sq)}")
        taken = np.concatenate((np.arange(n_features), cols, np.zeros(int(intercept), dtype=np.intp)))
        cols.flags.writeable = taken.flags.writeable = False
        option = sq if isinstance(sq, bool) else list(sq)
        self.__dict__["_columns_cache"] = (n_features, intercept, option, (cols, taken))
        return cols, taken

    def _n_design(self, n_features: int) -> int:
        """Columns of the design matrix for ``n_features`` input features."""
        return n_features + len(self._squared_columns(n_features)) + int(self.fit_intercept)

    def _prior(self) -> tuple[np.ndarray, np.ndarray]:
        """(k, D, D) prior precision and (k, D) prior ``precision @ mean``."""
        k, D = self.n_actions, self._n_design(self.n_features_in_)
        pv = np.broadcast_to(np.asarray(self.prior_variance, dtype=float), (k,))
        pm = np.broadcast_to(np.asarray(self.prior_mean, dtype=float), (k,))
        p0 = np.eye(D)[None] / pv[:, None, None]
        m0 = np.zeros((k, D))
        if self.fit_intercept:
            m0[:, -1] = pm
        return p0, np.einsum("kde,ke->kd", p0, m0)

    def _init_state(self, n_features: int) -> None:
        k, D = self.n_actions, self._n_design(n_features)
        pv = np.broadcast_to(np.asarray(self.prior_variance, dtype=float), (k,))
        pm = np.broadcast_to(np.asarray(self.prior_mean, dtype=float), (k,))
        if (pv <= 0).any():
            raise DecisionError("prior_variance must be positive.")
        if not self.fit_intercept and (pm != 0).any():
            raise DecisionError("prior_mean needs fit_intercept=True: it is the intercept's prior.")
        if self.half_life is not None and not self.half_life > 0:
            raise DecisionError(f"half_life must be positive rows or None; got {self.half_life!r}.")
        eye = np.eye(D)
        self.precision_ = eye[None] / pv[:, None, None]
        self.cov_ = eye[None] * pv[:, None, None]
        self.mean_ = np.zeros((k, D))
        if self.fit_intercept:
            self.mean_[:, -1] = pm
        self.b_ = np.einsum("kde,ke->kd", self.precision_, self.mean_)
        self.n_obs_ = np.zeros(k)
        self._init_noise_state(k)

    def _init_noise_state(self, k: int) -> None:
        #: discounted sum of squared rewards and discounted row count per action (the
        #: sufficient statistics of the noise variance; also kept when learn_noise is off)
        self.yy_ = np.zeros(k)
        self.n_eff_ = np.zeros(k)

    def _decode_state(self, state):  # noqa: ANN001
        super()._decode_state(state)
        if "yy_" not in state and hasattr(self, "n_obs_"):  # a snapshot from before these existed
            self._init_noise_state(self.n_actions)

    def _scope(self, X: np.ndarray) -> dict | None:
        """The open :meth:`one_batch` scope's cache if X is its batch (the first batch seen in
        the scope), else None."""
        scope = self.__dict__.get("_batch_scope")
        if scope is None:
            return None
        if scope.get("X") is None:
            scope["X"] = X
        elif not _same_rows(scope["X"], X):
            return None
        return scope

    def _check_X(self, X: Any) -> np.ndarray:
        """The base class's check, once per array inside :meth:`one_batch` (the engine hands
        the same rows to the choice, the rerank and the trace: a check each cost a real-time
        row as much as some of the work)."""
        scope = self.__dict__.get("_batch_scope")
        if scope is None:
            return super()._check_X(X)
        hit = scope.get("checked")  # one tuple, read once, as the apprentice's entry
        if hit is not None and hit[0] is X:
            return hit[1]
        out = super()._check_X(X)
        scope["checked"] = (X, out)
        return out

    def _scoped(self, X: np.ndarray, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """``compute()`` for the rows X, kept for the batch inside :meth:`one_batch` (any other
        rows are computed afresh)."""
        scope = self._scope(X)
        if scope is None:
            return compute()
        if key not in scope:
            scope[key] = compute()
        return scope[key]

    def _design(self, X: np.ndarray) -> np.ndarray:
        return self._scoped(X, "design", lambda: self._design_of(X))

    def _design_of(self, X: np.ndarray) -> np.ndarray:
        d = X.shape[1]
        cols, taken = self._columns(d)
        if not len(cols) and not self.fit_intercept:
            return X
        # one gather of every design column's input, then the squares and the intercept in
        # place: np.hstack of [X, X[:, cols] ** 2, ones] costs several times as much on a few rows
        Z = X.take(taken, axis=1)
        squares = Z[:, d : d + len(cols)]
        np.square(squares, out=squares)
        if self.fit_intercept:
            Z[:, -1] = 1.0
        return Z

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self._scoped(X, "mean", lambda: self._design(X) @ self.mean_.T).copy()

    def noise_scale(self) -> np.ndarray:
        """(k,) posterior mean of each action's noise variance divided by ``noise_variance``
        (all ones unless ``learn_noise``)."""
        if not self.learn_noise:
            return np.ones(self.n_actions)
        cached = self.__dict__.get("_noise_scale_cache")
        if cached is None:  # a function of the learned state alone: once per model state
            cached = self.__dict__["_noise_scale_cache"] = self._noise_scale()
        return cached.copy()

    def _noise_scale(self) -> np.ndarray:
        s2 = self.noise_variance
        # the prior mean is the intercept's alone: m0' A0 m0 = prior_mean^2 / prior_variance
        k = self.n_actions
        pv = np.broadcast_to(np.asarray(self.prior_variance, dtype=float), (k,))
        pm = np.broadcast_to(np.asarray(self.prior_mean, dtype=float), (k,))
        prior_q = pm**2 / pv if self.fit_intercept else np.zeros(k)
        q = self.yy_ / s2 + prior_q - np.einsum("kd,kd->k", self.mean_, self.b_)
        nu = self.NOISE_PRIOR_ROWS
        return (nu + np.maximum(q, 0.0)) / (nu + self.n_eff_)

    def _width(self, X: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """(n, k) posterior sd of each action's score per row, for the pairs in ``mask`` (None:
        all); pairs outside it may be 0. The batch's main cost, a (k, n, D) x (D, D) product,
        so inside :meth:`one_batch` it is computed once per batch: a later call that asks for
        pairs not yet computed gets those added."""
        scope = self._scope(X)
        if scope is None:
            return self._width_of(X, mask)[0]
        hit = scope.get("width")
        if hit is None:
            hit = scope["width"] = self._width_of(X, mask)
            return hit[0]
        width, done = hit
        if done is None:  # every pair computed
            return width
        todo = ~done if mask is None else mask & ~done
        if not todo.any():
            return width
        more, _ = self._width_of(X, todo)
        width = np.where(done, width, more)
        scope["width"] = (width, done | todo)
        return width

    #: rows from which a batch's widths are computed action by action over that action's
    #: eligible rows only (about a third of a batch's pairs are ineligible); for fewer rows one
    #: stacked product over all pairs costs less than a Python step per action
    MASKED_WIDTH_ROWS = 64

    def _width_of(self, X: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Widths of the pairs in ``mask`` and the pairs computed (None: all)."""
        # float32 halves the dominant product; widths only scale exploration
        Z = self._design(X).astype(np.float32)
        cov = self._cov32()
        n = len(Z)
        if mask is None or n < self.MASKED_WIDTH_ROWS:
            var = np.einsum("knd,nd->nk", np.matmul(Z[None], cov), Z)
            done = None
        else:
            # each action's rows are the same BLAS product rows as in the stacked product, so
            # the widths are the stacked product's: bit for bit where BLAS sums row i of Z @ S in
            # one order whatever the other rows (OpenBLAS's Haswell kernels), up to float32
            # rounding where the blocking depends on the row count (its Zen kernels on AMD EPYC);
            # a single row goes twice, since numpy sends a one-row product to gemv
            var = np.zeros((self.n_actions, n), dtype=np.float32)
            for a in range(self.n_actions):
                rows = np.flatnonzero(mask[:, a])
                if len(rows) == n:
                    Za = Z
                elif len(rows):
                    Za = Z[rows if len(rows) > 1 else np.repeat(rows, 2)]
                else:
                    continue
                var[a, rows] = np.einsum("nd,nd->n", Za @ cov[a], Za)[: len(rows)]
            var, done = var.T, mask
        return np.sqrt(np.maximum(var.astype(np.float64), 0.0) * self._variance_scale()), done

    def _variance_scale(self) -> float | np.ndarray:
        """What a width's ``z' S_a z`` is multiplied by: ``noise_variance``, times
        :meth:`noise_scale` when the noise is learned (then kept per model state, as that is)."""
        if not self.learn_noise:
            return self.noise_variance
        cached = self.__dict__.get("_variance_scale_cache")
        if cached is None:
            cached = self.__dict__["_variance_scale_cache"] = self.noise_variance * self.noise_scale()
            cached.flags.writeable = False
        return cached

    def mean_variance(self, X: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """(n,) posterior variance ``z' S_a z`` of each row's predicted mean for its own action
        ``actions[i]``: how sure the model is of that prediction (one product per action)."""
        Z = self._design(np.asarray(X, dtype=float))
        actions = np.asarray(actions, dtype=np.intp)
        out = np.empty(len(Z))
        for a, rows in group_rows(actions):
            out[rows] = np.einsum("nd,nd->n", Z[rows] @ self.cov_[a], Z[rows])
        return out

    def __setattr__(self, name: str, value: object) -> None:
        if name.endswith("_") and not name.startswith("_"):  # new state (``cov_ *= c`` assigns too)
            self._drop_caches()
        super().__setattr__(name, value)

    def _drop_caches(self) -> None:
        self.__dict__.pop("_background_cache", None)
        self.__dict__.pop("_cov32_cache", None)
        self.__dict__.pop("_noise_scale_cache", None)
        self.__dict__.pop("_variance_scale_cache", None)

    def _cov32(self) -> np.ndarray:
        """``cov_`` in float32, converted once per model state rather than once per batch (a
        (k, D, D) copy that costs as much as a one-row batch's widths). Learning and any
        assignment to ``cov_`` drop it."""
        cached = self.__dict__.get("_cov32_cache")
        if cached is None:
            cached = self.__dict__["_cov32_cache"] = self.cov_.astype(np.float32)
        return cached

    def one_batch(self) -> _BatchScope:
        """Within this block the model does not change, and the design matrix, means and
        widths of the block's batch (the first rows it sees, or a copy of them) are computed
        once: the apprentice reads widths to judge maturity, then to choose, and the engine
        reads means and probabilities again for budgets and the long-term rerank. Nested
        blocks share the outer one's."""
        return _BatchScope(self)

    def _forget(self, rows: int) -> None:
        factor = 0.5 ** (rows / self.half_life)
        p0, b0 = self._prior()
        decay_blocks(self.precision_, self.b_, p0, b0, factor)
        self.yy_ *= factor
        self.n_eff_ *= factor
        self.cov_ = spd_inverse(self.precision_)
        self.mean_ = np.einsum("kde,ke->kd", self.cov_, self.b_)

    def _learn(self, X, actions, rewards, propensities) -> None:
        self._drop_caches()  # update_block changes the state in place
        if self.half_life is not None:
            self._forget(len(X))
        Z = self._design(X)
        for a, rows in group_rows(actions):
            update_block(
                self.precision_[a],
                self.cov_[a],
                self.b_[a],
                self.mean_[a],
                Z[rows],
                rewards[rows],
                self.noise_variance,
            )
            self.n_obs_[a] += len(rows)
            self.yy_[a] += float(rewards[rows] @ rewards[rows])
            self.n_eff_[a] += len(rows)

    def _feature_weights(self, action: int) -> np.ndarray:
        return self.mean_[action, : self.n_features_in_]

    def _background(self) -> np.ndarray:
        """(k, D) each action's average design row over the rows it learned from, weighted as
        the model weighs them (forgetting included), zero where it learned none. Contributions
        are measured from it (linear SHAP), so a column every contact shares, to which ridge
        gives part of the intercept, explains nothing. Read off the precision's intercept row
        (``sum z / noise``, over ``n / noise``), once per model state."""
        cached = self.__dict__.get("_background_cache")
        if cached is None:
            if self.fit_intercept:
                p0, _ = self._prior()
                data = self.precision_[:, -1, :] - p0[:, -1, :]
                n = data[:, -1:]
                cached = np.divide(data, n, out=np.zeros_like(data), where=n > 1e-12)
            else:
                cached = np.zeros(self.mean_.shape)
            self.__dict__["_background_cache"] = cached
        return cached

    def _row_contributions(self, X: np.ndarray, i: int, action: int) -> np.ndarray:
        """:meth:`_contributions` of row ``i`` from the batch's design where the batch scope
        holds it (the squares the choice computed): the same products, in one multiply."""
        scope = self._scope(X)
        Z = None if scope is None else scope.get("design")
        if Z is None:
            return self._contributions(X[i], action)
        d = self.n_features_in_
        cols = self._squared_columns(d)
        end = d + len(cols)
        # [weight x (feature - its average), weight x (feature squared - its average)]
        both = self.mean_[action, :end] * (Z[i, :end] - self._background()[action, :end])
        out = both[:d]
        out[cols] += both[d:]
        return out

    def _contributions(self, x: np.ndarray, action: int) -> np.ndarray:
        d = self.n_features_in_
        bg = self._background()[action]
        out = self.mean_[action, :d] * (x - bg[:d])
        cols = self._squared_columns(d)
        out[cols] += self.mean_[action, d : d + len(cols)] * (x[cols] ** 2 - bg[d : d + len(cols)])
        return out


class LinUCB(_DisjointLinear):
    """Disjoint LinUCB: pick the highest upper confidence bound ``mean + alpha * width``.

    Ties are broken uniformly, so the propensity is exact (1 / number of tied actions).

    >>> import numpy as np
    >>> p = LinUCB(n_actions=3, alpha=0.5, seed=0)
    >>> X = np.eye(3)
    >>> _ = p.learn_many(X, [0, 1, 2], [0.0, 1.0, 0.0])
    >>> int(p.choose_many(np.eye(3)[[1]]).actions[0])
    1
    """

    def __init__(
        self,
        n_actions: int,
        alpha: float = 1.0,
        prior_mean: float | ArrayLike = 0.0,
        prior_variance: float | ArrayLike = 1.0,
        noise_variance: float = 1.0,
        fit_intercept: bool = True,
        seed: int | None = None,
        half_life: float | None = None,
        learn_noise: bool = False,
        squared_features: bool | list[int] = False,
    ):
        self.n_actions = n_actions
        self.alpha = alpha
        self.prior_mean = prior_mean
        self.prior_variance = prior_variance
        self.noise_variance = noise_variance
        self.fit_intercept = fit_intercept
        self.seed = seed
        self.half_life = half_life
        self.learn_noise = learn_noise
        self.squared_features = squared_features if isinstance(squared_features, bool) else list(squared_features)
        self._seed_rng()

    def _probabilities(self, X, mask):
        ucb = self._predict(X) + self.alpha * self._width(X, mask)
        ties = argmax_ties(ucb, mask)
        return ties / ties.sum(axis=1, keepdims=True)


class LinearThompson(_DisjointLinear):
    """Linear Thompson sampling with one Bayesian linear regression per action.

    Each row draws its own score per action from ``N(x'mean_a, exploration^2 * s2 * x'S_a x)``
    (the exact marginal of the weight posterior, so no (n, k, D) weight draws are needed).
    Propensities are Monte-Carlo estimates over ``n_draws`` further draws, counting the draw that
    was used, so they are always in (0, 1]. The further draws use common random numbers across
    the rows of a batch (one (n_draws, k) block of normals), which makes the estimate cost
    O(n k n_draws) arithmetic instead of as many random numbers; errors are then correlated
    across rows of one batch, not biased.

    ``prior_mean`` / ``prior_variance`` (scalar or one per action) warm-start an action: the
    prior mean is the intercept's, i.e. the expected reward before any data.

    >>> import numpy as np
    >>> p = LinearThompson(n_actions=2, seed=0)
    >>> _ = p.learn_many(np.zeros((200, 1)), [0, 1] * 100, [0.0, 1.0] * 100)
    >>> int(p.choose_one([0.0])[0])
    1
    """

    exact_propensities = False

    def __init__(
        self,
        n_actions: int,
        exploration: float = 1.0,
        prior_mean: float | ArrayLike = 0.0,
        prior_variance: float | ArrayLike = 1.0,
        noise_variance: float = 1.0,
        fit_intercept: bool = True,
        n_draws: int = 100,
        seed: int | None = None,
        half_life: float | None = None,
        learn_noise: bool = False,
        squared_features: bool | list[int] = False,
    ):
        self.n_actions = n_actions
        self.exploration = exploration
        self.prior_mean = prior_mean
        self.prior_variance = prior_variance
        self.noise_variance = noise_variance
        self.fit_intercept = fit_intercept
        self.n_draws = n_draws
        self.seed = seed
        self.half_life = half_life
        self.learn_noise = learn_noise
        self.squared_features = squared_features if isinstance(squared_features, bool) else list(squared_features)
        self._seed_rng()

    def _choose(self, X, mask):
        mean = self._predict(X)
        sd = self.exploration * self._width(X, mask)
        first = mean + sd * self._rng.standard_normal(mean.shape)
        actions = np.argmax(masked(first, mask), axis=1)
        hits = self._mc(mean, sd, mask)[np.arange(len(X)), actions]
        return actions, (hits + 1.0) / (1 + self.n_draws)

    def _draw(self, X, mask):
        mean = self._predict(X)
        sd = self.exploration * self._width(X, mask)
        actions = masked(mean + sd * self._rng.standard_normal(mean.shape), mask).argmax(axis=1)
        # the block _choose counts its propensities' wins in, drawn and left uncounted: every
        # later draw is the one _choose leaves
        self._rng.standard_normal((self.n_draws, 1, self.n_actions), dtype=np.float32)
        return actions

    def _mixed(self, X, eff, mask, free, share):
        if np.count_nonzero(free):
            return super()._mixed(X, eff, mask, free, share)
        # no free row: _draw's normals, then the three blocks of (n_draws, k) it and both
        # probabilities draw in turn, in one call (the same stream: a block is filled in order)
        mean, m, width = self._predict(X), self.n_draws, self._width(X, eff)
        sd = self.exploration * width
        actions = masked(mean + sd * self._rng.standard_normal(mean.shape), eff).argmax(axis=1)
        z = self._rng.standard_normal(((3 if share > 0 else 2) * m, self.n_actions), dtype=np.float32)
        if len(X) == 1 and share > 0 and self._width(X, mask) is width:
            # a real-time row (one width for both masks): both blocks' wins in one pass
            p = row_win_counts(mean[0], sd[0], z[m:], np.concatenate((eff, mask))) / m
            return actions, (1 - share) * p[:1] + share * p[1:]
        p_eff = crn_win_counts(mean, sd, z[m : 2 * m], eff) / m  # z[:m]: the block _draw leaves
        p_free = p_eff
        if share > 0:
            p_free = crn_win_counts(mean, self.exploration * self._width(X, mask), z[2 * m :], mask) / m
        return actions, (1 - share) * p_eff + share * p_free

    def _mc(self, mean, sd, mask):
        """(n, k) wins of each action over ``n_draws`` draws."""
        # common random numbers: one (m, k) block of normals shared by the rows of the batch;
        # each row's estimate is still an average over m independent draws of its own scores
        z = self._rng.standard_normal((self.n_draws, 1, self.n_actions), dtype=np.float32)
        return crn_win_counts(mean, sd, z[:, 0], mask)

    def _probabilities(self, X, mask):
        mean, sd = self._predict(X), self.exploration * self._width(X, mask)
        return self._mc(mean, sd, mask) / self.n_draws
