"""`hub offline evaluate`: a thin command over hub/offline/ (learn a policy from a logged table
and value it on held-out rows). Exit codes as in hub/cli/main.py: 2 for a bad file, column, value or
option (the message names it), 1 when the evaluation itself fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hub.cli.common import err, out
from hub.errors import ConfigError, DataError, HubError
from hub.reports.numbers import figure, interval

offline_app = typer.Typer(help="Learn and value policies on your own logged decisions.", no_args_is_help=True)


def _iv(d: dict[str, float]) -> str:
    return interval(d["low"], d["high"])


def _render(res: dict[str, Any]) -> None:
    best = res["best_action"]
    pct = f"{1 - res['alpha']:.0%}"
    table = Table(title=f"Value per row on {res['n_test']:,} test rows (IPS; learned on {res['n_train']:,} train rows)")
    for col in ("policy", "value", f"{pct} interval", f"vs always {best}", f"{pct} interval "):
        table.add_column(col, justify="left" if col == "policy" else "right")
    dep = res["deployed"]
    table.add_row(
        f"deployed ({dep['mode']})",
        figure(res["policy"]["estimate"]),
        _iv(res["policy"]),
        figure(res["difference_vs_best"]["estimate"], sign=True),
        _iv(res["difference_vs_best"]),
        style="bold",
    )
    ln = res["learned"]
    table.add_row(
        f"learned bandit ({res['bandit']})",
        figure(ln["policy"]["estimate"]),
        _iv(ln["policy"]),
        figure(ln["difference_vs_best"]["estimate"], sign=True),
        _iv(ln["difference_vs_best"]),
    )
    for name, v in sorted(res["actions"].items(), key=lambda kv: -kv[1]["estimate"]):
        table.add_row(f"always {name}", figure(v["estimate"]), _iv(v), "", "")
    out.print(table)
    mix = ", ".join(f"{a} {s:.0%}" for a, s in dep["mix"].items() if s >= 0.005)
    out.print(f"Deployed: {dep['reason']} Its action mix on the test rows: {mix}.", highlight=False)
    d = res["diagnostics"]
    p = res["propensities"]
    out.print(
        f"Propensities: {p['source']} (min {p['min']:.3f}). Overlap of the deployed policy: effective sample size "
        f"{d['ess']:,.0f} of {res['n_test']:,}, largest weight {d['max_weight']:,.1f}.",
        highlight=False,
    )
    if res["costs"]:
        out.print("Costs taken off the reward: " + ", ".join(f"{a} {c:g}" for a, c in res["costs"].items()))
    for w in res["warnings"]:
        out.print(f"[yellow]Warning:[/] {w}", highlight=False)
    out.print(f"[bold]{res['verdict']}[/]", highlight=False)


@offline_app.command("evaluate")
def evaluate_command(
    action_col: Annotated[str, typer.Option("--action-col", help="Column holding the logged action.")],
    reward_col: Annotated[
        str, typer.Option("--reward-col", help="Column holding the reward (a number; yes/no read as 1/0).")
    ],
    log: Annotated[Path | None, typer.Option("--log", help="The logged decisions (CSV, CSV.gz or Parquet).")] = None,
    train: Annotated[Path | None, typer.Option("--train", help="Train rows (instead of --log).")] = None,
    test: Annotated[Path | None, typer.Option("--test", help="Test rows (with --train).")] = None,
    propensity_col: Annotated[
        str | None, typer.Option("--propensity-col", help="Column with the logging policy's probability of the action.")
    ] = None,
    propensity: Annotated[
        float | None, typer.Option("--propensity", help="One propensity for every row (e.g. 0.5 for a 50/50 test).")
    ] = None,
    features: Annotated[
        str | None,
        typer.Option("--features", help="Comma-separated feature columns (default: every other column)."),
    ] = None,
    train_share: Annotated[float, typer.Option("--train-share", help="Share of --log rows learned on.")] = 0.7,
    policy: Annotated[
        str, typer.Option("--policy", help="engine (the configured bandit), linucb or greedy.")
    ] = "engine",
    cost: Annotated[
        list[str] | None,
        typer.Option("--cost", help="ACTION=COST taken off the reward of rows with that action (repeatable)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split, the bandit and the bootstrap.")] = 0,
    n_bootstrap: Annotated[int, typer.Option("--bootstrap", min=100, help="Bootstrap resamples.")] = 1000,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="hub.yaml whose decision.engine settings to use (default: the defaults)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Learn the engine's policy on logged decisions and value it on held-out rows against every single action."""
    from hub.offline.evaluate import evaluate_split
    from hub.offline.inputs import Columns, load_log, parse_costs

    try:
        if policy not in ("engine", "linucb", "greedy"):
            raise DataError(f"--policy {policy!r}: use engine, linucb or greedy")
        engine = None
        if config is not None:
            from hub.config import load_settings

            engine = load_settings(config).decision.engine
        cols = Columns(
            action=action_col,
            reward=reward_col,
            propensity=propensity_col,
            features=None if features is None else tuple(c.strip() for c in features.split(",") if c.strip()),
        )
        with err.status("Reading the log..."):
            arrays, tr, te, notes = load_log(
                cols,
                log=log,
                train=train,
                test=test,
                train_share=train_share,
                propensity=propensity,
                costs=parse_costs(cost or []),
                seed=seed,
            )
    except (DataError, ConfigError) as exc:
        err.print(str(exc), style="red", highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(2) from None
    try:
        with err.status(f"Learning on {len(tr):,} rows and valuing on {len(te):,}..."):
            res = evaluate_split(arrays, tr, te, policy=policy, engine=engine, seed=seed, n_bootstrap=n_bootstrap)  # type: ignore[arg-type]
    except HubError as exc:
        err.print(str(exc), style="red", highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(1) from None
    res["feature_notes"] = notes
    if as_json:
        print(json.dumps(res))
    else:
        _render(res)
