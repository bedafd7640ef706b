"""The one interface every policy implements, in the river / scikit-learn mould.

Hyperparameters (and ``seed``) are set in ``__init__`` and never changed by learning; learned
state lives in public trailing-underscore attributes; randomness comes from one numpy
Generator so the same seed gives the same choices. The batch methods (``*_many``) are the fast
path; the ``*_one`` methods are thin wrappers for the real-time API.

A subclass implements ``_init_state``, ``_predict``, ``_learn`` and either ``_probabilities``
(exact policies; choosing samples from it) or ``_choose`` (sampling policies such as Thompson
sampling, whose action probabilities are estimated by Monte-Carlo).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hub.errors import DecisionError

from . import _state

STATE_VERSION = 1


@dataclass(frozen=True)
class Choice:
    """What a policy decided for a batch.

    ``actions`` (n,) int: the chosen action per row. ``propensities`` (n,) float: the probability
    the policy had of choosing that action under the mask (what off-policy evaluation needs).
    ``scores`` (n, k): expected reward, ``-inf`` where the action was not eligible.
    ``from_baseline`` (n,) bool, only from :class:`~decision.policies.Apprentice`: rows where the
    legacy choice was chosen.
    """

    actions: np.ndarray
    propensities: np.ndarray
    scores: np.ndarray
    from_baseline: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.actions)


def masked(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Copy of ``values`` with ``-inf`` where ``mask`` is False."""
    return np.where(mask, values, -np.inf)


