"""`hub learn history`: warm-start the engine from a log of past touches (hub/pipeline/history.py).

Mount in hub/cli/main.py with ``app.add_typer(learn_app, name="learn")``. The command parses arguments,
reads the file, calls :func:`hub.pipeline.history.warm_start` and prints; exit 2 for bad input, 1 when
the model moved on (a rollback or a learn step) while the history was learned, so nothing was saved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hub.cli.common import err, fail, out
from hub.errors import ConflictError, HubError
from hub.reports.numbers import estimate

learn_app = typer.Typer(help="Warm-start the engine from past campaign history.", no_args_is_help=True)


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs = {}
    for v in values or []:
        old, sep, new = v.partition("=")
        if not sep or not old.strip() or not new.strip():
            err.print(f"[red]{option} {v!r}: write it as LOGGED_VALUE=ACTION_ID.[/red]")
            raise typer.Exit(2)
        pairs[old.strip()] = new.strip()
    return pairs


def _fmt(e: dict | None) -> str:
    return estimate(e["estimate"], e["low"], e["high"]) if e else "-"


def _store_touches(ctx, since: str | None, window_days: float):  # noqa: ANN001, ANN202
    from datetime import UTC, datetime

    from hub.errors import DataError
    from hub.pipeline.history_store import touches_from_store

    try:
        start = datetime.fromisoformat(since).replace(tzinfo=UTC) if since else None
    except ValueError:
        raise DataError(f"--since {since!r} is not a date; use YYYY-MM-DD.") from None
    with ctx.store.connect() as conn:
        table = touches_from_store(conn, ctx.settings.decision.objective, since=start, window_days=window_days)
    if not len(table["contact"]):
        raise DataError("The store holds no synced e-mail sends (email_sent activities): sync a CRM first (hub sync).")
    return table


@learn_app.command("history")
def history(
    log_file: Annotated[Path | None, typer.Argument(help="CSV or Parquet: one row per past touch.")] = None,
    from_store: Annotated[
        bool,
        typer.Option("--from-store", help="Use the CRM's synced e-mail sends and responses instead of a file."),
    ] = False,
    since: Annotated[str | None, typer.Option("--since", help="With --from-store: sends from this date.")] = None,
    window_days: Annotated[
        float, typer.Option("--window-days", help="With --from-store: responses counted this long after a send.")
    ] = 7.0,
    contact_col: Annotated[str, typer.Option("--contact-col", help="Email or store contact id.")] = "email",
    contact_source: Annotated[
        str | None,
        typer.Option(
            "--contact-source",
            help="The contact column holds this source's ids (a hub import --source name or a connector).",
        ),
    ] = None,
    action_col: Annotated[str, typer.Option("--action-col", help="The touch: a decision.actions id.")] = "action",
    reward_col: Annotated[str, typer.Option("--reward-col", help="Its outcome in objective points.")] = "reward",
    time_col: Annotated[str | None, typer.Option("--time-col", help="When the touch was made.")] = None,
    propensity_col: Annotated[
        str | None, typer.Option("--propensity-col", help="Logged chance of the logged action.")
    ] = None,
    propensity: Annotated[
        float | None, typer.Option("--propensity", help="One chance for every row (a uniform random test).")
    ] = None,
    map_action: Annotated[
        list[str] | None, typer.Option("--map-action", help="LOGGED=ACTION_ID, repeatable: rename logged actions.")
    ] = None,
    train_share: Annotated[
        float, typer.Option("--train-share", help="Oldest share trained on; the rest values.")
    ] = 0.7,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Value it, save nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Save it even if valued below the logging policy.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Path to hub.yaml.")] = None,
) -> None:
    """Value the engine warm-started on past touches, then (unless --dry-run) make it the live model.

    The touches come from a file, or with --from-store from the CRM's e-mail sends already synced
    (each send's campaign is its action: map campaigns to catalog actions with --map-action).

    Features come from the store as of each touch, so import or sync the contacts and their
    activities first. The newest (1 - train share) of the log is held out: the table compares the
    warm-started policy with the logging policy and with every single action on it.
    """
    from hub.config import load_settings
    from hub.pipeline.context import HubContext
    from hub.pipeline.history import HistoryColumns, warm_start
    from hub.tables import read_table

    if (log_file is None) == (not from_store):
        err.print("[red]Give a log FILE or --from-store (one of them).[/red]")
        raise typer.Exit(2)
    if from_store:  # the store's own columns
        contact_col, action_col, reward_col, time_col = "contact", "action", "reward", "time"
    if propensity_col and propensity is not None:
        err.print("[red]Give --propensity-col or --propensity, not both.[/red]")
        raise typer.Exit(2)
    cols = HistoryColumns(
        contact=contact_col,
        action=action_col,
        reward=reward_col,
        time=time_col,
        propensity=propensity_col,
        propensity_value=propensity,
        action_map=_pairs(map_action, "--map-action"),
        contact_source=contact_source,
    )
    wanted = [c for c in (contact_col, action_col, reward_col, time_col, propensity_col) if c]
    try:
        ctx = HubContext.build(load_settings(config), embedded=True)
        table = (
            _store_touches(ctx, since, window_days)
            if from_store
            else read_table(log_file, columns=wanted, types={contact_col: "categorical"})
        )  # ids as written
        result = warm_start(ctx, table, cols, train_share=train_share, seed=seed, save=not dry_run, force=force)
    except ConflictError as exc:  # not bad input: the same command can succeed when run again
        raise fail(str(exc), 1) from None
    except HubError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    data = result.to_dict()
    if as_json:
        print(json.dumps(data, default=float))
        if result.refused:
            raise typer.Exit(1)
        return
    t = Table(title=f"Warm start on {result.n_test:,} held-out touches (doubly robust, 95% interval)")
    t.add_column("policy")
    t.add_column("reward per touch", justify="right")
    t.add_row("warm-started engine", _fmt(data["policy"]))
    t.add_row("logging policy (observed)", _fmt(data["logging"]))
    for action, est in sorted(data["actions"].items(), key=lambda kv: -kv[1]["estimate"]):
        t.add_row(f"always {action}" + (" (best single)" if action == result.best_action else ""), _fmt(est))
    out.print(t)
    out.print(
        f"{result.used:,} of {result.rows:,} rows used; trained on the oldest {result.n_train:,}; "
        f"propensities {result.propensities}; effective sample size {data['diagnostics']['ess']:,.0f}."
    )
    for reason, count in result.skipped.items():
        out.print(f"[yellow]Skipped {count:,}: {reason}[/yellow]")
    for w in data["warnings"]:
        out.print(f"[yellow]Warning: {w}[/yellow]")
    if result.refused:
        err.print(f"Not saved: {result.refused}. --force saves it anyway.", style="red", markup=False)
        raise typer.Exit(1)
    if result.version is None:
        out.print("Dry run: nothing saved. Run again without --dry-run to make it the live model.")
    else:
        out.print(
            f"Saved as {result.model_name}@v{result.version}; deciding processes load it on their next batch "
            "(`hub model list` shows it; `hub model rollback VERSION` makes an older one live again)."
        )
