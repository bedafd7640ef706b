"""Off-policy estimators and policy learning on real logged data.

(a) Open Bandit Dataset sample (ZOZOTOWN; uniform-random log and Bernoulli-TS log of the same
    week, 10,000 rows each, per campaign all / men / women).
    1. IPS of the logging policy on its own log equals the empirical CTR (weights are 1).
    2. Bernoulli TS is summarised by its time-averaged action distribution per position, which
       is the empirical item frequency per position in its own log (an unbiased estimate of
       the average of its changing distributions). IPS/SNIPS of that policy on the BTS log
       must agree with the BTS CTR (a real check: weights are not 1).
    3. Cross-log: that BTS distribution evaluated on the random log must cover the BTS log's
       on-policy CTR, and the uniform policy evaluated on the BTS log must cover the random
       log's CTR. About 40 clicks per file: intervals are wide, coverage is what is tested.
(b) Social-pressure mail experiment (Gerber, Green & Larimer 2008; 344,084 people randomized to
    four mailers or none). Reward = voted - mail_cost if mailed. Policies are learned on 70%
    (T-learner: one regression per arm, via LinearThompson and EpsilonGreedy(HistGB)) and valued
    on 30% by IPS/SNIPS/DR beside mail-everyone-with-each-mailer and mail-nobody; the DR gap to
    the two best constant policies has a paired bootstrap interval. Households were randomized as
    units and the bootstrap resamples people, so intervals are somewhat too narrow.

    python bench/real_data.py [DATA_DIR] [--mail-cost 0.04] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression

from decision.offpolicy import (
    doubly_robust,
    dr_terms,
    ips,
    paired_difference,
    reward_predictions,
    snips,
)
from decision.policies import EpsilonGreedy, LinearThompson

ROOT = Path(__file__).resolve().parents[1]
SEED = 0


def read_obd(path: Path) -> dict:
    with path.open() as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    col = {name: j for j, name in enumerate(head)}
    get = lambda name: [r[col[name]] for r in body]  # noqa: E731
    aff = [j for name, j in col.items() if name.startswith("user-item_affinity_")]
    users = np.array([[r[col[f"user_feature_{i}"]] for i in range(4)] for r in body])
    onehots = [(users[:, i][:, None] == np.unique(users[:, i])[None, :]).astype(float) for i in range(4)]
    pos = np.array(get("position"), dtype=int)
    X = np.hstack([*onehots, np.eye(3)[pos - 1], np.array([[float(r[j]) for j in aff] for r in body])])
    return {
        "a": np.array(get("item_id"), dtype=int),
        "pos": pos,
        "r": np.array(get("click"), dtype=float),
        "p": np.array(get("propensity_score"), dtype=float),
        "X": X,
        "k": len(aff),
    }


def position_distribution(log: dict) -> np.ndarray:
    """(3, k) empirical item frequency per position: the time-averaged logging policy."""
    dist = np.zeros((3, log["k"]))
    np.add.at(dist, (log["pos"] - 1, log["a"]), 1.0)
    return dist / dist.sum(axis=1, keepdims=True)


def est_row(name, e, truth=None) -> dict:
    row = {
        "what": name,
        "method": e.method,
        "value": e.value,
        "low": e.low,
        "high": e.high,
        "ess": e.ess,
    }
    if truth is not None:
        row["truth"] = truth
        row["covers"] = bool(e.covers(truth))
    return row


def part_a(data: Path, n_boot: int) -> list[dict]:
    out = []
    for campaign in ("all", "men", "women"):
        rnd = read_obd(data / "obd" / "random" / campaign / f"{campaign}.csv")
        bts = read_obd(data / "obd" / "bts" / campaign / f"{campaign}.csv")
        k = rnd["k"]
        ctr_r, ctr_b = rnd["r"].mean(), bts["r"].mean()
        tag = f"obd/{campaign}"
        # 1. logging policy on its own log: weights are exactly 1
        # (only the logged action's probability is known; the rest of the mass is put on
        # another action, which IPS never looks at)
        own = np.zeros((len(bts["a"]), k))
        own[np.arange(len(own)), bts["a"]] = bts["p"]
        own[np.arange(len(own)), (bts["a"] + 1) % k] += 1 - bts["p"]
        out.append(
            est_row(
                f"{tag} BTS on own log (w=1)",
                ips(bts["a"], bts["r"], bts["p"], own, n_bootstrap=n_boot),
                ctr_b,
            )
        )
        # 2. time-averaged BTS distribution on its own log
        pi_bts = position_distribution(bts)
        t_b = pi_bts[bts["pos"] - 1]
        for f in (ips, snips):
            out.append(
                est_row(
                    f"{tag} avg-BTS on BTS log",
                    f(bts["a"], bts["r"], bts["p"], t_b, n_bootstrap=n_boot),
                    ctr_b,
                )
            )
        # 3. cross-log
        t_r = pi_bts[rnd["pos"] - 1]
        model = LogisticRegression(C=0.05, max_iter=1000)
        q_r = reward_predictions(rnd["X"], rnd["a"], rnd["r"], k, reward_model=model, seed=SEED)
        for f in (ips, snips):
            out.append(
                est_row(
                    f"{tag} avg-BTS on random log",
                    f(rnd["a"], rnd["r"], rnd["p"], t_r, n_bootstrap=n_boot),
                    ctr_b,
                )
            )
        out.append(
            est_row(
                f"{tag} avg-BTS on random log",
                doubly_robust(rnd["X"], rnd["a"], rnd["r"], rnd["p"], t_r, q=q_r, n_bootstrap=n_boot),
                ctr_b,
            )
        )
        uni = np.full((len(bts["a"]), k), 1.0 / k)
        q_b = reward_predictions(bts["X"], bts["a"], bts["r"], k, reward_model=model, seed=SEED)
        for f in (ips, snips):
            out.append(
                est_row(
                    f"{tag} uniform on BTS log",
                    f(bts["a"], bts["r"], bts["p"], uni, n_bootstrap=n_boot),
                    ctr_r,
                )
            )
        out.append(
            est_row(
                f"{tag} uniform on BTS log",
                doubly_robust(bts["X"], bts["a"], bts["r"], bts["p"], uni, q=q_b, n_bootstrap=n_boot),
                ctr_r,
            )
        )
    return out


ARMS = ["Control", "Civic Duty", "Hawthorne", "Self", "Neighbors"]


def read_social(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as f:
        rows = list(csv.DictReader(f))
    yes = lambda v: v.strip().lower() == "yes"  # noqa: E731
    X = np.array(
        [
            [
                r["sex"] == "female",
                2006 - int(r["yob"]),
                *(yes(r[c]) for c in ("g2000", "g2002", "g2004", "p2000", "p2002", "p2004")),
                int(r["hh_size"]),
            ]
            for r in rows
        ],
        dtype=float,
    )
    a = np.array([ARMS.index(r["treatment"].strip()) for r in rows])
    voted = np.array([yes(r["voted"]) for r in rows], dtype=float)
    return X, a, voted


def part_b(data: Path, cost: float, n_boot: int, quick: bool) -> dict:
    X, a, voted = read_social(data / "social_pressure" / "social_pressure.csv.gz")
    if quick:
        keep = np.random.default_rng(SEED).permutation(len(a))[:60_000]
        X, a, voted = X[keep], a[keep], voted[keep]
    k = len(ARMS)
    r = voted - cost * (a > 0)
    p_arm = np.bincount(a, minlength=k) / len(a)  # the design's shares
    p = p_arm[a]
    perm = np.random.default_rng(SEED).permutation(len(a))
    cut = int(0.7 * len(a))
    tr, te = perm[:cut], perm[cut:]
    mu, sd = X[tr].mean(axis=0), X[tr].std(axis=0)
    sd[sd == 0] = 1.0  # g2004 is "yes" for everyone: the study sampled 2004 voters
    Z = (X - mu) / sd
    Z = np.hstack([Z, Z[:, [1]] ** 2])  # age squared: turnout is not linear in age

    lts = LinearThompson(n_actions=k, noise_variance=0.2, seed=SEED)
    lts.learn_many(Z[tr], a[tr], r[tr])
    hgb = EpsilonGreedy(
        n_actions=k,
        epsilon=0.0,
        buffer_size=len(tr),
        seed=SEED,
        estimator=HistGradientBoostingRegressor(max_iter=100, random_state=SEED),
    )
    hgb.learn_many(Z[tr], a[tr], r[tr])
    n_te = len(te)
    targets = {
        "learned: LinearThompson (posterior draws)": lts.probabilities_many(Z[te]),
        "learned: linear T-learner, greedy": np.eye(k)[lts.predict_many(Z[te]).argmax(axis=1)],
        "learned: HistGB T-learner, greedy": hgb.probabilities_many(Z[te]),
    }
    for j, name in enumerate(ARMS):
        label = "mail nobody" if j == 0 else f"mail everyone: {name}"
        targets[label] = np.tile(np.eye(k)[j], (n_te, 1))
    q = reward_predictions(
        Z[te],
        a[te],
        r[te],
        k,
        seed=SEED,
        reward_model=HistGradientBoostingRegressor(max_iter=100, random_state=SEED),
    )
    rows, terms = [], {}
    for name, t in targets.items():
        row = {"policy": name, "mailed_share": float(1 - t[:, 0].mean())}
        for f in (ips, snips):
            e = f(a[te], r[te], p[te], t, n_bootstrap=n_boot)
            row[e.method] = [e.value, e.low, e.high]
        e = doubly_robust(Z[te], a[te], r[te], p[te], t, q=q, n_bootstrap=n_boot)
        row["dr"] = [e.value, e.low, e.high]
        terms[name] = dr_terms(a[te], r[te], p[te], t, q)
        rows.append(row)
    constants = sorted(
        (row for row in rows if not row["policy"].startswith("learned")),
        key=lambda row: -row["dr"][0],
    )
    best_two = [row["policy"] for row in constants[:2]]
    gaps = {}
    for name in targets:
        if name.startswith("learned"):
            for const in best_two:
                d = paired_difference(terms[name], terms[const], n_bootstrap=n_boot)
                gaps[f"{name} - {const}"] = [d.value, d.low, d.high]
    best_const = best_two[0]
    return {
        "n_train": len(tr),
        "n_test": n_te,
        "mail_cost": cost,
        "rows": rows,
        "best_constant": best_const,
        "dr_gaps_paired": gaps,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="?", default=str(ROOT / ".." / "shared" / "data"))
    ap.add_argument("--mail-cost", type=float, default=0.04)
    ap.add_argument("--quick", action="store_true", help="200 bootstraps, 60k people in (b)")
    args = ap.parse_args()
    data = Path(args.data).resolve()
    n_boot = 200 if args.quick else 1000
    t0 = time.perf_counter()
    a = part_a(data, n_boot)
    print("(a) Open Bandit Dataset sample: estimates vs on-policy CTR (95% bootstrap intervals)")
    print(f"{'check':42s} {'est':>6s} {'value':>8s} {'interval':>19s} {'CTR':>8s} {'covers':>6s}")
    for row in a:
        print(
            f"{row['what']:42s} {row['method']:>6s} {row['value']:8.5f} "
            f"[{row['low']:.5f}, {row['high']:.5f}] {row['truth']:8.5f} "
            f"{'yes' if row['covers'] else 'NO':>6s}"
        )
    cross = [row for row in a if "w=1" not in row["what"]]
    print(f"covered: {sum(row['covers'] for row in cross)}/{len(cross)} non-trivial intervals")
    b = part_b(data, args.mail_cost, n_boot, args.quick)
    print(
        f"\n(b) social pressure: reward = voted - {b['mail_cost']} if mailed; "
        f"learn on {b['n_train']:,}, value on {b['n_test']:,}"
    )
    print(f"{'policy':42s} {'mailed':>6s} {'IPS':>24s} {'SNIPS':>24s} {'DR':>24s}")
    for row in b["rows"]:
        cells = " ".join(f"{v[0]:.4f} [{v[1]:.4f},{v[2]:.4f}]" for v in (row["ips"], row["snips"], row["dr"]))
        print(f"{row['policy']:42s} {row['mailed_share']:6.2f} {cells}")
    for name, g in b["dr_gaps_paired"].items():
        print(f"DR gap (paired) {name}: {g[0]:+.4f} [{g[1]:+.4f}, {g[2]:+.4f}]")
    print(f"({time.perf_counter() - t0:.1f} s)")
    print(json.dumps({"bench": "real_data", "obd": a, "social_pressure": b}))


if __name__ == "__main__":
    main()
