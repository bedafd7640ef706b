"""`hub report ...`: thin commands over hub/reports and the model registry.

Mount in hub/cli/main.py with ``app.add_typer(reports_app, name="report")``. Commands only parse
arguments, call hub.reports, and print; exit codes as in hub/cli/main.py (2 for configuration).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hub.cli.common import ConfigOpt, JsonOpt, SubGroup, err, explain, fail, out, print_json
from hub.errors import HubError
from hub.reports.numbers import figure, interval, people, reach_title, relative, utc_time

reports_app = typer.Typer(
    help="Offline evaluation: lift per arm, reach, charts; model versions.", no_args_is_help=True, cls=SubGroup
)
StoreOpt = Annotated[str | None, typer.Option("--store-url", help="Read this store instead of the config's.")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Only contacts first decided from this date (YYYY-MM-DD).")
]
UntilOpt = Annotated[str | None, typer.Option("--until", help="... and before this date.")]
BaselineOpt = Annotated[
    str | None, typer.Option("--baseline", help="Arm to compare with (default: holdout, rules, control).")
]


def _store(config: Path | None, store_url: str | None):  # noqa: ANN202 - hub.store.Store
    from hub.config import load_settings
    from hub.store import Store

    try:
        url = store_url or load_settings(config).store_url
        return Store(url, must_exist=True)
    except HubError as exc:  # bad input exits 2; a store that is missing or down exits 1, as elsewhere
        raise fail(*explain(exc)) from None


def _objective(config: Path | None, store_url: str | None):  # noqa: ANN202 - (ObjectiveWeights, outcomes)
    """The objective that defines ``reward`` and the declared outcomes it weights: the config's,
    or the defaults (and none declared) when only a store URL was given and no hub.yaml is at hand."""
    from hub.config import ObjectiveWeights, load_settings

    try:
        d = load_settings(config).decision
        return d.objective, d.outcomes
    except HubError as exc:
        if store_url is not None and config is None:
            return ObjectiveWeights(), []
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        err.print(f"[red]{value!r} is not a date; use YYYY-MM-DD.[/red]")
        raise typer.Exit(2) from None


@reports_app.command("write")
def write(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the CSV, Markdown and SVG files.")] = Path(
        "reports"
    ),
    config: ConfigOpt = None,
    store_url: StoreOpt = None,
    baseline: BaselineOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """Write every report (tables and charts over time) into a folder."""
    from hub.reports.build import write_report

    weights, declared = _objective(config, store_url)
    store = _store(config, store_url)
    try:
        res = write_report(
            store,
            out_dir,
            baseline=baseline,
            since=_date(since),
            until=_date(until),
            weights=weights,
            declared=declared,
        )
    finally:
        store.dispose()
    for f in res.files:
        out.print(str(f))
    out.print(f"{len(res.files)} files in {res.folder} (baseline: {res.baseline or 'none'})")


N_NEEDED_NOTE = (
    "n needed: contacts in both arms together, at their current ratio, for a 5% two-sided test with 80% power"
    " at the observed lift (∞: no lift seen); n more: how many of those are still to come."
)


@reports_app.command("lift")
def lift(
    config: ConfigOpt = None,
    store_url: StoreOpt = None,
    baseline: BaselineOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Per-contact lift of every arm over the baseline, with 95% intervals and sample size needed."""
    from hub.reports.data import load_arm_frame
    from hub.reports.lift import lift_rows, no_lift, pick_baseline

    weights, declared = _objective(config, store_url)
    store = _store(config, store_url)
    try:
        with store.connect() as conn:
            frame = load_arm_frame(conn, _date(since), _date(until), declared=declared)
    finally:
        store.dispose()
    if baseline is not None and frame.arms and baseline not in frame.arms:  # a typo is no empty report
        err.print(
            f"There are no decisions in arm {baseline!r}: --baseline takes one of {', '.join(frame.arms)}.",
            markup=False,
        )
        raise typer.Exit(2)
    rows = lift_rows(frame, baseline, weights)
    ratio = _sample_ratio(config, frame)
    if json_:
        base = pick_baseline(frame.arms, baseline)
        srm = dataclasses.asdict(ratio) if ratio is not None else None
        print_json(
            {"baseline": base, "arms": list(frame.arms), "rows": [dataclasses.asdict(r) for r in rows], "srm": srm}
        )
        return
    if not rows:
        out.print(no_lift(frame.arms, baseline))
        raise typer.Exit(0)
    t = Table(title=f"Lift over {pick_baseline(frame.arms, baseline)} (per contact)")
    cols = ("arm", "metric", "n", "mean", "n base", "base mean", "diff", "95% interval", "relative", "sig.", "n more")
    for col in cols:
        t.add_column(col)
    for r in rows:
        t.add_row(
            r.arm,
            r.metric,
            str(r.n_arm),
            figure(r.arm_mean),
            str(r.n_base),
            figure(r.base_mean),
            figure(r.diff, sign=True),  # as the console and the demo write a lift
            r.note or interval(r.low, r.high),
            relative(r.relative),
            "yes" if r.significant else "no",
            people(r.n_more),
        )
    out.print(t)
    out.print(N_NEEDED_NOTE)
    _cuped_note([(r.metric, r.variance_reduction) for r in rows], means_shown=True)
    if ratio is not None and ratio.mismatch:
        err.print(ratio.message(), style="bold red", markup=False, highlight=False)


def _sample_ratio(config: Path | None, frame):  # noqa: ANN001, ANN202 - ArmFrame -> SampleRatio | None
    """The sample ratio check of an engine hub's arms (None without a config: its shares are unknown)."""
    from hub.config import load_settings
    from hub.reports.srm import check_arms

    try:
        settings = load_settings(config)
    except HubError:
        return None
    return check_arms(settings, frame)


