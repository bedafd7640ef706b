"""Does the impact analyzer's estimate of a component's lift cover the truth? (issue 19, item 4)

Run: .venv/bin/python bench/impact_truth.py [--contacts 600] [--days 21] [--seeds 0 1]
     [--components long_term_value send_time opt_out_model] [--share 0.15] [--jobs 2] [--out FILE]
     [--aa]  (also the full engine on another engine seed: what two runs of a world differ by)

Per world seed, on `hub demo` runs (hub/demo.py: the whole pipeline against the sandbox market):

(a) one run with an ablation arm of ``--share`` per component beside the engine and the holdout;
    the analyzer's row (hub/reports/impact.py ``impact_rows``: engine arm minus the arm without
    the component, reward per contact, Welch 95 %) as the store measures it, and the same
    difference in the market's ground truth for the same people;
(b) separate runs of the same world: the full engine, and per component the engine with that
    component off for the whole population (the engine arm: everyone but the holdout). The
    truth is the ground-truth reward per engine-arm contact of the full run minus that of the
    run without the component.

A component is switched off in (b) by its own setting where one exists (``long_term_weight: 0``,
``send_time: false``, ``opt_out_model: false``), so the truth does not share the ablation arm's
code path; ``learned_propensities`` and ``content`` have no such setting and take an ablation
share of 0.9 (everyone outside the holdout).

The two measure slightly different things: an ablation arm shares the engine's data and
models (its contacts are decided without the component, but the engine learns from everyone),
while a separate run without the component also learns from its own, different data. A demo
run is deterministic, so a world's truth is one path. Results and figures: README "Impact
analyzer", bench/results/impact_truth.txt. Prints a row per component and seed, and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from decision.experiment import ablation_arm  # noqa: E402
from hub.config import load_settings  # noqa: E402
from hub.demo import ArmResult, DemoReport, lift, run_demo  # noqa: E402
from hub.reports.data import load_arm_frame  # noqa: E402
from hub.reports.impact import impact_rows  # noqa: E402
from hub.store import Store  # noqa: E402

COMPONENTS = ("long_term_value", "send_time", "opt_out_model")
#: the engine setting that switches a component off for everyone; others take an ablation arm
#: of everyone outside the holdout
OFF_SETTING: dict[str, dict[str, Any]] = {
    "long_term_value": {"long_term_weight": 0.0},
    "send_time": {"send_time": False},
    "opt_out_model": {"opt_out_model": False},
}


@dataclass(frozen=True)
class ComponentTruth:
    seed: int
    component: str
    n_engine: int  # contacts in the engine arm of run (a), store side
    n_arm: int  # contacts in the ablation arm of run (a), store side
    store: float  # the analyzer's estimate: engine minus ablation arm, reward per contact
    store_low: float
    store_high: float
    same_people: float  # the same difference, market ground truth for the same people
    same_people_low: float
    same_people_high: float
    truth: float  # full-engine run minus run without the component, ground truth per engine contact
    truth_low: float
    truth_high: float

    @property
    def covered(self) -> bool:
        """The analyzer's interval (what the hub sees) holds the separate-run truth."""
        return self.store_low <= self.truth <= self.store_high

    @property
    def covered_same_people(self) -> bool:
        """The ablation design measured in ground truth holds it (the hub's blind spots aside)."""
        return self.same_people_low <= self.truth <= self.same_people_high


def off_engine(component: str, holdout_share: float = 0.1) -> dict[str, Any]:
    """The ``decision.engine`` overrides that run the engine without ``component`` for all."""
    ablation_arm(component)  # an unknown component fails here, naming the known ones
    if component in OFF_SETTING:
        return OFF_SETTING[component]
    return {"experiments": {"ablations": {component: 1.0 - holdout_share}}}


def _arm(report: DemoReport, arm: str) -> ArmResult:
    found = [a for a in report.arms if a.arm == arm]
    if not found:
        raise RuntimeError(f"no contact in arm {arm!r}; arms: {[a.arm for a in report.arms]}")
    return found[0]


def demo(job: tuple[str, int, int, int, dict[str, Any]]) -> tuple[str, DemoReport, list[Any]]:
    """One `hub demo` run in a temporary directory: its report and the analyzer's reward rows."""
    label, seed, contacts, days, engine = job
    with tempfile.TemporaryDirectory(prefix="hub_impact_") as d:
        report = run_demo(contacts=contacts, seed=seed, days=days, workdir=Path(d), engine=engine)
        settings = load_settings(Path(d) / "hub.yaml")
        store = Store(settings.store_url)
        with store.connect() as conn:
            frame = load_arm_frame(conn)
        store.dispose()
        rows = impact_rows(frame, settings.decision.objective)
    return label, report, rows


#: the engine's own random seed (decision.engine.seed) of the A/A run
AA_SEED = 7


def jobs(
    seed: int, contacts: int, days: int, components: tuple[str, ...], share: float, aa: bool = False
) -> list[tuple]:
    """Run (a), the full engine and one run per component switched off, for one world; with
    ``aa`` also the full engine again on another engine seed (the separate-run truth's noise)."""
    arms = {"experiments": {"ablations": dict.fromkeys(components, share)}}
    out = [("ablations", seed, contacts, days, arms), ("full", seed, contacts, days, {})]
    out += [(f"off:{c}", seed, contacts, days, off_engine(c)) for c in components]
    if aa:
        out.append(("aa", seed, contacts, days, {"seed": AA_SEED}))
    return out


