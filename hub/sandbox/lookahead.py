"""The non-myopic oracle: the upper bound a policy that knows the market's true dynamics reaches.

The myopic oracle (oracle.py) takes each day's best expected reward, so it mails tired people
into unsubscribing and calls early leads, burning deals that would have come later. This one
sees the same hidden state and also prices what an action does to the future, per person:

- an unsubscribe loses the person's remaining stream: ``unsub_value x`` their best reward today
  ``x`` their weekly tolerance ``x`` the weeks left;
- intent is the driver of later opportunities and wins: ``intent_value x`` the expected intent an
  action adds (opens and clicks) or removes (early sales calls), fading to 0 at the horizon;
- fatigue: a touch that would take the person ``fatigue_slack`` or more touches past their
  hidden tolerance in 7 days is not made; ``min_gap`` days between touches;
- sales outreach goes on the person's preferred channel when that is email or phone.

The weights are a policy search on the true simulator (:func:`search`, coordinate ascent from
the myopic setting, which is in the grid) on tuning seeds separate from the evaluation seeds,
so on those seeds it is never worse than the myopic oracle. It is not an exact dynamic
programme over the per-person state (intent drifts with organic behaviour and stages move at
random), so the bound is the best of this family, not a proof of optimality.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hub.sandbox import ground_truth as gt
from hub.sandbox.catalog import ACTION_INDEX, CATALOG, CHANNELS
from hub.sandbox.market import ActionBatch, Market
from hub.sandbox.simulate import coordinate_ascent, mean_reward

A = len(CATALOG)
WAIT = ACTION_INDEX["wait"]
SALES = ACTION_INDEX["sales_outreach"]
TOUCH = gt.counts_as_touch(np.arange(A))


@dataclass(frozen=True)
class LookaheadParams:
    """``fatigue_slack`` 99 and the rest 0 is the myopic oracle (with the sales channel choice)."""

    unsub_value: float = 1.0
    intent_value: float = 100.0
    fatigue_slack: int = 0
    min_gap: int = 0


GRID = {
    "unsub_value": (0.0, 0.5, 1.0, 2.0, 4.0),
    "intent_value": (0.0, 100.0, 300.0, 1000.0),
    "fatigue_slack": (0, 1, 2, 99),
    "min_gap": (0, 1, 2),
}
MYOPIC = LookaheadParams(0.0, 0.0, 99, 0)


def sales_channel(market: Market) -> np.ndarray:
    """Per person: email when they prefer email, else phone."""
    email, phone = CHANNELS.index("email"), CHANNELS.index("phone")
    return np.where(market.pop.pref_channel == email, email, phone)


def days_since_touch(market: Market) -> np.ndarray:
    """Days since the last mail or call (0 = today already, 7 = none in the window)."""
    out = np.full(market.pop.n, 7)
    for k in range(6, -1, -1):  # yesterday's slot is (day - 1) % 7; today's slot is day % 7
        hit = market.touches[:, (market.day - k) % 7] > 0
        out = np.where(hit, k, out)
    return out


class LookaheadOracle:
    """``decide(market)`` for today: the best action per person by immediate plus future value."""

    def __init__(self, horizon_days: int, params: LookaheadParams | None = None) -> None:
        self.horizon = horizon_days
        self.p = params or LookaheadParams()

    def scores(self, market: Market) -> np.ndarray:
        """(n, A) immediate expected reward plus the priced future effects (wait = 0)."""
        pop, p = market.pop, self.p
        n = pop.n
        chan = np.tile(gt.CHANNEL, n)
        rows = np.repeat(np.arange(n), A)
        acts = np.tile(np.arange(A), n)
        chan = np.where(acts == SALES, np.repeat(sales_channel(market), A), chan)
        batch = ActionBatch.build(rows, acts, np.repeat(pop.pref_hour, A), chan)
        pr = market.probabilities(batch)
        er = gt.expected_reward(pr, market.config.weights).reshape(n, A)
        left = max(self.horizon - market.day, 0)
        weeks = left / 7.0
        stream = np.maximum(er.max(axis=1), 0.0) * pop.tolerance * weeks
        unsub = pr["unsubscribe"].reshape(n, A)
        d_intent = (
            0.04 * pr["relevance"] * pr["stage_fit"] * pr["open"]
            + 0.06 * pr["relevance"] * pr["click"]
            - 0.08 * pr["burn"]
        ).reshape(n, A)
        score = er - p.unsub_value * unsub * stream[:, None] + p.intent_value * d_intent * (left / max(self.horizon, 1))
        over = market.touches_7d + 1 - pop.tolerance
        tired = (over > p.fatigue_slack) | (days_since_touch(market) < p.min_gap)
        score[np.ix_(tired, TOUCH)] = -np.inf
        score[:, WAIT] = 0.0
        return score

    def __call__(self, market: Market) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        best = self.scores(market).argmax(axis=1)
        chan = np.where(best == SALES, sales_channel(market), gt.CHANNEL[best])
        return best, market.pop.pref_hour, chan


def search(
    n: int, days: int, seeds: tuple[int, ...], shift_day: int | None, passes: int = 2, log=None
) -> tuple[LookaheadParams, float, float]:
    """Coordinate ascent over :data:`GRID` from the myopic setting on ``seeds``; returns the best
    params, their mean reward and the myopic setting's (same worlds)."""

    def value(params: LookaheadParams) -> float:
        return mean_reward(lambda: LookaheadOracle(days, params), n, days, seeds, shift_day)

    def moves():  # noqa: ANN202
        for key, values in GRID.items():
            for v in values:
                yield f"{key}={v}", lambda p, key=key, v=v: replace(p, **{key: v})

    return coordinate_ascent(MYOPIC, moves, value, passes, log, "lookahead")
