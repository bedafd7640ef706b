"""The oracle: expected reward of every action for every person under the ground truth.

Benchmarks compare a policy's expected reward with the oracle's best to report regret; the
oracle sees hidden state (preferred hour and channel, intent, stage) no real policy can see.
"""

from __future__ import annotations

import numpy as np

from hub.sandbox import ground_truth as gt
from hub.sandbox.catalog import CATALOG
from hub.sandbox.market import ActionBatch, Market


def expected_rewards(
    market: Market,
    weights: gt.RewardWeights | None = None,
    local_hour: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(rewards, best)``: an (n_people, n_actions) array of expected immediate reward
    and the argmax action index per person.

    ``local_hour`` (per person) is the send hour to assume; None means each person's hidden
    preferred hour, i.e. the best timing. Channels are each action's own.

    >>> from hub.sandbox.population import generate_population
    >>> r, best = expected_rewards(Market(generate_population(50, seed=1)))
    >>> r.shape, best.shape
    ((50, 9), (50,))
    """
    w = weights or market.config.weights
    n, a = market.pop.n, len(CATALOG)
    hour = market.pop.pref_hour if local_hour is None else np.asarray(local_hour)
    batch = ActionBatch.build(
        np.repeat(np.arange(n), a), np.tile(np.arange(a), n), np.repeat(hour, a)
    )
    r = gt.expected_reward(market.probabilities(batch), w).reshape(n, a)
    return r, r.argmax(axis=1)


def policy_value(
    market: Market,
    action: np.ndarray,
    local_hour: np.ndarray | None = None,
    weights: gt.RewardWeights | None = None,
    channel: np.ndarray | None = None,
) -> np.ndarray:
    """Expected immediate reward per person of a given assignment of actions (and hours)."""
    w = weights or market.config.weights
    n = market.pop.n
    hour = market.pop.pref_hour if local_hour is None else np.asarray(local_hour)
    batch = ActionBatch.build(np.arange(n), action, hour, channel)
    return gt.expected_reward(market.probabilities(batch), w)


def regret(
    market: Market,
    action: np.ndarray,
    local_hour: np.ndarray | None = None,
    weights: gt.RewardWeights | None = None,
) -> float:
    """Mean per-person gap between the oracle's best and the given assignment."""
    r, best = expected_rewards(market, weights)
    chosen = policy_value(market, action, local_hour, weights)
    return float(np.mean(r[np.arange(len(best)), best] - chosen))
