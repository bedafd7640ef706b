"""Long-term value: how an action moves a contact's chance of eventually converting, in money.

Why: the immediate reward of a sales call to a lukewarm lead can look good (a meeting now) while
it burns the lead for good; a week of nurture earns little today but raises intent. Pega ranks
by propensity x value; here the long-term term is

    ltv[i, a] = P(convert | contact i after action a) x expected deal value_i
              = clip(p0_i + lift[a, stage_i], 0, 1) x value_i - p0_i x value_i

i.e. the *change* in expected won value the action causes, with ``lift[a, stage]`` the
per-stage shift in eventual conversion: a stated prior per action kind (``KIND_PRIOR_LIFT``),
moved toward the uplift the pipeline observes (contacts' conversions after randomized
decisions, importance-weighted) with ``prior_strength`` pseudo-observations for the prior. It is blended with the
immediate reward by ``decision.arbitration.priority(long_term=..., blend=...)``.

A conversion here is an opportunity opened in the ``HORIZON_DAYS`` after the decision's
attribution window closed. Not within the window: the immediate reward already counts those
opportunities, and learning them again as long-term value counted them twice (in the decision
benchmark at 10,000 contacts that cost about a sixth of the reward, overruling the bandit
500,000 times in 16 weeks against 60,000 with the prior alone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

#: days after a decision's attribution window in which an opportunity counts as its long-term conversion
HORIZON_DAYS = 28
#: standard errors a learned move off the prior must clear (see ``LongTermValue.evidence_z``)
EVIDENCE_Z = 2.0


@dataclass
class LongTermValue:
    """Per (action, stage) lift in eventual conversion: the stated prior, shrunk toward what
    outcomes show as evidence comes in.

    The lift of action ``a`` in stage ``s`` is its conversion rate minus waiting's, each an
    importance-weighted (Hajek) mean over randomized decisions (weight 1 / the logged
    propensity), so an action the engine favours for promising contacts is not credited with
    their promise. The posterior is ``(n_eff x observed + prior_strength x prior) /
    (n_eff + prior_strength)``, with ``n_eff`` the weights' effective sample size: with no data
    it is the prior, with much it is the observed uplift.
    """

    n_actions: int
    n_stages: int
    prior_strength: float = 20.0
    prior_lift: np.ndarray | None = None
    #: eventual conversion rate of a contact left alone, before any data (per stage baseline)
    prior_base: float = 0.1
    #: the no-op action: the baseline, so its lift is zero by definition
    wait_action: int | None = None
    #: the learned lift moves off the prior only by as much of its move as clears ``evidence_z``
    #: standard errors (0: the posterior mean). Why: opportunities are rare, so the observed
    #: uplift of most (action, stage) cells is noise of either sign; a spurious harm makes the
    #: rerank overrule the bandit, a spurious gain makes it the action overrules go to
    evidence_z: float = EVIDENCE_Z
    #: the last decision learned, as (its window's end, its id): the learn step's cursor
    learned_through: tuple[datetime, int] | None = None
    #: per (action, stage): sum of weight x converted, sum of weights, sum of squared weights
    sums: np.ndarray = field(init=False)
    counts: np.ndarray = field(init=False)
    squares: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        shape = (self.n_actions, self.n_stages)
        self.prior = np.zeros(shape) if self.prior_lift is None else np.asarray(self.prior_lift, float).reshape(shape)
        self.sums = np.zeros(shape)
        self.counts = np.zeros(shape)
        self.squares = np.zeros(shape)

    def learn(
        self,
        actions: np.ndarray,
        stages: np.ndarray,
        converted: np.ndarray,
        wait_action: int,
        weights: np.ndarray | None = None,
    ) -> None:
        """Record eventual conversion (0/1 within the horizon) after each action, with each
        row's importance weight (1 / its propensity; 1 when not given); ``wait`` rows give the
        per-stage baseline the other actions' lift is measured against."""
        self.wait_action = wait_action
        a, s = np.asarray(actions, dtype=np.intp), np.asarray(stages, dtype=np.intp)
        y = np.asarray(converted, dtype=float)
        w = np.ones(len(a)) if weights is None else np.asarray(weights, dtype=float)
        np.add.at(self.sums, (a, s), w * y)
        np.add.at(self.counts, (a, s), w)
        np.add.at(self.squares, (a, s), w * w)
        self.__dict__.pop("_tables", None)  # changed in place: the cached lift is stale

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__.pop("_tables", None)  # new state: the cached lift is stale
        super().__setattr__(name, value)

    def _lift_tables(self) -> tuple[np.ndarray, np.ndarray, list[float], list[list[float]]]:
        """(stages,) :meth:`base_rate` and (actions, stages) :meth:`lift`, then the same as Python
        lists (the base rates, and the lifts per stage) for a real-time row: once per state
        (every decision reads them; learning and loading drop them)."""
        cached = self.__dict__.get("_tables")
        if cached is None:
            base, lift = self.base_rate(), self.lift()
            cached = self.__dict__["_tables"] = (base, lift, base.tolist(), lift.T.tolist())
        return cached

    def _mean_and_n(self) -> tuple[np.ndarray, np.ndarray]:
        mean = np.divide(self.sums, self.counts, out=np.zeros_like(self.sums), where=self.counts > 0)
        n_eff = np.divide(self.counts**2, self.squares, out=np.zeros_like(self.counts), where=self.squares > 0)
        return mean, n_eff

    def base_rate(self) -> np.ndarray:
        """(stages,) eventual conversion when waiting, shrunk toward ``prior_base``."""
        k = self.prior_strength
        if self.wait_action is None:
            return np.full(self.n_stages, self.prior_base)
        mean, n_eff = self._mean_and_n()
        m, n = mean[self.wait_action], n_eff[self.wait_action]
        return (n * m + k * self.prior_base) / (n + k)

    def lift(self) -> np.ndarray:
        """(actions, stages) change in conversion probability vs waiting: the posterior mean,
        moved back toward the prior by ``evidence_z`` standard errors (never past it)."""
        mean, n_eff = self._mean_and_n()
        raw = mean - self.base_rate()[None, :]
        k = self.prior_strength
        out = (n_eff * raw + k * self.prior) / (n_eff + k)
        if self.evidence_z > 0:
            # the observed part's standard error, the action's and waiting's rates as binomial
            # means over their effective sample sizes, scaled by the weight the data get; the
            # posterior moves off the prior only by what clears evidence_z of them
            var = np.divide(mean * (1.0 - mean), n_eff, out=np.zeros_like(mean), where=n_eff > 0)
            if self.wait_action is not None:
                var = var + var[self.wait_action][None, :]
            se = n_eff / (n_eff + k) * np.sqrt(var)
            move = out - self.prior
            out = self.prior + np.sign(move) * np.maximum(np.abs(move) - self.evidence_z * se, 0.0)
        if self.wait_action is not None:
            out[self.wait_action] = 0.0
        return out

    def state(self) -> dict[str, Any]:
        """The learned sums and the cursor, JSON-ready (saved with each model version's metrics)."""
        return {
            "wait_action": self.wait_action,
            "sums": self.sums.tolist(),
            "counts": self.counts.tolist(),
            "squares": self.squares.tolist(),
            "horizon_days": HORIZON_DAYS,
            "learned_through": None
            if self.learned_through is None
            else [self.learned_through[0].isoformat(), self.learned_through[1]],
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`. One of another catalog's shape, or learned on another horizon
        (before 5 December 2026 conversions were read within the attribution window), is ignored:
        the prior stays and learning starts over."""
        parts = [np.asarray(state.get(k, []), dtype=float) for k in ("sums", "counts", "squares")]
        if any(p.shape != self.sums.shape for p in parts) or state.get("horizon_days") != HORIZON_DAYS:
            return
        self.sums, self.counts, self.squares = parts
        self.wait_action = state.get("wait_action", self.wait_action)
        through = state.get("learned_through")
        self.learned_through = None if through is None else (datetime.fromisoformat(through[0]), int(through[1]))

    def value(self, p_convert: np.ndarray, stages: np.ndarray, deal_value: np.ndarray) -> np.ndarray:
        """(n, actions) change in expected won value each action causes for each contact.

        ``p_convert`` (a lead score's probability) is floored at the stage's learned baseline:
        a cold lead's points say little about what burning it costs."""
        st = np.asarray(stages)
        base, lift_all, base_row, lift_rows = self._lift_tables()
        if len(st) == 1:  # a real-time row: the same float operations on Python floats
            p, v, s = float(p_convert[0]), float(deal_value[0]), int(st[0])
            b = base_row[s]
            if p == p and b == b:  # (a NaN: np.maximum's rules, below)
                p = max(p, b)  # as np.maximum: the first unless the second is larger
                # min(max(p + x, 0.0), 1.0) written out (two builtin calls per action cost
                # more than the rest of the row): NaN and -0.0 pass through as in max and min
                out = [((0.0 if (y := p + x) < 0.0 else 1.0 if y > 1.0 else y) - p) * v for x in lift_rows[s]]
                return np.array([out])
        p0 = np.maximum(np.asarray(p_convert, dtype=float), base[st])[:, None]
        lift = lift_all[:, st].T
        v = np.asarray(deal_value, dtype=float)[:, None]
        # np.clip's floats (max then min; NaN stays NaN) without its Python wrapper
        return (np.minimum(np.maximum(p0 + lift, 0.0), 1.0) - p0) * v


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
    return route(probs, reranked_draws(short, long_term, mask, weight))


def reranked_draws(short: np.ndarray, long_term: np.ndarray, mask: np.ndarray, weight: float) -> np.ndarray:
    """(n, k) :func:`rerank` of every possible draw at once: column a is
    ``rerank(np.full(n, a), ...)[0]`` (``weight`` > 0), so a row's own draw reads its rerank
    from here too."""
    n, k = short.shape
    if n == 1:  # a real-time row: the same floats and comparisons on Python numbers
        out = _reranked_one(short.tolist()[0], long_term.tolist()[0], mask.tolist()[0], weight)
        if out is not None:
            return out
    blended = np.where(mask, (1.0 - weight) * short + weight * long_term, -np.inf)
    best = blended.argmax(axis=1)[:, None]
    top = blended[np.arange(n), best[:, 0]][:, None]
    draws = np.arange(k)[None, :]
    over = (long_term < 0) & (best != draws) & (top > blended)
    return np.where(over, best, draws)


def _reranked_one(short: list[float], long_term: list[float], mask: list[bool], weight: float) -> np.ndarray | None:
    """:func:`reranked_draws` of one row; None when a blended score is NaN (argmax's rules), or
    the row holds both infinities (their sum is NaN: one test for both, the rest of the time)."""
    rows = zip(short, long_term, mask, strict=True)
    blended = [(1.0 - weight) * s + weight * lt if ok else -math.inf for s, lt, ok in rows]
    total = sum(blended)
    if total != total:
        return None
    top = max(blended)
    best = blended.index(top)  # argmax: the first largest
    # draw a goes to best where its long-term value is negative and best blends higher
    draws = enumerate(zip(long_term, blended, strict=True))
    return np.array([[best if lt < 0 and a != best and top > b else a for a, (lt, b) in draws]])


def route(probs: np.ndarray, final: np.ndarray) -> np.ndarray:
    """(n, k) each final action's share: the mass of the draws :func:`reranked_draws` maps to it
    (bincount adds in the same order as np.add.at would, at a fraction of its cost)."""
    n, k = probs.shape
    if n == 1:  # a real-time row: no cell indices
        return np.bincount(final[0], weights=probs[0], minlength=k)[None]
    cells = (np.arange(n)[:, None] * k + final).ravel()
    return np.bincount(cells, weights=probs.ravel(), minlength=n * k).reshape(n, k)


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
