"""`hub evaluate`: a thin command over hub/reports/evaluate.py (offline evaluation of a config change).

Mounted in hub/cli/main.py with ``app.command("evaluate")(evaluate_command)``. Exit codes as in
hub/cli/main.py: 2 for a bad config (either file), 1 when there is nothing to evaluate on (with
``--json``, a JSON object on stdout saying why).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hub.cli.common import err, out
from hub.errors import ConfigError, HubError
from hub.reports.numbers import figure, interval


def _render(ev, candidate: Path) -> None:  # noqa: ANN001 - hub.reports.offline.OfflineEvaluation
    pct = f"{1 - ev.alpha:.0%}"
    table = Table(title=f"Offline evaluation of {candidate} on {ev.n:,} finalized decisions (reward per decision)")
    for col in ("policy", "estimator", "value", f"{pct} interval", "ESS"):
        table.add_column(col, justify="left" if col in ("policy", "estimator") else "right")
    names = {"ips": "IPS", "snips": "SNIPS", "dr": "doubly robust"}
    for m, e in ev.candidate.items():
        table.add_row("candidate", names[m], figure(e.value), interval(e.low, e.high), f"{e.ess:,.0f}")
    for m, e in ev.current.items():
        table.add_row("current (replayed)", names[m], figure(e.value), interval(e.low, e.high), f"{e.ess:,.0f}")
    g = ev.logged
    table.add_row("logged", "mean reward", figure(g.value), interval(g.low, g.high), f"{ev.n:,}")
    for m, e in ev.difference.items():
        table.add_row("candidate - current", names[m], figure(e.value, sign=True), interval(e.low, e.high), "")
    for m, e in ev.ratio.items():
        if e is not None:
            table.add_row("candidate / current", names[m], figure(e.value), interval(e.low, e.high), "")
    out.print(table)
    d = ev.diagnostics
    out.print(
        f"Overlap: effective sample size {d.ess:,.0f} of {d.n:,} ({d.ess_share:.1%}), largest weight "
        f"{d.max_weight:,.1f}, unsupported share {d.unsupported_mass:.1%}, same top action as logged "
        f"{d.agreement:.1%}"
        + ("." if d.replay_gap is None else f", current replay vs logged propensities {d.replay_gap:.2f}.")
    )
    mix = Table("action", "candidate share", "logged share", title="Action mix")
    for a in ev.action_ids:
        mix.add_row(a, f"{d.candidate_mix[a]:.1%}", f"{d.logged_mix[a]:.1%}")
    out.print(mix)
    for w in ev.warnings:
        out.print(f"[yellow]Warning:[/] {w}", highlight=False)
    for n in ev.notes:
        out.print(f"Note: {n}", highlight=False)
    out.print(f"[bold]{ev.verdict}[/]", highlight=False)


def evaluate_command(
    candidate: Annotated[Path, typer.Option("--candidate", help="The changed hub.yaml to evaluate.")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Current hub.yaml (default: $HUB_CONFIG or ./hub.yaml).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only decisions made from this date (YYYY-MM-DD).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap and the reward model's folds.")] = 0,
    n_bootstrap: Annotated[int, typer.Option("--bootstrap", min=100, help="Bootstrap resamples.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """What would this config change have done? Off-policy estimates on the logged decisions."""
    from datetime import UTC, datetime

    from hub.config import load_settings
    from hub.reports.evaluate import NoDecisionLog, evaluate_candidate, load_candidate
    from hub.store import Store

    try:
        current = load_settings(config)
        cand = load_candidate(candidate)
    except ConfigError as exc:
        err.print(str(exc), style="red", highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(2) from None
    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since).replace(tzinfo=UTC)
        except ValueError:
            err.print(f"--since {since!r} is not a date; use YYYY-MM-DD.", style="red", markup=False)
            raise typer.Exit(2) from None
    try:
        store = Store(current.store_url, must_exist=True)
        try:
            ev = evaluate_candidate(store, current, cand, since=start, seed=seed, n_bootstrap=n_bootstrap)
        finally:
            store.dispose()
    except HubError as exc:
        err.print(str(exc), style="red", highlight=False, soft_wrap=True, markup=False)
        if as_json:  # a script reading stdout gets JSON that says why, not an empty line
            empty = {"finalized_decisions": 0} if isinstance(exc, NoDecisionLog) else {}
            print(json.dumps({"error": str(exc), **empty}))
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps({"candidate_file": str(candidate), "since": since, "seed": seed, **ev.to_dict()}))
    else:
        _render(ev, candidate)
