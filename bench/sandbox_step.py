"""Time one simulated market day at 10,000 and 100,000 people (median of repetitions).

Run: .venv/bin/python bench/sandbox_step.py [--reps 7]
Prints a table and one JSON line. "market" is the vectorized step alone (10% of people get an
action each day); "world" adds writing the day's events into both CRMs' state; "oracle" is the
full (people x actions) expected-reward matrix; the last two columns are the mean expected
immediate reward per person of the oracle's choice and of the legacy playbook, on day 8.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from hub.sandbox.catalog import CATALOG
from hub.sandbox.market import ActionBatch, Market
from hub.sandbox.oracle import expected_rewards, policy_value
from hub.sandbox.playbook import Playbook
from hub.sandbox.population import generate_population
from hub.sandbox.world import World


def _median(fn, reps: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench(n: int, reps: int) -> dict[str, float]:
    pop = generate_population(n, seed=1)
    m = Market(pop)
    idx = np.arange(0, n, 10)
    batch = ActionBatch.build(idx, idx % len(CATALOG), pop.pref_hour[idx])
    for _ in range(7):
        m.step(batch)
    market = _median(lambda: m.step(batch), reps)
    oracle = _median(lambda: expected_rewards(m), max(3, reps // 2))
    r, best = expected_rewards(m)
    pb_action, pb_hour = Playbook().decide(m)
    oracle_mean = float(r[np.arange(n), best].mean())
    playbook_mean = float(policy_value(m, pb_action, pb_hour).mean())
    t = time.perf_counter()
    w = World(n_contacts=n, seed=1)
    build = time.perf_counter() - t
    world = _median(lambda: w.advance_days(1), reps)
    return {
        "n": n,
        "market_step_s": market,
        "world_day_s": world,
        "oracle_s": oracle,
        "world_build_s": build,
        "oracle_mean_reward": oracle_mean,
        "playbook_mean_reward": playbook_mean,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    args = ap.parse_args()
    rows = [bench(n, args.reps) for n in args.sizes]
    print(
        f"{'people':>8} {'market step':>12} {'world day':>10} {'oracle':>8} {'build':>8}"
        f" {'E[r] oracle':>12} {'E[r] playbook':>14}"
    )
    for r in rows:
        print(
            f"{r['n']:>8} {r['market_step_s'] * 1000:>10.1f}ms {r['world_day_s'] * 1000:>8.1f}ms"
            f" {r['oracle_s'] * 1000:>6.1f}ms {r['world_build_s']:>7.2f}s"
            f" {r['oracle_mean_reward']:>12.3f} {r['playbook_mean_reward']:>14.3f}"
        )
    print(json.dumps({"bench": "sandbox_step", "reps": args.reps, "results": rows}))


if __name__ == "__main__":
    main()