def argmax_ties(values: np.ndarray, mask: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
    """Boolean (n, k): the eligible actions tied for the row maximum."""
    v = masked(values, mask)
    top = v.max(axis=1, keepdims=True)
    return mask & (v >= top - rtol * (1.0 + np.abs(top)))


def win_shares(winners: np.ndarray, k: int) -> np.ndarray:
    """(n, k) share of Monte-Carlo draws each action won, from winners of shape (m, n)."""
    # each (row, action) pair's count of wins, divided by the draws: what ``.mean(axis=0)`` of
    # the one-hot wins computes (whole counts are exact in float64), in one bincount
    m, n = winners.shape
    counts = np.bincount((winners + np.arange(n) * k).ravel(), minlength=n * k)
    return counts.reshape(n, k) / m


def mc_winners(
    mean: np.ndarray,
    noise: Callable[[int, int], np.ndarray],
    m: int,
    mask: np.ndarray,
    chunk: int | None = None,
) -> np.ndarray:
    """(m, n) argmax over eligible actions of ``mean + noise(j0, j1)[j]`` for m noise draws.

    ``noise(j0, j1)`` returns draws j0..j1-1 with shape (j1 - j0, n, k) or broadcastable to it.
    Draws are made chunk by chunk in float32 (only the argmax matters), so the (m, n, k) array
    never exists at once. The default chunk holds about 64k numbers: 8 draws for a 1,000-row
    batch of 9 actions, all of them at once for a real-time decision (one loop step, not 13).
    """
    if chunk is None:
        chunk = max(8, (1 << 16) // max(1, mean.size))
    base = np.where(mask, mean, -np.inf).astype(np.float32)
    if chunk >= m:  # one step (a real-time decision): no output buffer to fill
        return (np.asarray(noise(0, m), dtype=np.float32) + base).argmax(axis=2)
    out = np.empty((m, mean.shape[0]), dtype=np.intp)
    for s in range(0, m, chunk):
        e = min(m, s + chunk)
        v = np.asarray(noise(s, e), dtype=np.float32) + base
        out[s:e] = np.argmax(v, axis=2)
    return out


#: rows from which :func:`crn_win_counts` counts by elementwise passes; fewer rows' draws cost
#: less as one short argmax per (draw, row)
CRN_PASS_ROWS = 32


def crn_win_counts(mean: np.ndarray, sd: np.ndarray, z: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(n, k) int: of the m draws ``mean + z[j] * sd`` (z: (m, k) common random numbers), how
    many each eligible action wins per row; ties go to the first action, as argmax's do.

    The same float32 scores and winners as :func:`mc_winners` with ``z[j] * sd`` as the noise.
    For a batch, with the actions on the middle axis, the row maximum is an elementwise maximum
    over k slices and each action's wins an elementwise count, instead of one short argmax per
    (draw, row): about a third of the cost. A draw where two actions tie at the top is counted
    for both there; rows with one are recounted by argmax.
    """
    m, (n, k) = len(z), mean.shape
    if n < CRN_PASS_ROWS:
        return _argmax_counts(mean, sd, z, mask)
    base = np.ascontiguousarray(np.where(mask, mean, -np.inf).astype(np.float32).T)  # (k, n)
    sd32 = np.ascontiguousarray(sd.astype(np.float32).T)
    counts = np.zeros((k, n), dtype=np.int32)
    chunk = max(1, min(m, 255, (1 << 17) // (n * k)))  # about 128k scores a step; 255 fit a uint8
    scores = np.empty((chunk, k, n), dtype=np.float32)
    top = np.empty((chunk, 1, n), dtype=np.float32)
    won = np.empty((chunk, k, n), dtype=bool)
    for s in range(0, m, chunk):
        c = min(chunk, m - s)
        v, t, w = scores[:c], top[:c], won[:c]
        np.multiply(z[s : s + c, :, None], sd32, out=v)
        v += base
        np.max(v, axis=1, keepdims=True, out=t)
        np.equal(v, t, out=w)
        counts += w.view(np.uint8).sum(axis=0, dtype=np.uint8)
    tied = np.flatnonzero(counts.sum(axis=0) != m)
    if len(tied):  # a float32 tie at some draw's top: the first of the tied actions wins
        counts[:, tied] = _argmax_counts(mean[tied], sd[tied], z, mask[tied]).T
    return np.ascontiguousarray(counts.T)


def _argmax_counts(mean: np.ndarray, sd: np.ndarray, z: np.ndarray, mask: np.ndarray) -> np.ndarray:
    n, k = mean.shape
    if n == 1:  # a real-time row
        return row_win_counts(mean[0], sd[0], z, mask)
    sd32 = sd.astype(np.float32)
    winners = mc_winners(mean, lambda s, e: z[s:e, None] * sd32, len(z), mask)
    return np.bincount((winners + np.arange(n) * k).ravel(), minlength=n * k).reshape(n, k)


def row_win_counts(mean: np.ndarray, sd: np.ndarray, z: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(b, k) int: :func:`crn_win_counts` of one row (``mean``, ``sd``: (k,)) under each of the b
    ``masks`` (b, k), mask j counting the draws of block j of ``z`` (b * m, k): the blocks of a
    real-time decision's mixture in one pass, with :func:`mc_winners`' float32 scores.

    ``sd`` and the masked means are repeated to z's shape first: an operand broadcast over the
    draws steps through k numbers at a time, a contiguous one in one pass (a third of the cost).
    """
    b, k = masks.shape
    m = len(z) // b
    scores = z * sd.astype(np.float32)[None].repeat(len(z), axis=0)
    scores += np.where(masks, mean, -np.inf).astype(np.float32).repeat(m, axis=0)
    winners = scores.argmax(axis=1)
    if b > 1:  # block j's winners counted in the j-th k slots
        winners += _block_offsets(b, k, m)
    return np.bincount(winners, minlength=b * k).reshape(b, k)


@functools.lru_cache(maxsize=8)
def _block_offsets(b: int, k: int, m: int) -> np.ndarray:
    """(b * m,) ``j * k`` on block j's m draws: the same few shapes on every real-time decision."""
    out = np.arange(0, b * k, k).repeat(m)
    out.flags.writeable = False
    return out


class Policy:
    """Base class: a contextual bandit over ``n_actions`` actions.

    Subclasses set ``exact_propensities`` to False when propensities are Monte-Carlo estimates.
    """

    exact_propensities: ClassVar[bool] = True
    _registry: ClassVar[dict[str, type[Policy]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            Policy._registry[cls.__name__] = cls

    # -- parameters ---------------------------------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as passed to ``__init__`` (scikit-learn convention)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def clone(self) -> Policy:
        """A fresh, unfitted policy with the same hyperparameters and seed."""
        params = self.get_params()
        params = {k: v.clone() if isinstance(v, Policy) else v for k, v in params.items()}
        return type(self)(**params)

    def _seed_rng(self) -> None:
        self._rng = np.random.default_rng(getattr(self, "seed", None))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- input checks -------------------------------------------------------------------------

    def _check_X(self, X: Any) -> np.ndarray:
        """X as floats, NaN / inf (unseen or missing features) as 0 (no contribution): the
        caller's array itself when it is already that (never written to), else a copy. The
        same array object lets a linear policy's batch scope recognise its batch at no cost."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise DecisionError(f"X must be a 2-d array (n_rows, n_features); got shape {X.shape}.")
        finite = np.isfinite(X)
        if np.count_nonzero(finite) != finite.size:  # (.all() is a reduction: dearer on one row)
            X = np.where(finite, X, 0.0)  # what np.nan_to_num(nan=0, posinf=0, neginf=0) does, cheaper
        d = getattr(self, "n_features_in_", None)
        if d is None:
            self._init_state(X.shape[1])
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != d:
            raise DecisionError(
                f"X has {X.shape[1]} features but the policy was built on {d}; "
                "bump the feature schema version and start a new policy."
            )
        return X

    def _check_mask(self, mask: Any, n: int) -> np.ndarray:
        k = self.n_actions
        if mask is None:
            return np.ones((n, k), dtype=bool)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (n, k):
            raise DecisionError(f"mask must have shape ({n}, {k}); got {mask.shape}.")
        if n == 1 and np.count_nonzero(mask):  # a real-time row: one count, not two reductions
            return mask
        has = mask.any(axis=1)
        if not has.all():
            empty = ~has
            raise DecisionError(
                f"row {int(np.argmax(empty))} has no eligible action; "
                "keep a no-op action such as 'wait' always eligible."
            )
        return mask

    def _check_actions(self, actions: Any, n: int) -> np.ndarray:
        a = np.asarray(actions)
        if a.shape != (n,) or a.dtype.kind not in "iu":
            raise DecisionError(f"actions must be {n} integers; got shape {a.shape} {a.dtype}.")
        if n == 1:  # a real-time row: one Python comparison instead of two reductions
            if not 0 <= int(a[0]) < self.n_actions:
                raise DecisionError(f"actions must lie in [0, {self.n_actions}); got {a[0]}..{a[0]}.")
        elif n and (a.min() < 0 or a.max() >= self.n_actions):
            raise DecisionError(f"actions must lie in [0, {self.n_actions}); got {a.min()}..{a.max()}.")
        return a.astype(np.intp)

    # -- hooks for subclasses -------------------------------------------------------------------

    def _init_state(self, n_features: int) -> None:
        raise NotImplementedError

    def _predict(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _learn(
        self,
        X: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        propensities: np.ndarray | None,
    ) -> None:
        raise NotImplementedError

    def _probabilities(self, X: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _choose(self, X: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Default for exact policies: sample each row from its action distribution."""
        probs = self._probabilities(X, mask)
        cum = np.cumsum(probs, axis=1)
        u = self._rng.random(len(X))[:, None] * cum[:, -1:]
        actions = np.argmax(cum > u, axis=1)
        return actions, probs[np.arange(len(X)), actions]

    def _draw(self, X: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The actions :meth:`_choose` takes, for a caller that reads the probabilities whole
        instead of each choice's propensity; the random stream moves as in :meth:`_choose`."""
        return self._choose(X, mask)[0]

    def _mixed(
        self, X: np.ndarray, eff: np.ndarray, mask: np.ndarray, free: np.ndarray, share: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`~decision.policies.Apprentice.choose_mixed`'s draws: the actions under ``eff``
        (the ``free`` rows' under ``mask``), then the probabilities under ``eff`` and under
        ``mask`` (only when ``share`` > 0), mixed ``(1 - share)`` to ``share``."""
        actions = np.asarray(self._draw(X, eff), dtype=np.intp)
        if np.count_nonzero(free):
            actions[free] = self._draw(X[free], mask[free])
        p_eff = self._probabilities(X, eff)
        p_free = self._probabilities(X, mask) if share > 0 else p_eff
        return actions, (1 - share) * p_eff + share * p_free

    def _width(self, X: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Posterior standard deviation of the expected reward; zeros when not modelled. A
        policy may leave the pairs outside ``mask`` at 0 rather than compute them."""
        return np.zeros((len(X), self.n_actions))

    # -- public API ---------------------------------------------------------------------------

    def predict_many(self, X: Any) -> np.ndarray:
        """Expected reward of every action for every row, shape (n, k)."""
        return self._predict(self._check_X(X))

    def predict_one(self, x: Any) -> np.ndarray:
        """Expected reward of every action for one row, shape (k,)."""
        return self.predict_many(np.asarray(x, dtype=float)[None, :])[0]

    def choose_many(self, X: Any, mask: Any = None) -> Choice:
        """Choose one eligible action per row, with its propensity and the expected rewards."""
        X = self._check_X(X)
        mask = self._check_mask(mask, len(X))
        scope = getattr(self, "one_batch", None)  # linear policies: means computed once
        with scope() if scope is not None else contextlib.nullcontext():
            actions, propensities = self._choose(X, mask)
            scores = masked(self._predict(X), mask)
        return Choice(actions.astype(np.intp), propensities.astype(float), scores)

    def choose_one(self, x: Any, mask: Any = None) -> tuple[int, float]:
        """Choose for one row: ``(action, propensity)``."""
        m = None if mask is None else np.asarray(mask, dtype=bool)[None, :]
        c = self.choose_many(np.asarray(x, dtype=float)[None, :], m)
        return int(c.actions[0]), float(c.propensities[0])

    def probabilities_many(self, X: Any, mask: Any = None) -> np.ndarray:
        """Probability of each action per row under the mask, shape (n, k); rows sum to 1.

        Exact for exact policies, a Monte-Carlo estimate otherwise. This is the target
        policy's input to :mod:`decision.offpolicy`.
        """
        X = self._check_X(X)
        return self._probabilities(X, self._check_mask(mask, len(X)))

    def learn_many(self, X: Any, actions: Any, rewards: Any, propensities: Any = None) -> Policy:
        """Update from logged (context, action, reward[, propensity]) rows. Returns self."""
        X = self._check_X(X)
        a = self._check_actions(actions, len(X))
        r = np.array(rewards, dtype=float, copy=True)
        if r.shape != (len(X),) or not np.isfinite(r).all():
            raise DecisionError(f"rewards must be {len(X)} finite numbers; got shape {r.shape}.")
        p = None if propensities is None else np.array(propensities, dtype=float, copy=True)
        if len(X):
            self._learn(X, a, r, p)
        return self

    def learn_one(self, x: Any, action: int, reward: float, propensity: float | None = None) -> Policy:
        """Update from one row. Returns self."""
        p = None if propensity is None else [propensity]
        return self.learn_many(np.asarray(x, dtype=float)[None, :], [int(action)], [reward], p)

    def evidence_many(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(n_obs (k,), width (n, k))``: observations per action and posterior width per row.

        Used by the apprentice wrapper to decide when an action has earned its place.
        """
        X = self._check_X(X)
        return self.n_obs_.copy(), self._width(X)

    def explain_one(self, x: Any, action: int) -> list[tuple[int, float]]:
        """``[(feature_index, contribution)]`` sorted by absolute contribution, largest first.

        Linear models only: contribution = weight x feature value (the intercept is left out);
        the disjoint linear models measure the value from its average over the rows the action
        learned from (linear SHAP).
        """
        return list(self.explain_iter(x, action))

    def explain_iter(self, x: Any, action: int) -> Iterator[tuple[int, float]]:
        """:meth:`explain_one` as an iterator: a reader of the top few pairs builds only those."""
        return self.explain_row(np.asarray(x, dtype=float)[None, :], 0, action)

    def explain_row(self, X: Any, i: int, action: int) -> Iterator[tuple[int, float]]:
        """:meth:`explain_iter` of row ``i`` of the batch ``X``: inside a linear policy's batch
        scope the batch it decided is checked once, not again for each explanation (a check
        costs a real-time decision as much as the explanation's arithmetic)."""
        contrib = self._row_contributions(self._check_X(X), i, int(action))
        order = (-np.abs(contrib)).argsort(kind="stable").tolist()
        # C iterators, not a generator: a reader that stops after the top few leaves no
        # generator frame to close (closing one raises GeneratorExit inside it)
        return zip(order, map(contrib.tolist().__getitem__, order), strict=True)

    def _row_contributions(self, X: np.ndarray, i: int, action: int) -> np.ndarray:
        """:meth:`_contributions` of row ``i`` of the checked batch ``X``."""
        return self._contributions(X[i], action)

    def _contributions(self, x: np.ndarray, action: int) -> np.ndarray:
        """(d,) each feature's share of the action's predicted reward for row ``x``."""
        return self._feature_weights(action) * x

    def _feature_weights(self, action: int) -> np.ndarray:
        raise DecisionError(f"{type(self).__name__} has no per-feature weights to explain.")

    # -- persistence --------------------------------------------------------------------------

    def _encode_params(self) -> dict[str, Any]:
        return dict(self.get_params())

    @classmethod
    def _decode_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def _encode_state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def _decode_state(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)

    def _snapshot(self) -> dict[str, Any]:
        return {
            "policy": type(self).__name__,
            "version": STATE_VERSION,
            "params": self._encode_params(),
            "state": self._encode_state(),
            "rng": self._rng.bit_generator.state,
        }

    @classmethod
    def _restore(cls, snap: dict[str, Any]) -> Policy:
        if snap.get("version") != STATE_VERSION:
            raise DecisionError(f"unsupported policy snapshot version {snap.get('version')!r}.")
        klass = Policy._registry.get(snap.get("policy", ""))
        if klass is None or not issubclass(klass, cls):
            raise DecisionError(f"unknown policy class {snap.get('policy')!r} in snapshot.")
        policy = klass(**klass._decode_params(snap["params"]))
        policy._decode_state(snap["state"])
        if snap.get("rng") is not None:
            policy._rng.bit_generator.state = snap["rng"]
        return policy

    def state_dict(self) -> dict[str, Any]:
        """JSON-safe snapshot: class name, hyperparameters, learned state and RNG state.

        >>> from decision.policies import BetaBernoulli
        >>> p = BetaBernoulli(n_actions=2, seed=0).learn_many([[0.0]], [1], [1.0])
        >>> q = BetaBernoulli.from_state(p.state_dict())
        >>> q.choose_one([0.0]) == p.choose_one([0.0])
        True
        """
        return _state.encode(self._snapshot())

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Policy:
        """Rebuild a policy from :meth:`state_dict`; its future choices equal the original's."""
        return cls._restore(_state.decode(state))

    def save(self) -> bytes:
        """Snapshot as bytes (npz with a JSON header, never pickle) for a database blob."""
        return _state.to_bytes(self._snapshot())

    @classmethod
    def load(cls, blob: bytes) -> Policy:
        """Inverse of :meth:`save`."""
        return cls._restore(_state.from_bytes(blob))


def save_bundle(policies: dict[str, Policy]) -> bytes:
    """Several named policies in one blob: a model and the helper models it learns with."""
    return _state.to_bytes({"bundle": {name: p._snapshot() for name, p in policies.items()}})


def load_bundle(blob: bytes) -> dict[str, Policy]:
    """Inverse of :func:`save_bundle`; a blob of one :meth:`Policy.save` loads as ``{"policy": it}``.

    >>> from decision.policies import BetaBernoulli
    >>> p = BetaBernoulli(n_actions=2, seed=0)
    >>> sorted(load_bundle(save_bundle({"a": p, "b": p}))), list(load_bundle(p.save()))
    (['a', 'b'], ['policy'])
    """
    snap = _state.from_bytes(blob)
    if "bundle" in snap:
        return {name: Policy._restore(s) for name, s in snap["bundle"].items()}
    return {"policy": Policy._restore(snap)}