def aa_noise(results: dict[str, tuple[DemoReport, list[Any]]]) -> Any:
    """Full engine minus full engine on another engine seed, reward per engine contact: what
    two runs of the same world differ by with no component switched off."""
    return lift("reward", _arm(results["full"][0], "engine"), _arm(results["aa"][0], "engine"))


def measure(
    seed: int, components: tuple[str, ...], results: dict[str, tuple[DemoReport, list[Any]]]
) -> list[ComponentTruth]:
    """One :class:`ComponentTruth` per component from one world's runs (keyed as :func:`jobs`)."""
    ab_report, ab_rows = results["ablations"]
    full_engine = _arm(results["full"][0], "engine")
    out = []
    for c in components:
        row = next(r.lift for r in ab_rows if r.component == c and r.kind == "component")
        same = lift("reward", _arm(ab_report, "engine"), _arm(ab_report, ablation_arm(c)))
        off_report = results[f"off:{c}"][0]
        off = _arm(off_report, ablation_arm(c) if c not in OFF_SETTING else "engine")
        truth = lift("reward", full_engine, off)
        out.append(
            ComponentTruth(
                seed=seed,
                component=c,
                n_engine=row.n_arm,
                n_arm=row.n_base,
                store=row.diff,
                store_low=row.low,
                store_high=row.high,
                same_people=same.diff,
                same_people_low=same.low,
                same_people_high=same.high,
                truth=truth.diff,
                truth_low=truth.low,
                truth_high=truth.high,
            )
        )
    return out


def run(
    seeds: list[int],
    contacts: int,
    days: int,
    components: tuple[str, ...],
    share: float,
    n_jobs: int = 2,
    aa: dict[int, Any] | None = None,
) -> list[ComponentTruth]:
    """Every world's runs, ``n_jobs`` at a time; a dict passed as ``aa`` gets each world's
    A/A difference (:func:`aa_noise`) and asks for the extra run."""
    todo = [j for s in seeds for j in jobs(s, contacts, days, components, share, aa is not None)]
    done: dict[int, dict[str, tuple[DemoReport, list[Any]]]] = {s: {} for s in seeds}
    if n_jobs <= 1:
        finished = map(demo, todo)
    else:
        pool = ProcessPoolExecutor(max_workers=n_jobs)
        finished = pool.map(demo, todo)
    for job, (label, report, rows) in zip(todo, finished, strict=True):
        done[job[1]][label] = (report, rows)
    if n_jobs > 1:
        pool.shutdown()
    if aa is not None:
        aa.update({s: aa_noise(done[s]) for s in seeds})
    return [t for s in seeds for t in measure(s, components, done[s])]


def table(rows: list[ComponentTruth]) -> str:
    head = (
        f"{'seed':>4} {'component':<16} {'n eng/arm':>9}  {'analyzer (store) [95%]':<28} "
        f"{'same people, truth [95%]':<28} {'separate runs, truth [95%]':<28} covered: store / same people"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.seed:>4} {r.component:<16} {f'{r.n_engine}/{r.n_arm}':>9}  "
            f"{f'{r.store:+.2f} [{r.store_low:+.2f}, {r.store_high:+.2f}]':<28} "
            f"{f'{r.same_people:+.2f} [{r.same_people_low:+.2f}, {r.same_people_high:+.2f}]':<28} "
            f"{f'{r.truth:+.2f} [{r.truth_low:+.2f}, {r.truth_high:+.2f}]':<28} {'yes' if r.covered else 'NO'} / {'yes' if r.covered_same_people else 'NO'}"
        )
    covered, same = sum(r.covered for r in rows), sum(r.covered_same_people for r in rows)
    lines.append(
        f"separate-run truth inside the analyzer's interval: {covered} of {len(rows)}; "
        f"inside the same people's ground-truth interval: {same} of {len(rows)}"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contacts", type=int, default=600)
    ap.add_argument("--days", type=int, default=21)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--components", nargs="+", default=list(COMPONENTS))
    ap.add_argument("--share", type=float, default=0.15, help="ablation share per component in run (a)")
    ap.add_argument("--jobs", type=int, default=2, help="demo runs at once (one process each)")
    ap.add_argument("--out", default=None, help="also write the table here")
    ap.add_argument("--aa", action="store_true", help="also run the full engine on another engine seed")
    a = ap.parse_args()
    t0, load0 = time.monotonic(), os.getloadavg()[0]
    aa: dict[int, Any] | None = {} if a.aa else None
    rows = run(a.seeds, a.contacts, a.days, tuple(a.components), a.share, a.jobs, aa)
    text = (
        f"impact analyzer vs separate runs: {a.contacts} contacts, {a.days} days, seeds {a.seeds}, "
        f"ablation share {a.share} each; reward per contact\n{table(rows)}\n"
        + "".join(
            f"A/A, seed {s}: full engine minus full engine on engine seed {AA_SEED}: "
            f"{d.diff:+.2f} [{d.low:+.2f}, {d.high:+.2f}]\n"
            for s, d in (aa or {}).items()
        )
        + f"{time.strftime('%Y-%m-%d', time.gmtime())}: wall {time.monotonic() - t0:.0f} s, {a.jobs} runs at once, "
        f"1-min load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    )
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(
        json.dumps(
            {
                "bench": "impact_truth",
                "rows": [
                    {**asdict(r), "covered": r.covered, "covered_same_people": r.covered_same_people} for r in rows
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
