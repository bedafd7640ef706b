"""Opt-out risk: one pooled model per channel of the chance that a touch makes a contact unsubscribe.

Why: an unsubscribe is rare (a few in a thousand sends) and costly (-30 points), so in the
realized reward of one action it is a heavy-tailed spike. A per-action bandit fitting those
spikes from a few thousand rows extrapolates wildly: on the sandbox it scored a nurture email
at about -3 points for contacts where its true value was about 0, so it stopped sending it and
never learned otherwise. The chance of unsubscribing depends on the contact and on the pressure
already put on the channel far more than on which email it was, so one model per channel learns
it from every touch on that channel. The bandit then learns from the reward with the realized
unsubscribe replaced by this predicted chance: a control variate, the same expected reward
where the model is right, with a fraction of the noise. How much the chance replaces the
realized outcome is set row by row by how sure the model is there (inverse variance weighting),
so a young model, or one asked about a kind of touch it has rarely seen, leans on what happened.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from decision.policies import LinearThompson

#: a probability's weights are small: a prior sd of 0.1 per weight keeps a model fitted on a few
#: hundred touches from swinging its predictions far outside [0, 1]
PRIOR_VARIANCE = 0.01
#: the variance of a rare 0/1 outcome (p (1 - p) at p of about 5%)
NOISE_VARIANCE = 0.05


#: the lowest chance at which an outcome's variance p (1 - p) is taken: a prediction of 0 would
#: otherwise claim a noiseless outcome, and a model saying "no risk" would never be trusted
FLOOR_CHANCE = 0.002


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
    ) -> None:
        self.model: LinearThompson = LinearThompson(
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
        predicted chance, in proportion to how sure the model is of that row (:meth:`trust`: a
        young or unfamiliar one leans on the realized outcome); then the model learns this
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
        trust = self.trust(X, g, p)
        out = r - trust * pts + trust * weight * p
        self.learn(X, groups, pts / weight)
        return out

    def trust(self, X: np.ndarray, groups: np.ndarray, p: np.ndarray) -> np.ndarray:
        """(n,) weight of the predicted chance against the realized outcome, per row: inverse
        variance weighting, ``v_outcome / (v_outcome + v_prediction)`` with ``v_outcome = p (1 - p)``
        and ``v_prediction = z' S z`` the posterior variance of the row's prediction. A channel
        model with little evidence, or a row unlike what it has seen (a call to a brand-new lead
        when it has learned on customers), is uncertain there and the realized outcome counts;
        where it has seen thousands of similar touches its chance replaces the spike."""
        rows = np.flatnonzero(groups >= 0)
        v_pred = np.ones(len(groups))
        v_pred[rows] = self.model.mean_variance(np.asarray(X, dtype=float)[rows], groups[rows])
        q = np.clip(p, FLOOR_CHANCE, 0.5)
        v_out = q * (1 - q)
        return np.where(groups >= 0, v_out / (v_out + v_pred), 0.0)

    @classmethod
    def of(cls, model: LinearThompson) -> OptOutRisk:
        """Wrap a restored model (its snapshot is saved with the bandit's, decision/engine.py)."""
        risk = cls.__new__(cls)
        risk.model = model
        return risk


def channel_groups(channels: Sequence[str | None]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per action, the index of its channel among the distinct ones (-1 for none / wait)."""
    names = tuple(sorted({c for c in channels if c and c != "none"}))
    return np.array([names.index(c) if c and c != "none" else -1 for c in channels], dtype=np.intp), names
