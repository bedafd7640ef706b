"""Run a policy on a fresh market for some days and total what it earned, for policy searches.

A policy here is ``decide(market) -> (action, local_hour, channel)`` per person, for today. The
reward is the market's expected immediate reward of what was executed (no outcome noise), the
same measure bench/decision_quality.py reports; won revenue is what really closed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from hub.sandbox import ground_truth as gt
from hub.sandbox.catalog import ACTION_INDEX
from hub.sandbox.market import EV, ActionBatch, Market, MarketConfig
from hub.sandbox.population import generate_population

T = TypeVar("T")

Decide = Callable[[Market], tuple[np.ndarray, np.ndarray, np.ndarray]]
WAIT = ACTION_INDEX["wait"]


@dataclass(frozen=True)
class Outcome:
    reward: float
    won_revenue: float
    unsubscribes: int


def new_market(n: int, seed: int, shift_day: int | None) -> Market:
    """The benchmark's world: population and market from one seed, topic shift on ``shift_day``."""
    return Market(
        generate_population(n, seed=seed), MarketConfig(seed=seed, regime_shift=gt.RegimeShift(day=shift_day))
    )


def execute(market: Market, action: np.ndarray, hour: np.ndarray, channel: np.ndarray) -> float:
    """Step the market one day with everyone's action (``wait`` rows are not sent); the day's
    expected reward of what was executed."""
    go = np.flatnonzero(action != WAIT)
    batch = ActionBatch(go, action[go], np.asarray(hour)[go].astype(np.int64), np.asarray(channel)[go].astype(np.int64))
    n_log = len(market.log)
    market.step(batch)
    return float(market.log[-1]["expected_reward"].sum()) if len(market.log) > n_log else 0.0


def simulate(make: Callable[[], Decide], n: int, days: int, seed: int, shift_day: int | None) -> Outcome:
    """Total expected reward, won revenue and unsubscribes of a policy over ``days``."""
    market = new_market(n, seed, shift_day)
    decide = make()
    c0, v0 = market.counts.copy(), market.values.copy()
    total = 0.0
    for _ in range(days):
        total += execute(market, *decide(market))
    dc, dv = market.counts - c0, market.values - v0
    return Outcome(total, float(dv[:, EV["opportunity_won"]].sum()), int(dc[:, EV["unsubscribe"]].sum()))


def mean_reward(make: Callable[[], Decide], n: int, days: int, seeds: tuple[int, ...], shift_day: int | None) -> float:
    """Mean total reward over ``seeds`` (the same worlds for every candidate: common random numbers)."""
    return float(np.mean([simulate(make, n, days, s, shift_day).reward for s in seeds]))


def coordinate_ascent(
    start: T,
    moves: Callable[[], Iterable[tuple[str, Callable[[T], T]]]],
    value: Callable[[T], float],
    passes: int = 2,
    log: Callable[[str], None] | None = None,
    label: str = "",
) -> tuple[T, float, float]:
    """Greedy policy search: try each move from the best point so far, keep it when it raises
    ``value``; stop after ``passes`` sweeps or a sweep that moved nothing. Returns the best point,
    its value and the start's (the lookahead oracle and the tuned rules both search this way)."""
    best = start
    best_v = start_v = value(start)
    for _ in range(passes):
        moved = False
        for name, change in moves():
            cand = change(best)
            if cand == best:
                continue
            cv = value(cand)
            if cv > best_v:
                best, best_v, moved = cand, cv, True
                if log:
                    log(f"    {label} {name} -> {best_v:,.0f}")
        if not moved:
            break
    return best, best_v, start_v
