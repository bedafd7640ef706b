"""How accurate is ``hub evaluate``? Off-policy estimates from a log against the truth, on the sandbox market.

Run: .venv/bin/python bench/offline_eval_accuracy.py [--quick] [--contacts N] [--days D] [--seeds S]

For each seed (one world: population and market of that seed):

1. Log: the market runs ``--days`` days under the logging policy, "legacy with exploration": the
   legacy playbook's action with probability 1 - epsilon, else uniform among the eligible actions
   (propensities known exactly). Every person gets a decision every day (``wait`` is an action).
   Logged per decision: the features a CRM shows, the eligibility mask, the action, its
   propensity and the realized reward (objective points of the outcomes drawn at execution).
2. Candidates, each a stationary policy given as action probabilities on the same inputs:
   ``legacy`` (the playbook, deterministic), ``engine`` (the hub's LinearThompson with exploration
   0.5, trained on the log of another world (seed + 1000) and then frozen; its probabilities are
   the bandit's own Monte-Carlo estimates), ``case_study_weekly`` (a fixed action: the case-study
   offer once a week per person when eligible, else wait; far from the log, so weights are large).
3. Estimates: :func:`hub.reports.offline.evaluate_log`, the code ``hub evaluate`` runs, on the log
   (IPS, SNIPS, doubly robust, 95% percentile bootstrap; the logging policy as the current one).
4. Truth, two ways, both in expected objective points per decision without outcome noise
   (hub/sandbox/ground_truth.py; won revenue is left out of reward and truth alike, since it
   arrives weeks after the decision):
   - ``true (live)``: the candidate actually run in a fresh market of the same seed for the same
     days; this is what deploying it would earn, and includes how its own actions change the
     states it meets later (fatigue, stages, intent, unsubscribes);
   - ``true (logged states)``: the candidate's expected reward on the states the log visited.
     This is exactly what off-policy estimators target; the gap between the two truths is the
     state-distribution shift that no per-decision estimator sees.

All sends happen at 10:00 local on the action's own channel (timing and channel are not part
of the evaluated policy here). One JSON line with every number ends the output.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.decision_quality import WAIT, A, Observed, features, mask_for, realized_reward  # noqa: E402
from decision.arbitration import ContactPolicy  # noqa: E402
from decision.policies import LinearThompson  # noqa: E402
from hub.reports.offline import METHODS, evaluate_log  # noqa: E402
from hub.sandbox import ground_truth as gt  # noqa: E402
from hub.sandbox.catalog import ACTION_IDS, ACTION_INDEX  # noqa: E402
from hub.sandbox.market import ActionBatch, Market, MarketConfig  # noqa: E402
from hub.sandbox.oracle import expected_rewards  # noqa: E402
from hub.sandbox.playbook import Playbook  # noqa: E402
from hub.sandbox.population import generate_population  # noqa: E402

HOUR = 10
TRUTH_WEIGHTS = gt.RewardWeights(revenue=0.0)  # the reward a learner sees: no won revenue (weeks later)
CONTACT_POLICY = ContactPolicy(3, 3.0)

# a policy: (market, day, X, mask) -> (n, A) action probabilities
Probs = Callable[[Market, int, np.ndarray, np.ndarray], np.ndarray]


def onehot(actions: np.ndarray) -> np.ndarray:
    return np.eye(A)[actions]


def legacy_actions(market: Market, mask: np.ndarray) -> np.ndarray:
    a = Playbook().decide(market)[0]
    return np.where(mask[np.arange(len(a)), a], a, WAIT)


def logging_policy(epsilon: float) -> Probs:
    def probs(market, day, X, mask):  # noqa: ANN001, ANN202
        uniform = mask / mask.sum(axis=1, keepdims=True)
        return (1 - epsilon) * onehot(legacy_actions(market, mask)) + epsilon * uniform

    return probs


def legacy(market, day, X, mask):  # noqa: ANN001, ANN201
    return onehot(legacy_actions(market, mask))


def case_study_weekly(market, day, X, mask):  # noqa: ANN001, ANN201
    n = len(X)
    due = (np.arange(n) % 7) == (day % 7)
    cs = ACTION_INDEX["content_offer_case_study"]
    return onehot(np.where(due & mask[:, cs], cs, WAIT))


def engine(model: LinearThompson) -> Probs:
    def probs(market, day, X, mask):  # noqa: ANN001, ANN202
        return model.probabilities_many(X, mask)

    return probs


@dataclass
class Log:
    X: np.ndarray
    actions: np.ndarray
    propensities: np.ndarray
    rewards: np.ndarray  # realized objective points
    logging: np.ndarray  # (rows, A) logging probabilities
    targets: dict[str, np.ndarray]  # candidate -> (rows, A) probabilities on the logged states
    truth_on_log: dict[str, float]  # candidate -> mean expected reward on the logged states
    expected: np.ndarray  # expected reward of the logged actions


def simulate(
    policy: Probs, n: int, days: int, seed: int, candidates: dict[str, Probs] | None = None
) -> tuple[Log | None, float, float]:
    """Run ``policy`` for ``days``; returns (log when ``candidates`` is given, mean expected reward
    per decision, mean realized reward per decision)."""
    pop = generate_population(n, seed=seed)
    market = Market(pop, MarketConfig(seed=seed))
    obs = Observed(n, pop.tz_offset)
    rng = np.random.default_rng([seed, 23])
    hour = np.full(n, HOUR)
    rec: dict[str, list] = {k: [] for k in ("X", "a", "p", "r", "mu", "er")}
    tgt: dict[str, list] = {k: [] for k in candidates or {}}
    on_log: dict[str, float] = dict.fromkeys(candidates or {}, 0.0)
    exp_sum = real_sum = 0.0
    for day in range(days):
        X = features(market, obs, day)
        mask = mask_for(market, obs, day, CONTACT_POLICY)
        probs = policy(market, day, X, mask)
        a = (probs.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
        R = expected_rewards(market, TRUTH_WEIGHTS, local_hour=hour)[0]
        er = R[np.arange(n), a]
        for name, cand in (candidates or {}).items():  # on today's state, before the step
            t = cand(market, day, X, mask)
            tgt[name].append(t)
            on_log[name] += float((t * R).sum())
        act = np.flatnonzero(a != WAIT)
        n_log = len(market.log)
        obs.add(day, market.step(ActionBatch.build(act, a[act])))
        r = np.zeros(n)
        if len(market.log) > n_log:
            log = market.log[-1]
            r[log["person"]] = realized_reward(log)
        exp_sum += er.sum()
        real_sum += r.sum()
        if candidates is not None:
            for k, v in (("X", X), ("a", a), ("p", probs[np.arange(n), a]), ("r", r), ("mu", probs), ("er", er)):
                rec[k].append(v)
    rows = n * days
    out = None
    if candidates is not None:
        out = Log(
            np.vstack(rec["X"]),
            np.concatenate(rec["a"]),
            np.concatenate(rec["p"]),
            np.concatenate(rec["r"]),
            np.vstack(rec["mu"]),
            {k: np.vstack(v) for k, v in tgt.items()},
            {k: v / rows for k, v in on_log.items()},
            np.concatenate(rec["er"]),
        )
    return out, exp_sum / rows, real_sum / rows


def train_engine(n: int, days: int, seed: int, epsilon: float) -> LinearThompson:
    """The hub's bandit fitted on another world's log (seed + 1000), then frozen."""
    log, _, _ = simulate(logging_policy(epsilon), n, days, seed + 1000, candidates={})
    model = LinearThompson(n_actions=A, exploration=0.5, seed=seed)
    model.learn_many(log.X, log.actions, log.rewards / 10.0)  # the engine's reward_scale
    return model


def reward_model(name: str, seed: int):  # noqa: ANN201
    """DR's reward model: None = decision/offpolicy.py's default (ridge on [x, one-hot action])."""
    if name == "hgb":
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(max_iter=100, random_state=seed)
    return None


def run_seed(seed: int, args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    model = train_engine(args.contacts, args.days, seed, args.epsilon)
    cands: dict[str, Probs] = {"legacy": legacy, "engine": engine(model), "case_study_weekly": case_study_weekly}
    log, log_true, log_real = simulate(logging_policy(args.epsilon), args.contacts, args.days, seed, cands)
    out: dict = {"seed": seed, "logging": {"true": log_true, "realized": log_real}, "candidates": {}}
    for name, cand in cands.items():
        if name == "engine":  # the live run draws its own Monte-Carlo estimates: same policy, fresh noise
            model._seed_rng()
        _, live, live_real = simulate(cand, args.contacts, args.days, seed)
        ev = evaluate_log(
            log.X,
            log.actions,
            log.rewards,
            log.propensities,
            log.targets[name],
            list(ACTION_IDS),
            current=log.logging,
            n_bootstrap=args.bootstrap,
            seed=seed,
            reward_model=reward_model(args.reward_model, seed),
        )
        out["candidates"][name] = {
            "true_live": live,
            "realized_live": live_real,
            "true_logged_states": log.truth_on_log[name],
            "estimates": {m: ev.candidate[m].__dict__ for m in METHODS},
            "ess": ev.diagnostics.ess,
            "max_weight": ev.diagnostics.max_weight,
            "warnings": ev.warnings,
        }
    out["seconds"] = time.perf_counter() - t0
    return out


def print_seed(r: dict) -> None:
    print(
        f"\nseed {r['seed']}: logging policy true {r['logging']['true']:.4f} (realized {r['logging']['realized']:.4f}), "
        f"{r['seconds']:.0f}s"
    )
    head = f"{'candidate':18s} {'true live':>9s} {'true log':>9s} {'est':5s} {'estimate':>9s} {'95% interval':>19s}"
    print(head + f" {'abs err':>8s} {'rel err':>8s} {'in (live)':>9s} {'in (log)':>8s} {'ESS':>7s}")
    for name, c in r["candidates"].items():
        for m in METHODS:
            e = c["estimates"][m]
            live, onlog = c["true_live"], c["true_logged_states"]
            err = e["value"] - live
            print(
                f"{name:18s} {live:9.4f} {onlog:9.4f} {m:5s} {e['value']:9.4f} "
                f"{'[' + format(e['low'], '.4f') + ', ' + format(e['high'], '.4f') + ']':>19s} "
                f"{abs(err):8.4f} {abs(err) / abs(live):8.1%} {str(e['low'] <= live <= e['high']):>9s} "
                f"{str(e['low'] <= onlog <= e['high']):>8s} {c['ess']:7.0f}"
            )


def summarize(results: list[dict]) -> dict:
    summary: dict = {}
    for name in results[0]["candidates"]:
        for m in METHODS:
            rows = [(r["candidates"][name], r["candidates"][name]["estimates"][m]) for r in results]
            rel = [abs(e["value"] - c["true_live"]) / abs(c["true_live"]) for c, e in rows]
            rel_log = [abs(e["value"] - c["true_logged_states"]) / abs(c["true_logged_states"]) for c, e in rows]
            summary[f"{name}/{m}"] = {
                "true_live": float(np.mean([c["true_live"] for c, _ in rows])),
                "true_logged_states": float(np.mean([c["true_logged_states"] for c, _ in rows])),
                "estimate": float(np.mean([e["value"] for _, e in rows])),
                "mean_abs_err_live": float(np.mean([abs(e["value"] - c["true_live"]) for c, e in rows])),
                "mean_rel_err_live": float(np.mean(rel)),
                "mean_rel_err_logged_states": float(np.mean(rel_log)),
                "coverage_live": float(np.mean([e["low"] <= c["true_live"] <= e["high"] for c, e in rows])),
                "coverage_logged_states": float(
                    np.mean([e["low"] <= c["true_logged_states"] <= e["high"] for c, e in rows])
                ),
                "mean_width": float(np.mean([e["high"] - e["low"] for _, e in rows])),
            }
    return summary


def print_summary(summary: dict, seeds: int) -> None:
    print(f"\nOver {seeds} seed(s): mean values; coverage = share of seeds whose 95% interval holds the truth")
    print(
        f"{'candidate/estimator':28s} {'true live':>9s} {'true log':>9s} {'estimate':>9s} {'|err| live':>10s} "
        f"{'rel err live':>12s} {'rel err log':>11s} {'cover live':>10s} {'cover log':>9s} {'width':>7s}"
    )
    for key, s in summary.items():
        print(
            f"{key:28s} {s['true_live']:9.4f} {s['true_logged_states']:9.4f} {s['estimate']:9.4f} "
            f"{s['mean_abs_err_live']:10.4f} {s['mean_rel_err_live']:12.1%} {s['mean_rel_err_logged_states']:11.1%} "
            f"{s['coverage_live']:10.0%} {s['coverage_logged_states']:9.0%} {s['mean_width']:7.4f}"
        )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contacts", type=int, default=2000)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epsilon", type=float, default=0.3, help="logging policy's share of uniform exploration")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--reward-model", choices=("ridge", "hgb"), default="ridge", help="DR's reward model")
    ap.add_argument("--quick", action="store_true", help="1,000 contacts, 21 days, 2 seeds, 300 resamples")
    args = ap.parse_args(argv)
    if args.quick:
        args.contacts, args.days, args.seeds, args.bootstrap = 1000, 21, 2, 300
    print(
        f"offline evaluation accuracy: {args.contacts:,} contacts x {args.days} days = "
        f"{args.contacts * args.days:,} logged decisions per seed, {args.seeds} seed(s), logging = legacy with "
        f"{args.epsilon:.0%} uniform exploration; candidates legacy, engine, case_study_weekly"
    )
    results = []
    for seed in range(args.seeds):
        r = run_seed(seed, args)
        print_seed(r)
        results.append(r)
    summary = summarize(results)
    print_summary(summary, args.seeds)
    doc = {"bench": "offline_eval_accuracy", "args": vars(args), "summary": summary}
    print(json.dumps(doc))
    return doc


if __name__ == "__main__":
    main()
