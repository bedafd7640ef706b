"""The social-pressure mailer RCT through `hub offline evaluate`, at several mailer costs.

Gerber, Green & Larimer (2008): 344,084 people randomized to four mailers or none, outcome
"voted" (Yes/No) in the Aug-2006 Michigan primary (../shared/data/social_pressure/SOURCE.md).
For each cost the command is run as a user would run it (the installed `hub` in a subprocess,
the default engine bandit, 70/30 split, propensities estimated from the log since the file has
none; the design's shares are 0.556 / 0.111) with ``--cost MAILER=C`` for the four mailers, so
the reward is ``voted - C * mailed``. At a cost the best single action may be no mail at all.

Reported per cost: the deployed policy's IPS value on the 30% test rows, the best single action
and its value, the paired difference (deployed minus best single, same resampled rows) with its
95% interval, what safe improvement deployed and why, and the learned bandit's own difference
(IPS and DR) for comparison. Households were randomized as units and the bootstrap resamples
people, so intervals are somewhat too narrow (members of a household share a mailer and tend to
vote alike).

    python bench/offline_mailer.py [--data FILE] [--costs 0,0.04,0.08] [--seed 0]

Writes its output to bench/results/offline_mailer.txt as well.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def default_data() -> Path:
    """../shared/data beside the checkout (or beside the worktrees' folder)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        path = base / "shared" / "data" / "social_pressure" / "social_pressure.csv.gz"
        if path.exists():
            return path
    return ROOT.parent / "shared" / "data" / "social_pressure" / "social_pressure.csv.gz"


MAILERS = ("Civic Duty", "Hawthorne", "Self", "Neighbors")


def run(data: Path, cost: float, seed: int) -> tuple[dict, float]:
    hub = Path(sys.executable).with_name("hub")
    cmd = [str(hub), "offline", "evaluate", "--log", str(data), "--action-col", "treatment"]
    cmd += ["--reward-col", "voted", "--seed", str(seed), "--json"]
    if cost:
        for m in MAILERS:
            cmd += ["--cost", f"{m}={cost:g}"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}")
    return json.loads(done.stdout), time.perf_counter() - t0


def fmt(d: dict) -> str:
    return f"{d['estimate']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(default_data()))
    ap.add_argument("--costs", default="0,0.04,0.08")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "offline_mailer.txt"))
    args = ap.parse_args()
    data = Path(args.data).resolve()
    costs = [float(c) for c in args.costs.split(",")]
    lines = [
        f"# bench/offline_mailer.py --costs {args.costs} --seed {args.seed}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores",
    ]
    rows = []
    for cost in costs:
        res, secs = run(data, cost, args.seed)
        best = res["best_action"]
        rows.append(
            {
                "cost": cost,
                "seconds": round(secs, 1),
                "n_train": res["n_train"],
                "n_test": res["n_test"],
                "policy": res["policy"],
                "best_action": best,
                "best_value": res["actions"][best],
                "difference_vs_best": res["difference_vs_best"],
                "deployed": {k: res["deployed"][k] for k in ("mode", "constant", "learned_share", "reason", "mix")},
                "learned_difference_ips": res["learned"]["difference_vs_best"],
                "learned_difference_dr": res["dr"]["learned_difference_vs_best"],
                "deployed_difference_dr": res["dr"]["difference_vs_best"],
                "actions": res["actions"],
            }
        )
    head = f"{'cost':>5} {'deployed':>9} {'policy value (IPS)':>27} {'best single':>12} {'its value':>8}"
    head += f" {'deployed - best (paired)':>29} {'bandit alone - best':>29} {'(DR)':>29} {'s':>5}"
    lines += ["", head]
    for r in rows:
        mode = r["deployed"]["mode"]
        lines.append(
            f"{r['cost']:5.2f} {mode:>9} {fmt(r['policy']):>27} {r['best_action']:>12} "
            f"{r['best_value']['estimate']:8.4f} {fmt(r['difference_vs_best']):>29} "
            f"{fmt(r['learned_difference_ips']):>29} {fmt(r['learned_difference_dr']):>29} {r['seconds']:5.1f}"
        )
    lines.append("")
    for r in rows:
        mix = ", ".join(f"{a} {s:.0%}" for a, s in r["deployed"]["mix"].items() if s >= 0.005)
        lines.append(f"cost {r['cost']:g}: {r['deployed']['reason']} Deployed mix: {mix}.")
    lines.append(json.dumps({"bench": "offline_mailer", "seed": args.seed, "rows": rows}))
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
