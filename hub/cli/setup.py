"""`hub connectors setup [NAME] [--dry-run] [--json]`: the command and its table (logic in hub/connectors_setup.py).

Exit 0 only when everything verifies, 1 when something is still missing (the table says what a
person must do), 2 for a bad config or an unknown connector name.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hub.cli.common import ConfigOpt, config_flag, err, out
from hub.config import load_settings
from hub.connectors_setup import SetupResult, run_setup
from hub.errors import ConfigError
from hub.models import SchemaItem
from hub.reports.numbers import counted


def _state(item: SchemaItem, dry_run: bool) -> str:
    if item.state == "ok":
        return "[green]exists[/]" if dry_run else "[green]ok[/]"
    colour = "yellow" if dry_run and item.fixable else "red"
    return f"[{colour}]{item.state}[/]"


def _todo(item: SchemaItem, dry_run: bool) -> str:
    if item.state == "ok":
        return ""
    if dry_run:
        return item.note if item.fixable else f"a person must: {item.note}"
    return item.note if item.fixable else f"a person must: {item.note}"


def results_table(results: list[SetupResult]) -> Table:
    dry = bool(results) and results[0].dry_run
    title = "Dry run: what `hub connectors setup` would create (nothing changed)" if dry else "Connector setup"
    table = Table("connector", "kind", "name", "type", "state", "would do" if dry else "to do", title=title)
    for r in results:
        if r.error:
            table.add_row(r.name, "-", "-", "-", "[red]failed[/]", escape(r.error))
        for i in r.items or []:  # vendor text may hold brackets rich would read as markup
            table.add_row(r.name, i.kind, escape(i.name), escape(i.spec), _state(i, dry), escape(_todo(i, dry)))
        if r.items is None:
            what = "cannot preview its schema; setup runs its ensure_schema" if dry else ""
            table.add_row(
                r.name, "-", "-", "-", "ok" if r.ok else "[red]failed[/]", escape(what or "; ".join(r.problems))
            )
    return table


def setup_command(
    name: Annotated[str | None, typer.Argument(help="Connector name; every enabled one if omitted.")] = None,
    config: ConfigOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be created; change nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")] = False,
) -> None:
    """Create the fields the hub writes (HubSpot properties, Salesforce fields and their access), then verify."""
    try:
        results = run_setup(load_settings(config), name, dry_run)
    except ConfigError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    ok = all(r.ok for r in results)
    if as_json:
        typer.echo(json.dumps({"ok": ok, "dry_run": dry_run, "connectors": [r.as_dict() for r in results]}))
    elif not results:
        out.print("No connector is enabled, so there is nothing to set up: add one under connectors: in hub.yaml.")
    else:
        out.print(results_table(results))
        if dry_run:
            todo = sum(1 for r in results for i in r.items or [] if i.state != "ok")
            out.print(f"{counted(todo, 'item')} to set up. Next: run [bold]hub connectors setup[/] without --dry-run.")
        elif ok:
            c = config_flag(config)
            out.print(
                "[green]Every field the hub writes is in place and writable.[/] Next: "
                f"[bold]hub run --once{c}[/] (one pass: sync, decide, push), or [bold]hub worker{c}[/] and "
                f"[bold]hub beat{c}[/] to keep going.",
                highlight=False,
            )
        else:
            out.print("[red]Setup is incomplete[/]: see 'to do' above, then run [bold]hub connectors setup[/] again.")
    blocked = any(r.error or any(not i.fixable and i.state != "ok" for i in r.items or []) for r in results)
    if (not dry_run and not ok) or blocked:
        raise typer.Exit(1)
