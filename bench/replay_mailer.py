"""Replay of the social-pressure mailer RCT: how fast does each learner reach the best mailer?

Rejection-sampling replay (Li, Chu, Langford & Wang 2011): the log is shuffled and streamed in
batches of ``--batch`` rows; each policy chooses an action for every row of a batch with its
current model; a choice counts only when it equals the logged action, and the policy then
learns from those accepted rows (reward and context), before the next batch. The replay is
unbiased only for a uniformly random log, and the RCT gave no mail to 55.6% and each mailer to
11.1%: so the log is first thinned, keeping each no-mail row with probability 0.111 / 0.556
(every action then has the same share, as if logged uniformly). About 191,000 rows remain; a
policy sees about a fifth of them accepted.

Policies (the same features for all: the table read by hub/tables.py and featurized by
decision/tabular.py's inferred specs, as `hub offline evaluate` does):

- engine: the default engine bandit exactly as the hub builds it (decision.engine.engine_bandit
  from EngineSettings(): Apprentice(LinearThompson), exploration 0.2, learned noise, forgetting,
  squared terms on the count-like columns), rewards divided by reward_scale as the engine learns;
- vw / vw_squarecb: Vowpal Wabbit ``--cb_explore_adf --epsilon 0.05 -q sa`` (the authors'
  contextual-bandit tutorial setting) and ``--cb_explore_adf --squarecb -q sa`` (SquareCB, their
  recommended exploration since 9.0), shared features ``|s`` and one action line ``|a`` per
  action, cost = -reward, the chosen action's probability in the label;
- mabwiser_lints / mabwiser_linucb: MABWiser LinTS / LinUCB (defaults, alpha 1.0) on the features
  plus an intercept column of ones (without it their per-arm ridge regressions have no bias term);
  uniform random choices until their first fit;
- best fixed: always the action with the highest voting rate in the thinned log (in hindsight).

Reported over ``--seeds`` shuffles: reward per accepted decision per tenth of the stream (each
tenth's own rate, the mean over seeds), cumulative at the end, and the first tenth whose rate is
at least the best fixed action's rate over the same tenth (mean over seeds), or within ``NEAR``
of it. To keep a run to a few minutes on a shared 2-core machine (VW is fed row by row through
its Python text interface), each seed streams a random 100,000 of the thinned rows by default
(``--rows 0``: all).

    python bench/replay_mailer.py [--data FILE] [--seeds 3] [--batch 500] [--rows N] [--policies ...]

Writes its output to bench/results/replay_mailer.txt as well.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from decision.engine import engine_bandit
from decision.tabular import TableFeaturizer, infer_specs
from hub.cells import as_strings
from hub.config import EngineSettings
from hub.tables import read_table

ROOT = Path(__file__).resolve().parents[1]
TENTHS = 10
#: "close to the best fixed action": a tenth's rate at most this far below it (about one standard
#: error of a tenth's rate over 3 seeds: some 6,000 accepted decisions)
NEAR = 0.01


def default_data() -> Path:
    for base in (ROOT.parent, ROOT.parent.parent):
        path = base / "shared" / "data" / "social_pressure" / "social_pressure.csv.gz"
        if path.exists():
            return path
    return ROOT.parent / "shared" / "data" / "social_pressure" / "social_pressure.csv.gz"


def load(path: Path) -> tuple[np.ndarray, list[int], np.ndarray, list[str], np.ndarray]:
    table = read_table(path)
    actions = np.asarray(as_strings(table.column("treatment")).to_numpy(zero_copy_only=False), dtype=str)
    names, a = np.unique(actions, return_inverse=True)
    r = np.asarray(table.column("voted"), dtype=float)
    specs = infer_specs(table, exclude=["treatment", "voted"])
    feat = TableFeaturizer(specs).fit(table)
    return feat.transform(table), [int(j) for j in feat.numeric_columns_], a, [str(x) for x in names], r


class Engine:
    name = "engine"

    def __init__(self, k: int, numeric: list[int], seed: int):
        self.e = EngineSettings(seed=seed)
        self.model = engine_bandit(self.e, k, numeric)

    def choose(self, X: np.ndarray) -> np.ndarray:
        return self.model.choose_many(X).actions

    def learn(self, X, a, r) -> None:  # noqa: ANN001
        self.model.learn_many(X, a, r / self.e.reward_scale)


class VW:
    #: the exploration of each variant (both with -q sa: every shared feature crossed with the action)
    EXPLORE = {"vw": "--epsilon 0.05", "vw_squarecb": "--squarecb"}

    def __init__(self, k: int, numeric: list[int], seed: int, name: str = "vw"):
        import vowpalwabbit

        self.k, self.name = k, name
        self.vw = vowpalwabbit.Workspace(f"--cb_explore_adf {self.EXPLORE[name]} -q sa --quiet --random_seed {seed}")
        self.rng = np.random.default_rng([seed, 3])
        self.arms = [f"|a arm{j}" for j in range(k)]
        self.prob: dict[int, float] = {}

    @staticmethod
    def shared(x: np.ndarray) -> str:
        return "shared |s " + " ".join(f"f{j}:{v:.5g}" for j, v in enumerate(x) if v != 0)

    def choose(self, X: np.ndarray) -> np.ndarray:
        out = np.empty(len(X), dtype=np.intp)
        self.prob = {}
        u = self.rng.random(len(X))
        for i, x in enumerate(X):
            pmf = np.asarray(self.vw.predict([self.shared(x), *self.arms]))
            j = min(int(np.searchsorted(np.cumsum(pmf), u[i] * pmf.sum())), self.k - 1)
            out[i], self.prob[i] = j, float(pmf[j])
        self._X = X
        return out

    def learn_rows(self, rows: np.ndarray, a: np.ndarray, r: np.ndarray) -> None:
        for i, j, reward in zip(rows, a, r, strict=True):
            lines = [self.shared(self._X[i])] + [
                f"0:{-reward:g}:{self.prob[int(i)]:.6g} {arm}" if m == j else arm for m, arm in enumerate(self.arms)
            ]
            self.vw.learn(lines)


class Mab:
    def __init__(self, k: int, numeric: list[int], seed: int, kind: str):
        from mabwiser.mab import MAB, LearningPolicy

        lp = LearningPolicy.LinTS() if kind == "lints" else LearningPolicy.LinUCB()
        self.name = f"mabwiser_{kind}"
        self.mab = MAB(arms=list(range(k)), learning_policy=lp, seed=seed)
        self.k, self.fitted = k, False
        self.rng = np.random.default_rng([seed, 5])

    @staticmethod
    def ctx(X: np.ndarray) -> np.ndarray:
        return np.hstack([X, np.ones((len(X), 1))])

    def choose(self, X: np.ndarray) -> np.ndarray:
        if not self.fitted:
            return self.rng.integers(0, self.k, len(X))
        return np.atleast_1d(np.asarray(self.mab.predict(self.ctx(X)), dtype=np.intp))

    def learn(self, X, a, r) -> None:  # noqa: ANN001
        if self.fitted:
            self.mab.partial_fit(a.tolist(), r.tolist(), self.ctx(X))
        else:
            self.mab.fit(a.tolist(), r.tolist(), self.ctx(X))
            self.fitted = True


def replay(policy, X, a, r, batch: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """(accepted flags, rewards) per streamed row."""
    acc = np.zeros(len(a), dtype=bool)
    for s in range(0, len(a), batch):
        e = min(len(a), s + batch)
        choice = policy.choose(X[s:e])
        hit = np.flatnonzero(choice == a[s:e])
        acc[s + hit] = True
        if len(hit):
            if isinstance(policy, VW):
                policy.learn_rows(hit, a[s + hit], r[s + hit])
            else:
                policy.learn(X[s + hit], a[s + hit], r[s + hit])
    return acc, r


def tenth_rates(acc: np.ndarray, r: np.ndarray) -> np.ndarray:
    parts = np.array_split(np.arange(len(acc)), TENTHS)
    return np.array([r[p][acc[p]].mean() if acc[p].any() else np.nan for p in parts])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(default_data()))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rows", type=int, default=100_000, help="subsample the thinned log to this many rows (0: all)")
    ap.add_argument("--policies", default="engine,vw,vw_squarecb,mabwiser_lints,mabwiser_linucb")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "replay_mailer.txt"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    X, numeric, a, names, r = load(Path(args.data))
    k = len(names)
    share = np.bincount(a, minlength=k) / len(a)
    makers = {
        "engine": lambda s: Engine(k, numeric, s),
        "vw": lambda s: VW(k, numeric, s),
        "vw_squarecb": lambda s: VW(k, numeric, s, "vw_squarecb"),
        "mabwiser_lints": lambda s: Mab(k, numeric, s, "lints"),
        "mabwiser_linucb": lambda s: Mab(k, numeric, s, "linucb"),
    }
    chosen = [p.strip() for p in args.policies.split(",") if p.strip()]
    rates: dict[str, list[np.ndarray]] = {p: [] for p in [*chosen, "best fixed"]}
    final: dict[str, list[float]] = {p: [] for p in rates}
    accepted: dict[str, list[int]] = {p: [] for p in rates}
    secs: dict[str, float] = dict.fromkeys(rates, 0.0)
    n_rows = 0
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        keep = rng.random(len(a)) < share.min() / share[a]  # thin to a uniform logging policy
        rows = rng.permutation(np.flatnonzero(keep))
        if args.rows:
            rows = rows[: args.rows]
        n_rows = len(rows)
        Xs, As, Rs = X[rows], a[rows], r[rows]
        best = int(np.argmax([Rs[As == j].mean() for j in range(k)]))
        runs = {"best fixed": (As == best, Rs)}
        for p in chosen:
            t = time.perf_counter()
            runs[p] = replay(makers[p](seed), Xs, As, Rs, args.batch)
            secs[p] += time.perf_counter() - t
        for p, (acc, rr) in runs.items():
            rates[p].append(tenth_rates(acc, rr))
            final[p].append(float(rr[acc].mean()))
            accepted[p].append(int(acc.sum()))
    mean = {p: np.nanmean(np.vstack(v), axis=0) for p, v in rates.items()}
    reach, near = {}, {}
    for p in chosen:
        at = np.flatnonzero(mean[p] >= mean["best fixed"])
        reach[p] = int(at[0]) + 1 if len(at) else None
        at = np.flatnonzero(mean[p] >= mean["best fixed"] - NEAR)
        near[p] = int(at[0]) + 1 if len(at) else None
    lines = [
        f"# bench/replay_mailer.py --seeds {args.seeds} --batch {args.batch} --rows {args.rows}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"{os.cpu_count()} cores; {n_rows:,} thinned rows per seed; best fixed action: {names[best]}",
        "",
        "reward per accepted decision in each tenth of the stream (mean over seeds)",
        f"{'policy':18s} " + " ".join(f"{j + 1:>6d}" for j in range(TENTHS)) + f" {'overall':>8s} {'accepted':>9s} "
        f"{'reaches best fixed':>19s} {'within ' + str(NEAR):>12s} {'s/seed':>7s}",
    ]
    for p in rates:
        where = "" if p == "best fixed" else ("never" if reach[p] is None else f"tenth {reach[p]}")
        close = "" if p == "best fixed" else ("never" if near[p] is None else f"tenth {near[p]}")
        lines.append(
            f"{p:18s} " + " ".join(f"{v:6.3f}" for v in mean[p]) + f" {np.mean(final[p]):8.4f} "
            f"{np.mean(accepted[p]):9,.0f} {where:>19s} {close:>12s} {secs[p] / args.seeds:7.1f}"
        )
    lines.append(f"({time.perf_counter() - t0:.0f} s in all)")
    lines.append(
        json.dumps(
            {
                "bench": "replay_mailer",
                "seeds": args.seeds,
                "batch": args.batch,
                "rows_per_seed": n_rows,
                "best_fixed": names[best],
                "tenth_rates": {p: [round(float(x), 5) for x in v] for p, v in mean.items()},
                "overall": {p: [round(x, 5) for x in v] for p, v in final.items()},
                "accepted": accepted,
                "reaches_best_fixed_tenth": reach,
                "within_tenth": {"margin": NEAR, **near},
                "seconds_per_seed": {p: round(s / args.seeds, 1) for p, s in secs.items()},
            }
        )
    )
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