@reports_app.command("impact")
def impact(
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", help="Metric(s) to compare (default: reward); 'all' for every one."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The rows as one JSON list, for scripts.")] = False,
    config: ConfigOpt = None,
    store_url: StoreOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """What each engine component earns: the full engine's lift over the arm without it.

    Also over the random, holdout and control arms, with 95% intervals and the sample size needed."""
    import json

    from hub.reports.impact import impact_table
    from hub.reports.metrics import METRICS

    metrics = tuple(METRICS) if metric and "all" in metric else tuple(metric or ("reward",))
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        err.print(f"[red]Unknown metric {bad[0]!r}; use one of: {', '.join(METRICS)} or all.[/red]")
        raise typer.Exit(2)
    weights, declared = _objective(config, store_url)
    store = _store(config, store_url)
    try:
        rows = impact_table(store, weights, metrics=metrics, since=_date(since), until=_date(until), declared=declared)
    finally:
        store.dispose()
    if as_json:
        typer.echo(json.dumps(rows))
        raise typer.Exit(0)
    if not rows:
        out.print(
            "No engine arm beside an ablation, random, holdout or control arm yet. Switch arms on in hub.yaml"
            " (decision.engine.experiments: random_control, ablations) and decide."
        )
        raise typer.Exit(0)
    t = Table(title="Impact: the full engine minus the arm without each component (per contact)")
    for col in (
        "component",
        "vs arm",
        "metric",
        "n engine",
        "n arm",
        "lift",
        "95% interval",
        "sig.",
        "n needed",
        "n more",
    ):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r["component"],
            r["baseline"],
            r["metric"],
            str(r["n_arm"]),
            str(r["n_base"]),
            figure(r["diff"], sign=True),
            r["note"] or interval(r["low"], r["high"]),
            "yes" if r["significant"] else "no",
            people(math.inf if r["n_needed"] is None else r["n_needed"]),
            people(math.inf if r["n_more"] is None else r["n_more"]),
        )
    out.print(t)
    out.print(N_NEEDED_NOTE)
    _cuped_note([(r["metric"], r["variance_reduction"] or 0.0) for r in rows])


def _cuped_note(reductions: list[tuple[str, float]], means_shown: bool = False) -> None:
    """Say when CUPED used the contacts' history (per metric, the variance it removed)."""
    from hub.reports.lift import cuped_note

    note = cuped_note(reductions, means_shown)
    if note:
        out.print(note)


@reports_app.command("reach")
def reach(config: ConfigOpt = None, store_url: StoreOpt = None, json_: JsonOpt = False) -> None:
    """Who gets no action, grouped by the reason their latest decision gives."""
    from hub.reports.reach import reach_report

    store = _store(config, store_url)
    try:
        with store.connect() as conn:
            rep = reach_report(conn)
    finally:
        store.dispose()
    if json_:
        print_json(
            {"total": rep.total, "with_action": rep.with_action, "rows": [dataclasses.asdict(r) for r in rep.rows]}
        )
        return
    if not rep.total:
        out.print("No contacts in the store yet: nothing to report (hub sync, or hub run --once).")
        return
    if not rep.rows:
        out.print("The one contact gets an action." if rep.total == 1 else f"All {rep.total:,} contacts get an action.")
        return
    t = Table(title=reach_title(rep.with_action, rep.total))
    for col in ("why no action", "contacts", "share", "opted out"):
        t.add_column(col)
    for r in rep.rows:
        t.add_row(r.reason, str(r.contacts), f"{r.share:.1%}", str(r.opted_out))
    out.print(t)


@reports_app.command("models")
def models(
    name: Annotated[str, typer.Option("--name", help="Registered model name.")] = "lead_score",
    config: ConfigOpt = None,
    store_url: StoreOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Versions of a scoring model with their metrics and which one is live."""
    from hub.pipeline.model_versions import FEATURES_PREFIX
    from hub.store import models_repo

    store = _store(config, store_url)
    try:
        with store.connect() as conn:
            versions = models_repo.list_snapshots(conn, name)
            live = models_repo.live_version(conn, name)
            others = (
                {
                    n: k
                    for n, k in models_repo.version_counts(conn).items()
                    if n != name and not n.startswith(FEATURES_PREFIX)  # fitted decision.features: no model
                }
                if not versions
                else {}
            )
    finally:
        store.dispose()
    if json_:
        rows = [
            {"version": v.version, "status": v.status, "created_at": v.created_at, "metrics": v.metrics}
            for v in versions
        ]
        print_json({"name": name, "live": live, "versions": rows})
        return
    if not versions:
        out.print(
            f"No {name} versions yet, so the points score is live: set decision.scoring in hub.yaml, "
            "then hub model train scoring."
        )
        if others:  # the engine's versions (after `hub demo`, say): not scoring models, listed elsewhere
            listed = ", ".join(f"{n} ({k} version{'s' if k != 1 else ''})" for n, k in others.items())
            out.print(f"This store's other models: {listed}; hub model list shows them.", highlight=False)
        return
    t = Table(title=f"{name}: live version {live if live is not None else 'none (points score)'}")
    for col in ("version", "status", "created (UTC)", "ROC AUC", "PR AUC", "Brier", "ECE", "top-decile lift"):
        t.add_column(col)
    for v in versions:
        m = v.metrics
        t.add_row(
            str(v.version),
            v.status + (" (live)" if v.version == live else ""),
            utc_time(v.created_at),
            *(figure(m.get(k)) for k in ("roc_auc", "pr_auc", "brier", "ece", "top_decile_lift")),
        )
    out.print(t)
