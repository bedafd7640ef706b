"""`hub features ...`: the engine's feature columns on this store (logic in hub/features_report.py).

Mount in hub/cli/main.py with ``app.add_typer(features_app, name="features")``. Exit codes as in
hub/cli/main.py: 2 for configuration, 1 for other failures.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hub.cli.common import ConfigOpt, JsonOpt, err, out, say
from hub.errors import ConfigError, HubError
from hub.reports.numbers import counted

features_app = typer.Typer(help="Feature columns: built-in and declared (decision.features).", no_args_is_help=True)

AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Compute the columns as of this UTC date or time (YYYY-MM-DD[THH:MM]); default now. "
        "A demo store's simulated days are in the past, so give its last day.",
    ),
]


def _at(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        err.print(
            f"--at {at!r} is not a date: give YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)", highlight=False, markup=False
        )
        raise typer.Exit(2) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _run(config: Path | None, fn, *args: Any) -> Any:  # noqa: ANN001
    from hub.config import load_settings
    from hub.pipeline.context import HubContext

    try:
        ctx = HubContext.build(load_settings(config), embedded=True)
    except ConfigError as exc:
        err.print(str(exc), style="red", highlight=False, markup=False)
        raise typer.Exit(2) from None
    try:
        return fn(ctx, *args)
    except ConfigError as exc:
        err.print(str(exc), style="red", highlight=False, markup=False)
        raise typer.Exit(2) from None
    except HubError as exc:
        err.print(str(exc), style="red", highlight=False, markup=False)
        raise typer.Exit(1) from None
    finally:
        ctx.close()


def _num(v: Any) -> str:
    """A statistic as a number a person reads: 1,941 and 424,957,000, not 1.94e+03."""
    if not isinstance(v, float):
        return "-" if v is None else str(v)
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


@features_app.command("show")
def show_command(config: ConfigOpt = None, as_json: JsonOpt = False, at: AtOpt = None) -> None:
    """Every column the engine reads: type, coverage, min/mean/max or top levels, one sample row."""
    from hub.features_report import show

    report = _run(config, show, _at(at))
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    n, total = report["contacts"], report["contacts_total"]
    read = f"the newest {n:,} of {counted(total, 'contact')}" if n < total else counted(n, "contact")
    out.print(f"Feature version {report['feature_version']} (model {report['model']}), {read}")
    if not n:
        say("No contacts yet: bring people in with hub import contacts or hub sync, then look again.")
        return
    if report["declared"]:
        t = Table(title="Declared columns (decision.features)")
        for c in ("name", "source", "type", "coverage", "min / mean / max or top levels", "sample"):
            t.add_column(c)
        for d in report["declared"]:
            spread = (
                ", ".join(f"{k} ({n})" for k, n in d["top"])
                if "top" in d
                else " / ".join(_num(d.get(k)) for k in ("min", "mean", "max"))
            )
            src = ", ".join(f"{k}={v}" for k, v in d["source"].items())
            t.add_row(d["name"], src, d["type"], f"{d['coverage']:.0%}", spread, _num(report["sample"].get(d["name"])))
        out.print(t)
    t = Table(title="Built-in columns")
    for c in ("name", "coverage", "min", "mean", "max", "sample"):
        t.add_column(c, justify="left" if c == "name" else "right")
    for b in report["builtin"]:
        t.add_row(
            b["name"],
            f"{b['coverage']:.0%}",
            _num(b["min"]),
            _num(b["mean"]),
            _num(b["max"]),
            _num(report["sample"].get(b["name"])),
        )
    out.print(t)
    out.print(f"Sample row: contact {report['sample_contact']}")
    for warning in report.get("warnings", []):
        err.print(warning, style="yellow", highlight=False, markup=False)


@features_app.command("explain")
def explain_command(
    contact: Annotated[str, typer.Argument(help="Contact id or email.")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    at: AtOpt = None,
) -> None:
    """One contact's columns: raw value, model value, contribution in the current model."""
    from hub.features_report import explain

    report = _run(config, explain, contact, _at(at))
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    head = f"Contact {report['contact']}, feature version {report['feature_version']}"
    head += (
        f", model {report['model']} rates {report['action']} best (contributions to it)"
        if report["model"]
        else ", no learned model yet (no contributions)"
    )
    out.print(head)
    t = Table()
    for c in ("column", "in words", "raw", "model", "contribution"):
        t.add_column(c, justify="left" if c in ("column", "in words") else "right")
    for r in report["columns"]:
        c = r["contribution"]
        t.add_row(
            ("* " if r["declared"] else "") + r["column"],
            r["words"],
            _num(r["raw"]),
            f"{r['model']:.3g}",
            "-" if c is None else f"{c:+.3f}",
        )
    out.print(t)
    out.print("* declared in hub.yaml (decision.features)")
