"""Long-term value: how an action moves a contact's chance of eventually converting, in money.

Why: the immediate reward of a sales call to a lukewarm lead can look good (a meeting now) while
it burns the lead for good; a week of nurture earns little today but raises intent. Pega ranks
by propensity x value; here the long-term term is

    ltv[i, a] = P(convert | contact i after action a) x expected deal value_i
              = clip(p0_i + lift[a, stage_i], 0, 1) x value_i - p0_i x value_i

i.e. the *change* in expected won value the action causes, with ``lift[a, stage]`` the
per-stage shift in eventual conversion learned (shrunk toward zero by ``prior_strength``
pseudo-observations) from contacts' later conversions after each action. It is blended with the
immediate reward by ``decision.arbitration.priority(long_term=..., blend=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LongTermValue:
    """Per (action, stage) mean lift in eventual conversion, with a prior and running sums."""

    n_actions: int
    n_stages: int
    prior_strength: float = 20.0
    prior_lift: np.ndarray | None = None
    #: eventual conversion rate of a contact left alone, before any data (per stage baseline)
    prior_base: float = 0.1
    #: the no-op action: the baseline, so its lift is zero by definition
    wait_action: int | None = None
    sums: np.ndarray = field(init=False)
    counts: np.ndarray = field(init=False)
    baseline_sum: np.ndarray = field(init=False)
    baseline_count: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        shape = (self.n_actions, self.n_stages)
        self.prior = np.zeros(shape) if self.prior_lift is None else np.asarray(self.prior_lift, float).reshape(shape)
        self.sums = np.zeros(shape)
        self.counts = np.zeros(shape)
        self.baseline_sum = np.zeros(self.n_stages)
        self.baseline_count = np.zeros(self.n_stages)

    def learn(self, actions: np.ndarray, stages: np.ndarray, converted: np.ndarray, wait_action: int) -> None:
        """Record eventual conversion (0/1 within the horizon) after each action; ``wait`` rows
        give the per-stage baseline the other actions' lift is measured against."""
        self.wait_action = wait_action
        a, s = np.asarray(actions), np.asarray(stages)
        y = np.asarray(converted, dtype=float)
        np.add.at(self.sums, (a, s), y)
        np.add.at(self.counts, (a, s), 1.0)
        w = a == wait_action
        np.add.at(self.baseline_sum, s[w], y[w])
        np.add.at(self.baseline_count, s[w], 1.0)

    def base_rate(self) -> np.ndarray:
        """(stages,) eventual conversion when waiting, shrunk toward ``prior_base``."""
        k = self.prior_strength
        return (self.baseline_sum + k * self.prior_base) / (self.baseline_count + k)

    def lift(self) -> np.ndarray:
        """(actions, stages) posterior mean change in conversion probability vs waiting."""
        base = self.base_rate()
        mean = np.divide(self.sums, self.counts, out=np.zeros_like(self.sums), where=self.counts > 0)
        raw = mean - base[None, :]
        k = self.prior_strength
        out = (self.counts * raw + k * self.prior) / (self.counts + k)
        if self.wait_action is not None:
            out[self.wait_action] = 0.0
        return out

    def value(self, p_convert: np.ndarray, stages: np.ndarray, deal_value: np.ndarray) -> np.ndarray:
        """(n, actions) change in expected won value each action causes for each contact.

        ``p_convert`` (a lead score's probability) is floored at the stage's learned baseline:
        a cold lead's points say little about what burning it costs."""
        st = np.asarray(stages)
        p0 = np.maximum(np.asarray(p_convert, dtype=float), self.base_rate()[st])[:, None]
        lift = self.lift()[:, st].T
        v = np.asarray(deal_value, dtype=float)[:, None]
        return (np.clip(p0 + lift, 0.0, 1.0) - p0) * v


def explain_long_term(short_best: str, chosen: str, gain: float) -> str:
    """Words for the case where the long-term term overturned the short-term favourite."""
    return (
        f"Chose {chosen} over {short_best}: {short_best} pays more now, but {chosen} raises the "
        f"chance of an eventual deal (long-term value {gain:+.0f})"
    )


def rerank(
    chosen: np.ndarray, short: np.ndarray, long_term: np.ndarray, mask: np.ndarray, weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """Overrule the bandit where its choice loses long-term value and the blend prefers another.

    ``short`` and ``long_term`` are (n, k) in the same units (objective points); the blend is
    :func:`decision.arbitration.priority`'s ``blend * short + (1 - blend) * long_term`` with
    ``blend = 1 - weight``. Only choices whose own long-term value is negative are overruled,
    so exploration among actions that do no lasting harm is left to the bandit. Returns
    ``(actions, overruled)``.
    """
    chosen = np.asarray(chosen, dtype=np.intp)
    if weight <= 0 or len(chosen) == 0:
        return chosen, np.zeros(len(chosen), dtype=bool)
    blended = np.where(mask, (1.0 - weight) * short + weight * long_term, -np.inf)
    best = np.argmax(blended, axis=1)
    rows = np.arange(len(chosen))
    harmful = long_term[rows, chosen] < 0
    over = harmful & (best != chosen) & (blended[rows, best] > blended[rows, chosen])
    return np.where(over, best, chosen), over


def routed_probabilities(
    probs: np.ndarray, short: np.ndarray, long_term: np.ndarray, mask: np.ndarray, weight: float
) -> np.ndarray:
    """(n, k) probability of each final action after :func:`rerank`: it is deterministic given
    the bandit's draw, so a final action gets the bandit's probability of every draw mapped to it."""
    n, k = probs.shape
    if weight <= 0 or n == 0:
        return probs.copy()
    # rerank of every possible draw at once: column a is rerank(np.full(n, a), ...)
    blended = np.where(mask, (1.0 - weight) * short + weight * long_term, -np.inf)
    best = np.argmax(blended, axis=1)[:, None]
    top = np.take_along_axis(blended, best, axis=1)
    draws = np.arange(k)[None, :]
    over = (long_term < 0) & (best != draws) & (top > blended)
    final = np.where(over, best, draws)
    out = np.zeros((n, k))
    np.add.at(out, (np.repeat(np.arange(n), k), final.ravel()), probs.ravel())
    return out


#: default prior lift in eventual conversion by action kind and coarse stage (early, engaged,
#: late, customer): what a marketing-ops team states before any data. Sales outreach to early
#: leads burns them; nurture raises intent; nothing moves a customer. Learning overrides it.
KIND_PRIOR_LIFT: dict[str, tuple[float, float, float, float]] = {
    "email": (0.004, 0.006, 0.004, 0.0),
    "content_offer": (0.004, 0.008, 0.008, 0.0),
    "ad_audience": (0.002, 0.002, 0.002, 0.0),
    "sales_outreach": (-0.03, -0.01, 0.01, 0.0),
    "wait": (0.0, 0.0, 0.0, 0.0),
}
COARSE_STAGES = ("early", "engaged", "late", "customer")
