"""`hub score ...`: lead scoring on a user's own table (thin; the logic is decision/scoring/evaluate.py).

Mounted in hub/cli/main.py with ``app.add_typer(score_app, name="score")``. ``hub score evaluate`` is a
stable interface: its options and JSON keys do not change. Exit codes: 0 ok, 2 bad input (a
missing column, a label that is not two-valued, too few rows, a cell that does not parse).
"""

from __future__ import annotations

import json
import math
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hub.cli.common import err, out
from hub.errors import DataError, DecisionError
from hub.reports.numbers import counted

score_app = typer.Typer(
    help="Lead scoring on your own table: the hub's scorer against baselines.", no_args_is_help=True
)


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _types(text: str | None) -> dict[str, str]:
    kinds = {}
    for part in _split(text):
        name, sep, kind = part.rpartition("=")
        if not sep or not name:
            raise DataError(f"--types takes COLUMN=KIND pairs separated by commas; got {part!r}")
        kinds[name.strip()] = kind.strip()
    return kinds


def _num(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{v:.4f}"


@score_app.command("evaluate")
def evaluate(
    label: Annotated[str, typer.Option("--label", help="The outcome column (0/1, yes/no, true/false, two values).")],
    table: Annotated[Path | None, typer.Option("--table", help="CSV / CSV.gz / Parquet file to split.")] = None,
    train: Annotated[
        Path | None, typer.Option("--train", help="Training file (with --test) instead of a split.")
    ] = None,
    test: Annotated[Path | None, typer.Option("--test", help="Test file (with --train).")] = None,
    drop: Annotated[str | None, typer.Option("--drop", help="Columns to leave out, comma-separated.")] = None,
    train_share: Annotated[float, typer.Option("--train-share", help="Share of rows that train (stratified).")] = 0.7,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and the models.")] = 0,
    positive: Annotated[
        str | None,
        typer.Option(
            "--positive", help="Label value that counts as a conversion (default: 1/yes/true, else the rarer)."
        ),
    ] = None,
    keep_leaky: Annotated[
        bool, typer.Option("--keep-leaky", help="Keep columns that predict the label almost perfectly on their own.")
    ] = False,
    types: Annotated[
        str | None, typer.Option("--types", help="Declared column kinds, e.g. zip=categorical,seats=numeric.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Score leads on a table: the hub's calibrated scorer vs default gradient boosting and logistic regression.

    Metrics on held-out rows: ROC AUC, Brier score, ECE (10 equal-width bins), top-decile lift.
    """
    from decision.scoring.evaluate import evaluate_table, load_table

    if (table is None) == (train is None and test is None) or (table is None and (train is None or test is None)):
        err.print("[red]give --table FILE (split by --train-share), or --train FILE and --test FILE.[/red]")
        raise typer.Exit(2)
    try:
        kinds = _types(types)
        with err.status("reading and scoring", spinner="dots") if not as_json else nullcontext():
            first = load_table(table or train, kinds)
            second = load_table(test, kinds) if test is not None else None
            result = evaluate_table(
                first,
                label,
                test=second,
                drop=_split(drop),
                train_share=train_share,
                seed=seed,
                positive=positive,
                keep_leaky=keep_leaky,
            )
    except (DataError, DecisionError) as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(result.as_json(), allow_nan=False))
        return
    _render(result)


def _render(result) -> None:  # noqa: ANN001 - decision.scoring.evaluate.TableEvaluation
    t = Table(
        title=f"Lead scoring: {result.label} = {result.positive!r} ({result.positive_rate:.1%} of rows), "
        f"{result.n_train:,} training / {result.n_test:,} test rows"
    )
    for col in ("scorer", "ROC AUC", "Brier", "ECE", "top-decile lift"):
        t.add_column(col, justify="left" if col == "scorer" else "right")
    rows = [(f"hub scorer ({result.estimator}, {result.calibration})", result.model)]
    rows += [(f"baseline: {name}", s) for name, s in result.baselines.items()]
    for name, s in rows:
        t.add_row(name, _num(s.auc), _num(s.brier), _num(s.ece), _num(s.top_decile_lift))
    out.print(t)
    used, model = counted(len(result.features), "column"), counted(result.n_features, "model feature")
    out.print(f"{used} used ({model}): {', '.join(result.features)}")
    for note in result.skipped:
        out.print(f"skipped {note}")
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
