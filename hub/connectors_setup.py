"""`hub connectors setup [NAME] [--dry-run] [--json]`: create in each CRM what the hub writes, then verify.

For each enabled connector (or NAME): read what the hub needs in the vendor's schema and its
state (``Connector.schema_plan``: HubSpot's property group and properties, Salesforce's custom
fields and their field-level security); with ``--dry-run`` show that and stop. Otherwise run
``ensure_schema`` (idempotent), read the schema back and report each item ok or not. Exit 0 only
when everything verifies, 1 when something is still missing (the table says what a person must
do), 2 for a bad config or an unknown connector name.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hub.config import Settings, load_settings
from hub.connector import Connector
from hub.errors import ConfigError, HubError
from hub.models import SchemaItem, SchemaReport
from hub.plugins import build_plugin_manager

out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


@dataclass
class SetupResult:
    """One connector's setup: its schema before, what ensure_schema did, and its schema after."""

    name: str
    type: str
    before: list[SchemaItem] | None = None
    report: SchemaReport | None = None
    after: list[SchemaItem] | None = None
    error: str | None = None
    dry_run: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[SchemaItem] | None:
        return self.before if self.dry_run else self.after

    @property
    def ok(self) -> bool:
        """Verified: every item ok after setup (a dry run: nothing left to do)."""
        if self.error or self.problems:
            return False
        if self.items is None:  # a connector that cannot list its schema: its own report decides
            return self.report is not None and not self.report.problems
        return all(i.state == "ok" for i in self.items)

    def as_dict(self) -> dict:
        return {
            "connector": self.name,
            "type": self.type,
            "ok": self.ok,
            "dry_run": self.dry_run,
            "error": self.error,
            "items": [i.model_dump() for i in self.items] if self.items is not None else None,
            "created": self.report.created if self.report else [],
            "problems": self.problems,
        }


def _plan(conn: Connector) -> list[SchemaItem] | None:
    try:
        return conn.schema_plan()
    except HubError as exc:  # a refused login or token: one item that says so
        return [SchemaItem(kind="access", name=conn.name, state="missing", note=str(exc), fixable=False)]


def setup_connector(conn: Connector, dry_run: bool = False) -> SetupResult:
    """Plan, then (unless ``dry_run``) create and verify one connector's schema."""
    res = SetupResult(name=conn.name, type=conn.type_name, dry_run=dry_run)
    res.before = _plan(conn)
    if dry_run or any(i.kind == "access" for i in res.before or []):
        res.after = res.before
        return res
    try:
        res.report = conn.ensure_schema()
    except HubError as exc:
        res.error = str(exc)
        return res
    res.after = _plan(conn)
    if res.after is None:
        res.problems = list(res.report.problems)
        return res
    for item in res.after:  # what setup could not do: the connector's own reason, once
        why = next((p for p in res.report.problems if p.startswith((f"{item.name} ", f"{item.name}:"))), None)
        if item.state != "ok" and why:
            item.note, item.fixable = why, False
    return res


def run_setup(settings: Settings, name: str | None = None, dry_run: bool = False) -> list[SetupResult]:
    """Set up ``name`` (or every enabled connector). ConfigError for an unknown name."""
    if name is not None and name not in settings.connectors:
        known = ", ".join(sorted(settings.connectors)) or "none"
        raise ConfigError([(f"connectors.{name}", f"no such connector in the config (configured: {known})")])
    names = [name] if name else list(settings.enabled_connectors())
    plugins = build_plugin_manager(settings.plugins)
    results = []
    for n in names:
        conn = plugins.build(n, settings.connectors[n], None)
        try:
            results.append(setup_connector(conn, dry_run))
        finally:
            conn.close()
    return results


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


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Path to hub.yaml (default: $HUB_CONFIG or ./hub.yaml).")
]


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
    else:
        out.print(results_table(results))
        if not results:
            out.print("No enabled connectors. Next: add one to hub.yaml.")
        elif dry_run:
            todo = sum(1 for r in results for i in r.items or [] if i.state != "ok")
            out.print(f"{todo} item(s) to set up. Next: run [bold]hub connectors setup[/] without --dry-run.")
        elif ok:
            out.print("[green]Every field the hub writes is in place and writable.[/] Next: [bold]hub sync[/].")
        else:
            out.print("[red]Setup is incomplete[/]: see 'to do' above, then run [bold]hub connectors setup[/] again.")
    blocked = any(r.error or any(not i.fixable and i.state != "ok" for i in r.items or []) for r in results)
    if (not dry_run and not ok) or blocked:
        raise typer.Exit(1)
