"""Apprentice mode: follow the legacy rules while learning, take over action by action.

Azure Personalizer's apprentice mode imitates the current logic until the match rate is high.
Here the hand-over is per action and per row: an action may be chosen by the engine only once
it has at least ``min_observations`` outcomes and, for this row, a posterior width at most
``max_width``; and all at once when it ``graduated``: the pipeline measured the engine's policy
earning more than the rules' (decision/graduation.py). The inner policy picks among those mature eligible actions plus the legacy
choice, so with nothing mature the legacy action is followed, and propensities stay exact for
the decision actually made (the restricted mask is part of the policy). With no rules (no
``baseline``) there is no choice to follow: the engine picks among the actions it has measured
(:meth:`Apprentice.measured`), so an action nothing has measured waits for the free share.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from hub.errors import DecisionError

from .base import Choice, Policy, masked


class Apprentice(Policy):
    """Wrap ``policy``; ``choose_many(X, mask, baseline=legacy_actions)``.

    >>> import numpy as np
    >>> from decision.policies import LinearThompson
    >>> p = Apprentice(LinearThompson(n_actions=3, seed=0), min_observations=10)
    >>> c = p.choose_many(np.zeros((2, 1)), baseline=np.array([2, 0]))
    >>> c.actions.tolist(), c.from_baseline.tolist()
    ([2, 0], [True, True])
    """

    def __init__(
        self, policy: Policy, min_observations: int = 100, max_width: float = float("inf"), graduated: bool = False
    ):
        self.policy = policy
        self.min_observations = min_observations
        self.max_width = max_width
        #: handed over for good (decision/graduation.py: measured better than the rules)
        self.graduated = graduated
        self.n_actions = policy.n_actions

    @property
    def exact_propensities(self) -> bool:  # type: ignore[override]
        return self.policy.exact_propensities

    @property
    def _rng(self) -> np.random.Generator:
        return self.policy._rng

    @_rng.setter
    def _rng(self, value: np.random.Generator) -> None:
        pass  # randomness is the inner policy's

    @property
    def n_obs_(self) -> np.ndarray:
        return self.policy.n_obs_

    @classmethod
    def _param_names(cls) -> list[str]:
        return ["policy", "min_observations", "max_width", "graduated"]

    def _check_X(self, X):
        X = self.policy._check_X(X)
        self.n_features_in_ = self.policy.n_features_in_
        return X

    def _init_state(self, n_features: int) -> None:
        pass

    def mature(self, X: Any) -> np.ndarray:
        """(n, k) bool: actions the engine may choose on its own for each row."""
        X = self._check_X(X)
        return self._mature(X)

    def _one_batch(self):  # noqa: ANN202
        """The inner policy's batch scope (widths computed once), where it has one."""
        scope = getattr(self.policy, "one_batch", None)
        return scope() if scope is not None else contextlib.nullcontext()

    def _mature(self, X: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Mature pairs; with a ``mask``, only its pairs are judged (the rest may be True)."""
        counts, width = self.policy.n_obs_, self.policy._width(X, mask)
        return (counts >= self.min_observations) & (width <= self.max_width)

    def match_rate(self, X: Any, baseline: Any, mask: Any = None) -> float:
        """Share of rows where the engine's greedy choice equals the legacy one.

        Personalizer suggests leaving apprentice mode at a 60-85 % match; here it is a
        monitoring figure, since the hand-over already happens action by action.
        """
        X = self._check_X(X)
        mask = self._check_mask(mask, len(X))
        greedy = np.argmax(masked(self.policy._predict(X), mask), axis=1)
        return float(np.mean(greedy == self._check_actions(baseline, len(X))))

    def _effective_mask(self, X, mask, baseline):
        if self.graduated:  # no longer needed: free choice
            return mask, np.zeros_like(mask)
        if baseline is None:  # no teacher: what the engine has measured well enough
            return self.measured(mask), np.zeros_like(mask)
        # inside the inner policy's batch scope, the same (X, mask, baseline) arrays are asked
        # for again (choose, then probabilities): answered once
        # (one tuple, read once: a thread sharing the scope never pairs its key with another's mask)
        scope = self.policy.__dict__.get("_batch_scope")
        if scope is not None:
            hit = scope.get("apprentice")
            if hit is not None and hit[0] is X and hit[1] is mask and hit[2] is baseline:
                return hit[3]
        out = self._restricted(X, mask, baseline)
        if scope is not None:
            scope["apprentice"] = (X, mask, baseline, out)
        return out

    def measured(self, mask: np.ndarray) -> np.ndarray:
        """With no rules to follow, the actions open to the engine's own choice: those with
        ``min_observations`` outcomes, or at least half the evidence of the best-measured one.
        So an action nothing has measured (a warm start's log never tried it, or it was just
        added to the catalog) waits for the free share instead of winning most rows on its
        prior's width, while in a cold start, where the actions gather evidence together, the
        first one to mature does not close the others. Rows left with nothing open keep
        ``mask``."""
        counts = self.policy.n_obs_
        top = counts.max(initial=0)
        if top == 0:  # a cold start: nothing measured, nothing to prefer
            return mask
        opened = counts >= min(self.min_observations, top / 2)
        if opened.all():
            return mask
        allowed = mask & opened
        empty = ~allowed.any(axis=1)
        allowed[empty] = mask[empty]
        return allowed

    def _restricted(self, X, mask, baseline):  # noqa: ANN001, ANN202
        allowed = mask & self._mature(X, mask)
        legacy = np.zeros(mask.shape, dtype=bool)
        if len(X) == 1:  # a real-time row: the same writes by scalar index, no index arrays
            if baseline is not None:
                b = int(self._check_actions(baseline, 1)[0])
                if mask[0, b]:  # a legacy action the rules now forbid is not followed
                    legacy[0, b] = allowed[0, b] = True
            if not np.count_nonzero(allowed):
                allowed[0] = mask[0]
            return allowed, legacy
        if baseline is not None:
            b, rows = self._check_actions(baseline, len(X)), np.arange(len(X))
            legacy[rows, b] = mask[rows, b]  # a legacy action the rules now forbid is not followed
        allowed |= legacy
        empty = ~allowed.any(axis=1)
        allowed[empty] = mask[empty]  # no legacy and nothing mature: the inner policy explores
        return allowed, legacy

    def choose_many(self, X: Any, mask: Any = None, baseline: Any = None) -> Choice:
        """Choose per row; ``baseline`` (n,) int holds the legacy rules' action per row."""
        X = self._check_X(X)
        mask = self._check_mask(mask, len(X))
        with self._one_batch():
            eff, legacy = self._effective_mask(X, mask, baseline)
            actions, prop = self.policy._choose(X, eff)
            scores = masked(self.policy._predict(X), mask)
        followed = legacy[np.arange(len(X)), actions]
        return Choice(actions.astype(np.intp), prop.astype(float), scores, followed)

    def choose_mixed(
        self, X: Any, mask: Any, baseline: Any, free: np.ndarray, share: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The engine's choice in one call: per row the apprentice's action, or on the ``free``
        rows the inner policy's own, and (n, k) each action's probability under the mixture
        ``(1 - share) * apprentice + share * inner policy``. The same draws in the same order as
        :meth:`choose_many`, the inner ``choose_many`` on the free rows, then both
        ``probabilities_many``, with the inputs checked once (a real-time decision's row pays
        for every check as much as for the work)."""
        X = self._check_X(X)
        mask = self._check_mask(mask, len(X))
        with self._one_batch():
            eff, _ = self._effective_mask(X, mask, baseline)
            return self.policy._mixed(X, eff, mask, free, share)

    def choose_one(self, x: Any, mask: Any = None, baseline: int | None = None) -> tuple[int, float]:
        m = None if mask is None else np.asarray(mask, dtype=bool)[None, :]
        b = None if baseline is None else [int(baseline)]
        c = self.choose_many(np.asarray(x, dtype=float)[None, :], m, b)
        return int(c.actions[0]), float(c.propensities[0])

    def probabilities_many(self, X: Any, mask: Any = None, baseline: Any = None) -> np.ndarray:
        X = self._check_X(X)
        mask = self._check_mask(mask, len(X))
        with self._one_batch():
            eff, _ = self._effective_mask(X, mask, baseline)
            return self.policy._probabilities(X, eff)

    def _predict(self, X):
        return self.policy._predict(X)

    def _width(self, X, mask=None):
        return self.policy._width(X, mask)

    def _learn(self, X, actions, rewards, propensities) -> None:
        self.policy._learn(X, actions, rewards, propensities)

    def _feature_weights(self, action: int) -> np.ndarray:
        return self.policy._feature_weights(action)

    def _contributions(self, x: np.ndarray, action: int) -> np.ndarray:
        return self.policy._contributions(x, action)

    def _row_contributions(self, X: np.ndarray, i: int, action: int) -> np.ndarray:
        return self.policy._row_contributions(X, i, action)

    def _encode_params(self) -> dict[str, Any]:
        return {
            "policy": self.policy._snapshot(),
            "min_observations": self.min_observations,
            "max_width": self.max_width,
            "graduated": self.graduated,
        }

    @classmethod
    def _decode_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        inner = params.get("policy")
        if not isinstance(inner, dict):
            raise DecisionError("apprentice snapshot lacks its inner policy.")
        return {**params, "policy": Policy._restore(inner)}

    def _encode_state(self) -> dict[str, Any]:
        return {}

    def _snapshot(self) -> dict[str, Any]:
        snap = super()._snapshot()
        snap["rng"] = None  # the inner snapshot carries the RNG
        return snap
