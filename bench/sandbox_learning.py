"""The pipeline learning on the sandbox, world after world: how much the engine's choices rise.

Run: .venv/bin/python bench/sandbox_learning.py [--seeds 1-8] [--jobs 2] [--json FILE]

One run is the scenario of tests/engine/test_sandbox_learning.py (which runs world 3): 400
contacts, six simulated weeks, the whole pipeline (sync -> decide -> push -> outcomes -> learn)
through the real HubSpot connector against the sandbox, with the legacy rule "call everyone" as
the apprentice's cold start. In this market early sales calls burn leads, so the engine has to
learn whom to call and whom to mail. The measure is the ground truth: the market's expected
reward of what the engine had it do (no outcome noise, no organic activity), week 0 against
weeks 3-4. A small pipeline learns from a few thousand decisions, and one world is one path:
judge an engine change by the spread over worlds, not by one of them.

The simulated clock ticks per reading, not with the wall, so a world gives the same run on any
machine. Prints a row per world, a summary and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.config import load_settings  # noqa: E402
from hub.pipeline.context import HubContext  # noqa: E402
from hub.pipeline.learn import list_models  # noqa: E402
from hub.pipeline.run import run_once  # noqa: E402
from hub.sandbox.catalog import CATALOG  # noqa: E402
from hub.sandbox.serve import SandboxHandle, start_sandbox  # noqa: E402
from hub.sandbox.world import World  # noqa: E402
from hub.store import learning  # noqa: E402
from hub.store.contacts import aware  # noqa: E402
from hub.store.schema import decisions  # noqa: E402

DAYS = 42
CONTACTS = 400
#: the rise in ground-truth reward per engine decision the test asks of world 3
BAR = 0.04


@dataclass(frozen=True)
class LearningRun:
    world_seed: int
    decisions: int
    models: int
    observed_first: float  # the hub's own attributed reward per engine decision, week 0
    observed_last: float  # the same, weeks 3-4 (their windows all closed by day 42)
    holdout: float  # the legacy-rules holdout's observed reward per decision
    truth_first: float  # the market's expected reward per engine decision, week 0
    truth_last: float  # the same, weeks 3-4
    seconds: float
    legacy_truth: float = float("nan")  # the market's expected reward per holdout (legacy rules) decision
    #: first day whose trailing 7 days of engine decisions earn (ground truth) at least BAR more
    #: per decision than the legacy rules' holdout decisions of the same 7 days; None: never
    days_to_beat_legacy: int | None = None
    graduated_day: int | None = None  # day of the first model that graduated from apprentice mode
    #: the hand-over test's 95 % lower bound (engine minus rules, observed reward) at the end
    graduation_lower_bound: float | None = None

    @property
    def rise(self) -> float:
        return self.truth_last - self.truth_first


def configure(workdir: Path, sb: SandboxHandle, graduation: bool = True) -> HubContext:
    cfg = {
        "store_url": f"sqlite:///{workdir / 'hub.db'}",
        "connectors": {
            "crm": {"type": "hubspot", "settings": {"access_token": sb.hubspot_token, "base_url": sb.hubspot_url}}
        },
        "decision": {
            "policy": "engine",
            "actions": [
                {"id": a.id, "kind": a.kind, "channel": a.channel, "topic": a.topic, "attribution_days": 7}
                for a in CATALOG
            ],
            "engine": {
                "holdout_share": 0.1,
                "apprentice_min_observations": 20,
                "explore_share": 0.3,
                "redecide_after_days": 7,
                "max_marketing_touches_7d": 1,
                "sales_handoffs_per_owner_per_day": 100,
                "seed": 1,
                # long-term value would overrule the call-everyone rule from day one (early calls
                # burn leads), leaving no cold start to rise from; this run is about the apprentice
                "long_term_weight": 0.0,
                # measured hand-over (decision/graduation.py); off: only the per-action counts
                "graduation_min_evidence": 100 if graduation else 10**9,
            },
            "rules": [
                {
                    "name": "call-everyone",
                    "when": "True",
                    "actions": [{"kind": "set_fields", "fields": {"next_best_action": "sales_outreach"}}],
                }
            ],
        },
    }
    path = workdir / "hub.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return HubContext.build(load_settings(path), embedded=True)


def run(
    world_seed: int, workdir: Path, contacts: int = CONTACTS, days: int = DAYS, graduation: bool = True
) -> LearningRun:
    """One world: the pipeline once a day for ``days`` simulated days, then the measures."""
    t0 = time.monotonic()
    world = World(n_contacts=contacts, seed=world_seed, realtime_clock=False)
    with start_sandbox(world) as sb:
        ctx = configure(workdir, sb, graduation)
        ctx.clock = world.now
        ctx.connector("crm").ensure_schema()
        for _ in range(days):
            run_once(ctx)
            world.advance_days(1)
        run_once(ctx)
        with ctx.store.connect() as conn:
            rows = learning.finalized_rewards(conn)
            arm_of = dict(conn.execute(select(decisions.c.id, decisions.c.arm)).all())
        models = list_models(ctx)
        ctx.close()
    start = world.config.start
    week = np.array([(t - start).days // 7 for t, *_ in rows])
    reward = np.array([r for *_, r in rows])
    arms = np.array([a for _, a, *_ in rows])
    engine = arms == "engine"
    late = (week == 3) | (week == 4)
    gt = world.ground_truth_log()
    on_engine = np.array([arm_of.get(int(d)) == "engine" if str(d).isdigit() else False for d in gt["decision_id"]])
    gt_week = gt["day"] // 7
    gt_late = (gt_week == 3) | (gt_week == 4)
    on_holdout = np.array([arm_of.get(int(d)) == "holdout" if str(d).isdigit() else False for d in gt["decision_id"]])
    legacy = float(gt["expected_reward"][on_holdout].mean())
    beat = None
    for day in range(days):
        days_7 = (gt["day"] > day - 7) & (gt["day"] <= day)
        eng_w, hold_w = on_engine & days_7, on_holdout & days_7
        er = gt["expected_reward"]
        if eng_w.any() and hold_w.any() and er[eng_w].mean() >= er[hold_w].mean() + BAR:
            beat = day
            break
    graduated = [m for m in models if (m["metrics"] or {}).get("graduated")]
    grad_day = (aware(graduated[0]["created_at"]) - start).days if graduated else None
    return LearningRun(
        world_seed=world_seed,
        decisions=len(rows),
        models=len(models),
        observed_first=float(reward[engine & (week == 0)].mean()),
        observed_last=float(reward[engine & late].mean()),
        holdout=float(reward[arms == "holdout"].mean()),
        truth_first=float(gt["expected_reward"][on_engine & (gt_week == 0)].mean()),
        truth_last=float(gt["expected_reward"][on_engine & gt_late].mean()),
        seconds=time.monotonic() - t0,
        legacy_truth=legacy,
        days_to_beat_legacy=beat,
        graduated_day=grad_day,
        graduation_lower_bound=(models[-1]["metrics"] or {}).get("graduation_evidence", {}).get("lower_bound")
        if models
        else None,
    )


def _run_in_tempdir(job: tuple[int, bool, int]) -> LearningRun:
    with tempfile.TemporaryDirectory(prefix="hub_learning_") as d:
        return run(job[0], Path(d), contacts=job[2], graduation=job[1])


def _day(d: int | None) -> str:
    return "never" if d is None else str(d)


def parse_seeds(text: str) -> list[int]:
    """ "1-8" or "1,3,5"."""
    if "-" in text:
        lo, hi = text.split("-", 1)
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",") if s.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="1-8", help='worlds to run: "1-8" or "1,3,5"')
    ap.add_argument("--jobs", type=int, default=2, help="worlds run at once (one process each)")
    ap.add_argument("--json", default=None, help="write the runs and summary here")
    ap.add_argument("--contacts", type=int, default=CONTACTS, help="contacts per world")
    ap.add_argument(
        "--no-graduation", action="store_true", help="hand over by per-action counts only (the old cold start)"
    )
    args = ap.parse_args()
    seeds = parse_seeds(args.seeds)
    print(f"sandbox learning: {args.contacts} contacts, {DAYS} days, worlds {seeds}, {args.jobs} at a time")
    print(
        f"{'world':>5} {'decisions':>9} {'models':>6} {'truth wk0':>9} {'truth wk3-4':>11} {'rise':>7} "
        f"{'observed wk0':>12} {'observed wk3-4':>14} {'legacy':>7} {'beat day':>8} {'grad day':>8} {'secs':>6}"
    )
    runs: list[LearningRun] = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for r in pool.map(_run_in_tempdir, [(s, not args.no_graduation, args.contacts) for s in seeds]):
            runs.append(r)
            print(
                f"{r.world_seed:>5} {r.decisions:>9,} {r.models:>6} {r.truth_first:>9.3f} {r.truth_last:>11.3f} "
                f"{r.rise:>+7.3f} {r.observed_first:>12.3f} {r.observed_last:>14.3f} {r.legacy_truth:>7.3f} "
                f"{_day(r.days_to_beat_legacy):>8} {_day(r.graduated_day):>8} {r.seconds:>6.1f}",
                flush=True,
            )
    rises = np.array([r.rise for r in runs])
    summary = {
        "worlds": len(runs),
        "rise_mean": float(rises.mean()),
        "rise_sd": float(rises.std(ddof=1)) if len(runs) > 1 else 0.0,
        "rise_min": float(rises.min()),
        "rise_max": float(rises.max()),
        "worlds_over_bar": int((rises > BAR).sum()),
        "observed_rose": int(sum(r.observed_last > r.observed_first for r in runs)),
        "days_to_beat_legacy": [r.days_to_beat_legacy for r in runs],
        "graduated_day": [r.graduated_day for r in runs],
    }
    print(
        f"rise in ground-truth reward per engine decision: {summary['rise_mean']:+.3f} ± {summary['rise_sd']:.3f} "
        f"(min {summary['rise_min']:+.3f}, max {summary['rise_max']:+.3f}); over the test's bar {BAR}: "
        f"{summary['worlds_over_bar']} of {len(runs)}; observed reward rose in {summary['observed_rose']} of {len(runs)}"
    )
    out = {"bench": "sandbox_learning", "runs": [asdict(r) for r in runs], "summary": summary}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
