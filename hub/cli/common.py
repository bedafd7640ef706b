"""What every `hub` command shares: the consoles, common options, tables that fit, `--json`
output, and the one place where the hub's own errors become a short message and an exit code.

Exit codes: 0 ok, 1 the work failed, 2 usage or configuration error.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from hub.config import Settings, load_settings
from hub.errors import ConfigError, HubError

# Piped output (logs, CI, scripts) gets wide tables instead of 80-column wrapping.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Path to hub.yaml (default: $HUB_CONFIG or ./hub.yaml).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (for scripts).")]


def load_config(path: Path | None) -> Settings:
    return load_settings(path)


def open_context(path: Path | None, embedded: bool = True):  # noqa: ANN201 - hub.pipeline.context.HubContext
    from hub.pipeline.context import HubContext

    return HubContext.build(load_config(path), embedded=embedded)


def progress_bar() -> Progress:
    """Progress on stderr, so stdout stays the command's result."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


class _FittingTable(Table):
    """A table that, too wide for the terminal, narrows its widest columns first.

    Rich narrows every no-wrap column by the same amount, so a long error or payload cell
    squeezed the short columns (ids, states) to nothing; here only the wide ones give way.
    """

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = [
            max(Measurement.get(console, options, cell).maximum for cell in (col.header, *col.cells))
            for col in self.columns
        ]
        budget = options.max_width - (3 * len(widths) + 1)  # a border and two spaces of padding per column
        for i, width in enumerate(_narrowed(widths, budget)):
            if width < widths[i]:
                self.columns[i].max_width = width
        yield from super().__rich_console__(console, options)


def _narrowed(widths: list[int], budget: int) -> list[int]:
    """Widths summing to at most ``budget``, taken from the widest columns down (each keeps 8)."""
    out = list(widths)
    while sum(out) > budget and max(out) > 8:
        widest = max(out)
        tied = [i for i, w in enumerate(out) if w == widest]
        floor = max([w for w in out if w < widest] + [8])
        cut = max(floor, widest - -(-(sum(out) - budget) // len(tied)))
        for i in tied:
            out[i] = cut
    return out


def table(*columns: str, title: str | None = None, wrap: tuple[str, ...] = ()) -> Table:
    """A table whose cells never wrap into several lines: too long for the terminal, a cell ends
    in an ellipsis (the widest columns are cut first). Columns named in ``wrap`` (free text) may
    wrap instead."""
    t = _FittingTable(title=title)
    for col in columns:
        t.add_column(col, no_wrap=col not in wrap, overflow="fold" if col in wrap else "ellipsis")
    return t


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, float):  # NaN and infinity are not JSON
        return None
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def print_json(data: Any) -> None:
    """One JSON document on stdout and nothing else (no colour, no wrapping)."""
    text = json.dumps(_finite(data), default=_plain, allow_nan=False, ensure_ascii=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def say(message: str) -> None:
    """A plain line on stdout (no markup, no highlighting): for messages holding user data."""
    out.print(message, markup=False, highlight=False)


def config_flag(config: Path | None) -> str:
    """`` -c PATH`` when a command was given one, for the next commands a message names."""
    return f" -c {config}" if config else ""


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print MESSAGE on stderr and return the Exit to raise: ``raise fail(...)``."""
    err.print(message, style="red", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def explain(exc: BaseException) -> tuple[str, int] | None:
    """A short message and exit code for an error a user can fix, or None for a bug."""
    if isinstance(exc, ConfigError):
        return str(exc), 2
    if isinstance(exc, HubError):
        return str(exc), 1
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.ArgumentError | sa.NoSuchModuleError):
        return (
            f"store_url is not a database URL this hub can open ({exc}). "
            "Use sqlite:///path/to/hub.db or postgresql://user@host/db.",
            2,
        )
    if isinstance(exc, sa.OperationalError | sa.InterfaceError):
        first = str(exc.orig if getattr(exc, "orig", None) is not None else exc).strip().splitlines()[0]
        return f"cannot open the store: {first}. Check store_url in hub.yaml and that the database is up.", 1
    import redis

    if isinstance(exc, redis.exceptions.ConnectionError):
        return f"cannot reach the broker: {exc}. Start Redis or fix broker_url in hub.yaml.", 1
    if isinstance(exc, FileNotFoundError):
        return f"{exc.filename or exc}: no such file. Check the path.", 2
    if isinstance(exc, IsADirectoryError | NotADirectoryError | PermissionError):
        return f"{exc.filename or ''}: {exc.strerror}.", 1
    return None


class SubGroup(TyperGroup):
    """A `hub` subcommand group that names a top-level command asked for under it (`hub report
    audit`: the audit log is `hub audit`) instead of only "No such command"."""

    def resolve_command(self, ctx, args):  # noqa: ANN001, ANN201 - click's signature
        name = args[0] if args else ""
        root = ctx.find_root()
        if name and self.get_command(ctx, name) is None and name in getattr(root.command, "commands", {}):
            ctx.fail(f"No such command {name!r}. It is a command of its own: {root.info_name} {name}")
        return super().resolve_command(ctx, args)


class HubGroup(TyperGroup):
    """The root `hub` group: errors a user can fix print one message, never a traceback."""

    def invoke(self, ctx):  # noqa: ANN001, ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            known = explain(exc)
            if known is None:
                raise
            raise fail(known[0], known[1]) from None
