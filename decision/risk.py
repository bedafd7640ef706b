"""Opt-out risk: one pooled model per channel of the chance that a touch makes a contact unsubscribe.

Why: an unsubscribe is rare (a few in a thousand sends) and costly (-30 points), so in the
realized reward of one action it is a heavy-tailed spike. A per-action bandit fitting those
spikes from a few thousand rows extrapolates wildly: on the sandbox it scored a nurture email
at about -3 points for contacts where its true value was about 0, so it stopped sending it and
never learned otherwise. The chance of unsubscribing depends on the contact and on the pressure
already put on the channel far more than on which email it was, so one model per channel learns
it from every touch on that channel. The bandit then learns from the reward with the realized
unsubscribe replaced by this predicted chance: a control variate, the same expected reward
where the model is right, with a fraction of the noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from decision.policies import LinearThompson, Policy

#: a probability's weights are small: a prior sd of 0.1 per weight keeps a model fitted on a few
#: hundred touches from swinging its predictions far outside [0, 1]
PRIOR_VARIANCE = 0.01
#: the variance of a rare 0/1 outcome (p (1 - p) at p of about 5%)
NOISE_VARIANCE = 0.05


#: touches behind a channel's model at which its prediction and the realized outcome weigh the
#: same. The model is shrunk toward a zero chance, so a young one makes touches look safer than
#: they are: a pipeline of a few hundred contacts must keep learning mostly from what happened (at
#: 2,000 and 10,000 the sandbox learning test's rise fell to the bar), one of thousands smooths soon
MIN_ROWS = 50_000


class OptOutRisk:
    """``probability(X, groups)`` of an unsubscribe after a touch; ``smooth`` rewards with it.

    ``groups`` (n,) holds each row's channel index, or -1 for rows that touch no one (wait): their
    probability is 0 and their reward is left as it is. The model is a Bayesian linear regression
    per channel on the bandit's design (squared count-like columns included), read by its mean.

    >>> import numpy as np
    >>> risk = OptOutRisk(n_groups=1)
    >>> X = np.zeros((1000, 1))
    >>> risk.learn(X, np.zeros(1000, dtype=int), np.r_[np.ones(10), np.zeros(990)])
    >>> round(float(risk.probability(X[:1], np.array([0]))[0]), 3)
    0.01
    """

    def __init__(
        self,
        n_groups: int,
        *,
        squared_features: bool | list[int] = False,
        half_life: float | None = None,
        seed: int | None = None,
        prior_variance: float = PRIOR_VARIANCE,
        noise_variance: float = NOISE_VARIANCE,
        min_rows: float = MIN_ROWS,
    ) -> None:
        self.min_rows = min_rows
        self.model: Policy = LinearThompson(
            n_actions=max(n_groups, 1),
            seed=seed,
            half_life=half_life,
            squared_features=squared_features,
            prior_variance=prior_variance,
            noise_variance=noise_variance,
        )

    @property
    def fitted(self) -> bool:
        return getattr(self.model, "n_features_in_", None) is not None

    def probability(self, X: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """(n,) predicted chance of an unsubscribe, clipped to [0, 1]; 0 without a channel or data."""
        groups = np.asarray(groups, dtype=np.intp)
        out = np.zeros(len(groups))
        rows = np.flatnonzero(groups >= 0)
        if not self.fitted or len(rows) == 0:
            return out
        pred = self.model.predict_many(np.asarray(X, dtype=float)[rows])
        out[rows] = np.clip(pred[np.arange(len(rows)), groups[rows]], 0.0, 1.0)
        return out

    def learn(self, X: np.ndarray, groups: np.ndarray, unsubscribed: np.ndarray) -> None:
        groups = np.asarray(groups, dtype=np.intp)
        rows = np.flatnonzero(groups >= 0)
        if len(rows):
            y = np.clip(np.asarray(unsubscribed, dtype=float)[rows], 0.0, 1.0)
            self.model.learn_many(np.asarray(X, dtype=float)[rows], groups[rows], y)

    def smooth(
        self,
        X: np.ndarray,
        groups: np.ndarray,
        rewards: np.ndarray,
        unsubscribe_points: np.ndarray,
        weight: float,
    ) -> np.ndarray:
        """Rewards with each row's realized unsubscribe points replaced by ``weight`` x the
        predicted chance, in proportion ``n / (n + min_rows)`` to the n touches behind the row's
        channel model (a young model leans on the realized outcome); then the model learns this
        batch. Predicting first means a row's own outcome never leaks into its smoothed reward.
        ``unsubscribe_points`` is the part of each reward that came from unsubscribes (``weight``
        per unsubscribe). The first batch, with nothing learned yet, passes unchanged."""
        pts = np.asarray(unsubscribe_points, dtype=float)
        r = np.asarray(rewards, dtype=float)
        if weight == 0:
            return r.copy()
        if not self.fitted:  # nothing to predict with yet: this batch is learned as it happened
            self.learn(X, groups, pts / weight)
            return r.copy()
        g = np.asarray(groups, dtype=np.intp)
        p = self.probability(X, g)
        # trust the model in proportion to its evidence: with few touches behind a channel's
        # model its prediction is mostly prior, and the realized outcome is the better estimate
        n = self.model.n_eff_[np.maximum(g, 0)]
        trust = np.where(g >= 0, n / (n + self.min_rows), 0.0)
        out = r - trust * pts + trust * weight * p
        self.learn(X, groups, pts / weight)
        return out

    @classmethod
    def of(cls, model: Policy) -> OptOutRisk:
        """Wrap a restored model (its snapshot is saved with the bandit's, decision/engine.py)."""
        risk = cls.__new__(cls)
        risk.model = model
        risk.min_rows = MIN_ROWS
        return risk


def channel_groups(channels: Sequence[str | None]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per action, the index of its channel among the distinct ones (-1 for none / wait)."""
    names = tuple(sorted({c for c in channels if c and c != "none"}))
    return np.array([names.index(c) if c and c != "none" else -1 for c in channels], dtype=np.intp), names
