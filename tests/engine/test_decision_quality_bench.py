"""Smoke test of bench/decision_quality.py at a tiny scale: it runs, and its ordering is sane."""

from __future__ import annotations

import numpy as np

from bench.decision_quality import Engine, Legacy, MyopicOracle, Oracle, Random, run, summarize
from hub.sandbox.lookahead import LookaheadParams


def test_tiny_run_orders_oracle_engine_random():
    days, n = 21, 400
    results = {
        name: [run(make, n, days, seed=0, shift_day=14)]
        for name, make in (
            ("oracle", lambda: Oracle(days, LookaheadParams())),
            ("oracle_myopic", MyopicOracle),
            ("legacy", Legacy),
            ("random", lambda: Random(0)),
            ("engine", lambda: Engine(0)),
        )
    }
    reward = {k: float(v[0].reward_by_day.sum()) for k, v in results.items()}
    assert reward["oracle"] > reward["engine"] > reward["random"]
    assert reward["oracle"] > reward["oracle_myopic"]
    assert results["random"][0].unsubscribes > results["engine"][0].unsubscribes
    s = summarize(results, days, 14)
    assert np.isclose(s["oracle"]["oracle_share_w4"][0], 1.0)
    # with 21 days the "weeks 4+" window is the last day alone: only check that it is computed;
    # the ordering above is over the whole run
    assert np.isfinite(s["engine"]["oracle_share_w4"][0])


def test_segment_values_engine_runs_learns_outcome_values_and_beats_random():
    days, n = 42, 400
    made: list[Engine] = []

    def make() -> Engine:
        made.append(Engine(0, segment_values=True))
        return made[-1]

    sv = run(make, n, days, seed=0, shift_day=None)
    rnd = run(lambda: Random(0), n, days, seed=0, shift_day=None)
    assert sv.reward_by_day.sum() > rnd.reward_by_day.sum()
    assert sv.unsubscribes < rnd.unsubscribes
    eng = made[0]
    assert eng.sv is not None and eng.sv.n.sum() > 1000  # it learned from the run's rows
    # 42 days: the first 42-day returns are in, so an unsubscribe is priced beyond its -30 points
    assert eng.ov is not None and eng.ov.days.sum() == n
    assert (eng.ov.unsubscribe_points() <= -30).all()
