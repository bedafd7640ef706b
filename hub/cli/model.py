"""`hub model list|train|rollback`: learned model versions."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hub.cli.common import ConfigOpt, JsonOpt, open_context, out, print_json, say, table
from hub.errors import ConfigError
from hub.reports.numbers import figure, utc_time

model_app = typer.Typer(help="Learned models: list versions, roll back, train lead scoring now.", no_args_is_help=True)


@model_app.command("list")
def model_list(config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """Every saved model version, newest first, with what it learned from and which one decides."""
    from hub.pipeline.learn import list_models
    from hub.pipeline.model_versions import NO_MODELS, model_versions, new_model_note

    ctx = open_context(config)
    try:
        if json_:
            keys = ("name", "version", "created_at", "metrics")
            print_json([{k: m.get(k) for k in keys} for m in list_models(ctx)])
            return
        versions = model_versions(ctx)
        cold = new_model_note(ctx, versions)
    finally:
        ctx.close()
    if not versions:
        say(NO_MODELS)
        return
    t = table("model", "version", "saved (UTC)", "learned from", "mean reward", "feature schema", "note")
    for m in versions:  # as the console's Models page lists them
        t.add_row(
            m.name,
            f"v{m.version}",
            utc_time(m.created_at),
            figure(m.learned),
            figure(m.mean_reward),
            m.feature_version,
            m.note(),
        )
    out.print(t)
    if cold:
        say(cold)


@model_app.command("train")
def model_train(
    model: Annotated[str, typer.Argument(help="Which model: scoring (lead scoring).")],
    config: ConfigOpt = None,
) -> None:
    """Retrain a model now (beat also does it every decision.scoring.retrain_every_hours)."""
    from hub.pipeline.scoring import retrain

    if model != "scoring":
        raise ConfigError([("model", f"unknown model {model!r}; `hub model train scoring` is the one to train")])
    ctx = open_context(config)
    s = ctx.settings.decision.scoring
    if s is None or not s.enabled:
        ctx.close()
        raise ConfigError([("decision.scoring", "lead scoring is not enabled; add `scoring: {}` under decision")])
    with out.status("Training lead scoring on the store's history…"):
        res = retrain(ctx.store, ctx.clock(), s)
    ctx.close()
    out.print(
        f"{res.rows} training rows ({res.positives} positive), {res.opportunities} opportunities, "
        f"{res.converting_contacts} converting contacts. {res.message}."
    )
    d = res.decision
    if d is None:
        return
    table = Table(
        "metric", "new version", f"live v{d.live_version}" if d.live_version else "live", title="latest window"
    )
    for name in ("roc_auc", "pr_auc", "brier", "ece", "top_decile_lift"):
        live = "" if d.live is None else f"{getattr(d.live, name):.3f}"
        table.add_row(name, f"{getattr(d.candidate, name):.3f}", live)
    out.print(table)
    for reason in d.reasons:
        out.print(f"  {reason}")


@model_app.command("rollback")
def model_rollback(
    version: int,
    config: ConfigOpt = None,
    name: Annotated[str | None, typer.Option(help="Model name.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who (audit log; default: the login name).")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why (audit log).")] = None,
) -> None:
    """Make VERSION the live model again (appended as the newest version; workers reload it)."""
    import getpass

    from hub.governance.rollback import audited_rollback

    ctx = open_context(config)
    new = audited_rollback(ctx, version, by or getpass.getuser(), note, name)
    out.print(f"Model version {version} is live again as version {new}.")
    ctx.close()
