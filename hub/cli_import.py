"""`hub import events FILE`: Segment-spec messages from a file (hub/segment_import.py).

Mount in hub/cli.py with ``app.add_typer(import_app, name="import")``. Exit codes: 0 every
line imported, 1 some lines skipped (each named), 2 configuration or an unreadable file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.table import Table

from hub.errors import HubError

import_app = typer.Typer(help="Import events from files (Segment-spec JSON lines).", no_args_is_help=True)
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


@import_app.command("events")
def events(
    file: Annotated[Path, typer.Argument(help="JSON lines: one Segment message (with `type`) per line.")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Path to hub.yaml.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Store track / identify / page / screen messages as `POST /v1/batch` would (idempotent by
    messageId); declared outcomes among them are attributed to the decisions before them."""
    from hub.config import load_settings
    from hub.pipeline.context import HubContext
    from hub.segment_import import import_file

    if not file.is_file():
        err.print(f"[red]{file} is not a readable file.[/red]")
        raise typer.Exit(2)
    try:
        ctx = HubContext.build(load_settings(config), embedded=True)
    except HubError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err) as bar:
            task = bar.add_task(file.name, total=file.stat().st_size)
            report = import_file(ctx, file, lambda n: bar.advance(task, n))
    finally:
        ctx.close()
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    else:
        table = Table("result", "messages")
        for status, n in sorted(report.counts.items()):
            table.add_row(status, f"{n:,}")
        table.add_row("skipped", f"{len(report.rejects):,}")
        out.print(table)
        for line, mid, reason in report.rejects[:20]:
            out.print(f"line {line} (messageId {mid!r}): {reason}")
        if len(report.rejects) > 20:
            out.print(f"... and {len(report.rejects) - 20} more (see the log, or use --json)")
    raise typer.Exit(1 if report.rejects else 0)
