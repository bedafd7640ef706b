"""CUPED on a real randomized experiment: the lift report's adjustment (hub/reports/lift.py) on the
social-pressure mailers (Gerber, Green and Larimer 2008; ../shared/data/social_pressure/SOURCE.md).

Households got one of four mailers or nothing; the outcome is turnout in the August 2006 primary.
The covariate is the same metric before assignment, as the hub's is: how many of the three earlier
primaries (2000, 2002, 2004) the person voted in. Prints, per mailer against the control:

- on the whole experiment, the plain Welch difference and the CUPED one, with their intervals and
  the share of the variance the history removed (the two estimates must agree: both are unbiased);
- on ``--draws`` random subsamples of ``--n`` people per arm (as a hub with a small holdout would
  see), how often each interval holds the whole experiment's plain difference, and how wide the
  adjusted interval is against the plain one.

    python bench/cuped_real.py [--data PATH] [--n 2000] [--draws 400] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.offline_mailer import MAILERS, default_data  # noqa: E402
from hub.reports.lift import compare  # noqa: E402

PRIMARIES = ("p2000", "p2002", "p2004")


def load(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import pandas as pd

    d = pd.read_csv(path)
    y = (d["voted"].str.strip().str.lower() == "yes").to_numpy(float)
    x = sum((d[c].str.strip().str.lower() == "yes").to_numpy(float) for c in PRIMARIES)
    return d["treatment"].str.strip().to_numpy(str), y, x


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=default_data())
    ap.add_argument("--n", type=int, default=2000, help="people per arm in each subsample")
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    started = time.time()
    arm, y, x = load(args.data)
    rng = np.random.default_rng(args.seed)
    control = arm == "Control"
    print(f"social pressure: {len(y):,} people, turnout {y.mean():.3f}; covariate: primaries voted in of {PRIMARIES}")
    print(f"corr(covariate, turnout) = {np.corrcoef(x, y)[0, 1]:.3f}")
    header = (
        f"{'mailer':<11} {'plain diff [95%]':>26} {'CUPED diff [95%]':>26} {'var removed':>11}   "
        f"subsamples of {args.n:,}/arm: covered plain / CUPED, width CUPED/plain"
    )
    print(header)
    out = []
    for mailer in MAILERS:
        treated = arm == mailer
        plain = compare("turnout", mailer, "Control", y[treated], y[control])
        adj = compare("turnout", mailer, "Control", y[treated], y[control], x[treated], x[control])
        truth = plain.diff
        hit_plain = hit_adj = 0
        widths = []
        t_idx, c_idx = np.flatnonzero(treated), np.flatnonzero(control)
        for _ in range(args.draws):
            t = rng.choice(t_idx, args.n, replace=False)
            c = rng.choice(c_idx, args.n, replace=False)
            p = compare("turnout", mailer, "Control", y[t], y[c])
            a = compare("turnout", mailer, "Control", y[t], y[c], x[t], x[c])
            hit_plain += p.low <= truth <= p.high
            hit_adj += a.low <= truth <= a.high
            widths.append((a.high - a.low) / (p.high - p.low))
        row = {
            "mailer": mailer,
            "plain": [plain.diff, plain.low, plain.high],
            "cuped": [adj.diff, adj.low, adj.high],
            "variance_reduction": adj.variance_reduction,
            "covered_plain": hit_plain / args.draws,
            "covered_cuped": hit_adj / args.draws,
            "width_ratio": float(np.mean(widths)),
        }
        out.append(row)
        print(
            f"{mailer:<11} {plain.diff:+.4f} [{plain.low:+.4f}, {plain.high:+.4f}] "
            f"{adj.diff:+.4f} [{adj.low:+.4f}, {adj.high:+.4f}] {adj.variance_reduction:>10.1%}   "
            f"{row['covered_plain']:.3f} / {row['covered_cuped']:.3f}, {row['width_ratio']:.3f}"
        )
    print(f"wall {time.time() - started:.0f} s")
    print(json.dumps({"bench": "cuped_real", "n_per_arm": args.n, "draws": args.draws, "rows": out}))


if __name__ == "__main__":
    main()
