"""`hub report`: write the lift, reach and weekly tables (CSV and one Markdown page) and SVG
charts into a folder, from the store alone, so it can run anywhere the store is readable."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from hub.config import ObjectiveWeights
from hub.outcomes_spec import DeclaredOutcome
from hub.reports.data import ArmFrame, load_arm_frame
from hub.reports.lift import LiftRow, arm_metrics, lift_rows, pick_baseline
from hub.reports.numbers import figure, interval, people, reach_title, relative
from hub.reports.reach import ReachReport, WeeklyReach, reach_report, weekly_reach
from hub.reports.svg import line_chart
from hub.reports.timeseries import Series, weekly_by_arm
from hub.store import Store


@dataclass
class ReportResult:
    folder: Path
    files: list[Path] = field(default_factory=list)
    baseline: str | None = None
    lifts: list[LiftRow] = field(default_factory=list)
    reach: ReachReport | None = None
    since: datetime | None = None  # the window: contacts first decided in it, decisions made in it
    until: datetime | None = None

    def window(self) -> str:
        """The window in words, for the page and the summary."""
        if self.since is None and self.until is None:
            return "all decisions"
        start = self.since.date().isoformat() if self.since else "the first decision"
        return f"from {start} to {self.until.date().isoformat() if self.until else 'now'} (end excluded)"


def _write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _lift_lines(baseline: str | None, lifts: Sequence[LiftRow]) -> list[str]:
    """report.md's lift table, its figures written as `hub report lift` and the console write them."""
    lines = [
        f"## Lift over `{baseline}` (per contact, 95 % interval)",
        "",
        "| arm | metric | mean (n) | base mean (n) | diff | interval | relative | significant"
        " | n needed (both arms) | n more |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in lifts:
        lines.append(
            f"| {r.arm} | {r.metric} | {figure(r.arm_mean)} ({r.n_arm}) | {figure(r.base_mean)} ({r.n_base})"
            f" | {figure(r.diff, sign=True)} | {r.note or interval(r.low, r.high)} | {relative(r.relative)} | "
            f"{'yes' if r.significant else 'no'} | {people(r.n_needed)} | {people(r.n_more)} |"
        )
    return [*lines, ""]


def _num(v: float | None, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def collect(
    store: Store,
    since: datetime | None = None,
    until: datetime | None = None,
    declared: Sequence[DeclaredOutcome] = (),
) -> tuple[ArmFrame, ReachReport, list[WeeklyReach]]:
    with store.connect() as conn:
        return (
            load_arm_frame(conn, since, until, declared=declared),
            reach_report(conn, until),
            weekly_reach(conn, since, until),
        )


def write_report(
    store: Store,
    folder: Path,
    *,
    baseline: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    weights: ObjectiveWeights | None = None,
    declared: Sequence[DeclaredOutcome] = (),
) -> ReportResult:
    """Compute every report and write it under ``folder`` (created if needed); ``weights``:
    the objective behind the ``reward`` metric (hub/reports/metrics.py), with the ``declared``
    outcomes it weights."""
    folder.mkdir(parents=True, exist_ok=True)
    frame, reach, weekly = collect(store, since, until, declared)
    res = ReportResult(folder, baseline=pick_baseline(frame.arms, baseline), reach=reach, since=since, until=until)
    res.lifts = lift_rows(frame, baseline, weights)
    res.files.append(
        _write_csv(
            folder / "arms.csv",
            ["arm", "metric", "n", "mean", "total"],
            [[m.arm, m.metric, m.n, _num(m.mean), _num(m.total)] for m in arm_metrics(frame, weights)],
        )
    )
    res.files.append(
        _write_csv(
            folder / "lift.csv",
            list(LiftRow.__dataclass_fields__),
            [[_num(v) if isinstance(v, float) else v for v in asdict(r).values()] for r in res.lifts],
        )
    )
    res.files.append(
        _write_csv(
            folder / "reach.csv",
            ["reason", "contacts", "share", "opted_out"],
            [[r.reason, r.contacts, _num(r.share), r.opted_out] for r in reach.rows],
        )
    )
    res.files.append(
        _write_csv(
            folder / "weekly_reach.csv",
            ["week", "decisions", "no_action"],
            [[w.week.date().isoformat(), w.decisions, w.no_action] for w in weekly],
        )
    )
    series = weekly_by_arm(frame)
    rows = []
    for name, lines in series.items():
        for s in lines:
            rows += [[name, s.name, x.date().isoformat(), _num(y)] for x, y in zip(s.x, s.y, strict=True)]
    res.files.append(_write_csv(folder / "weekly.csv", ["series", "arm", "as_of", "value"], rows))
    charts = {
        "opportunity_rate.svg": (
            series["opportunity_rate"],
            "Opportunities per decided contact (cumulative)",
            "per contact",
        ),
        "pipeline_per_contact.svg": (
            series["pipeline_per_contact"],
            "Pipeline per decided contact (cumulative)",
            "amount",
        ),
        "no_action_share.svg": (
            [Series("no action", [w.week for w in weekly], [w.no_action / w.decisions for w in weekly])]
            if weekly
            else [],
            "Share of decisions with no action, per week",
            "share",
        ),
    }
    for fname, (lines, title, ylabel) in charts.items():
        path = folder / fname
        path.write_text(line_chart(lines, title=title, y_label=ylabel), encoding="utf-8")
        res.files.append(path)
    res.files.append(_markdown(folder / "report.md", res, frame))
    summary = {
        "contacts_decided": len(frame.contact_id),
        "window": {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None},
        "arms": {a: int((frame.arm == a).sum()) for a in frame.arms},
        "baseline": res.baseline,
        "reach": {"total": reach.total, "with_action": reach.with_action},
        "significant": [f"{r.arm}:{r.metric}" for r in res.lifts if r.significant],
    }
    path = folder / "summary.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    res.files.append(path)
    return res


def _markdown(path: Path, res: ReportResult, frame: ArmFrame) -> Path:
    lines = ["# Decision Hub report", ""]
    lines += [
        f"Window: {res.window()}. Lift counts contacts first decided in it; reach is as of its end; "
        "the weekly reach counts the decisions made in it.",
        "",
        f"Contacts decided: {len(frame.contact_id)}; arms: "
        + ", ".join(f"{a} ({int((frame.arm == a).sum())})" for a in frame.arms),
        "",
    ]
    if res.lifts:
        lines += _lift_lines(res.baseline, res.lifts)
    else:
        why = (
            f"only the baseline arm `{res.baseline}` has decisions"
            if res.baseline
            else "no baseline arm (holdout, rules or control) among the decisions"
        )
        lines += [f"No lift table: {why}.", ""]
    if res.reach:
        lines += [
            f"## Reach: {reach_title(res.reach.with_action, res.reach.total)}",
            "",
            "| why no action | contacts | share | opted out |",
            "|---|---|---|---|",
        ]
        lines += [f"| {r.reason} | {r.contacts} | {r.share:.1%} | {r.opted_out} |" for r in res.reach.rows]
        lines.append("")
    lines += ["![](opportunity_rate.svg)", "", "![](pipeline_per_contact.svg)", "", "![](no_action_share.svg)", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
