"""The `hub` app: every command group mounted here. Commands parse arguments, call functions in
hub/, and print tables.

Exit codes: 0 ok, 1 failure, 2 usage or configuration error.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from hub.cli import forget, pipeline, services, status
from hub.cli.common import (
    ConfigOpt,
    HubGroup,
    JsonOpt,
    config_flag,
    err,
    load_config,
    out,
    print_json,
    progress_bar,
    say,
    table,
)
from hub.cli.decisions import decisions as decisions_command
from hub.cli.evaluate import evaluate_command
from hub.cli.features import features_app
from hub.cli.governance import alerts_app, approvals_app, audit_command, killswitch_app
from hub.cli.importer import import_app
from hub.cli.learn import learn_app
from hub.cli.model import model_app
from hub.cli.offline import offline_app
from hub.cli.pushes import pushes_app
from hub.cli.reports import reports_app
from hub.cli.sandbox import sandbox_app
from hub.cli.score import score_app
from hub.cli.setup import setup_command
from hub.config import config_path
from hub.demo_store import DEMO_ENDED, DEMO_READ, demo_ended
from hub.errors import ConfigError
from hub.reports.numbers import counted
from hub.setup_steps import next_steps

app = typer.Typer(
    cls=HubGroup,
    help="Decision Hub: sync CRMs, decide per contact, push actions back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Check the configuration.", no_args_is_help=True)
connectors_app = typer.Typer(help="Installed connector plugins.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(reports_app, name="report", help="Lift, reach and model reports (tables and SVG charts).")
app.add_typer(config_app, name="config")
app.add_typer(connectors_app, name="connectors")
connectors_app.command("setup")(setup_command)
app.add_typer(pushes_app, name="pushes")
app.add_typer(model_app, name="model")
app.add_typer(approvals_app, name="approvals")
app.add_typer(killswitch_app, name="killswitch")
app.add_typer(alerts_app, name="alerts")
app.add_typer(learn_app, name="learn")
app.add_typer(import_app, name="import")
app.command("audit")(audit_command)
app.command("decisions")(decisions_command)  # the console's Decisions page in the terminal
app.add_typer(features_app, name="features")
app.command("evaluate")(evaluate_command)  # offline evaluation of a candidate config (hub/reports/evaluate.py)
app.add_typer(offline_app, name="offline")  # `hub offline evaluate` (hub/offline/)
app.add_typer(score_app, name="score")  # `hub score evaluate` (decision/scoring/evaluate.py)
for command in (pipeline.sync, pipeline.decide, pipeline.push, pipeline.run, forget.forget, status.status):
    app.command()(command)
for command in (services.worker, services.beat, services.flower, services.serve):
    app.command()(command)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the sample.")] = Path("hub.yaml"), force: bool = False
) -> None:
    """Write a commented sample hub.yaml that validates."""
    if path.exists() and not force:
        err.print(f"[red]{path} exists[/]; pass --force to overwrite it.")
        raise typer.Exit(2)
    path.write_text(resources.files("hub").joinpath("sample.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    out.print(
        f"Wrote {path}. Next: edit its connectors (none is needed to decide on your own files: hub import), "
        "then run [bold]hub config validate[/].",
        highlight=False,
    )


@config_app.command("validate")
def config_validate(config: ConfigOpt = None) -> None:
    """Validate hub.yaml; print every problem with its key path (exit 2 if any)."""
    settings = load_config(config)
    out.print(
        f"[green]OK[/] {config_path(config)}: {counted(len(settings.connectors), 'connector')}, policy {settings.decision.policy}."
    )
    c = config_flag(config)
    if demo_ended(settings):  # its simulated CRMs are gone: nothing to set up
        out.print((DEMO_ENDED + DEMO_READ).format(c=c), markup=False)
    elif settings.enabled_connectors():  # a CRM refuses every push until its fields exist
        out.print(next_steps(settings, c))
    else:
        out.print(
            f"No connector is enabled: bring people in with [bold]hub import contacts FILE{c}[/] (events: "
            f"hub import events), then [bold]hub run --once{c}[/] decides for them; add a CRM under connectors: "
            "to sync it and write decisions back.",
            highlight=False,
        )


@app.command()
def migrate(config: ConfigOpt = None) -> None:
    """Create or upgrade the store's tables (run once per release, before workers start)."""
    from sqlalchemy.engine import make_url

    from hub.store import Store

    settings = load_config(config)
    store = Store(settings.store_url, auto_migrate=True)
    store.dispose()
    where = make_url(settings.store_url).render_as_string(hide_password=True)
    m = store.migrated
    assert m is not None  # auto_migrate: it migrated
    if m.applied == 0:
        say(f"The store at {where} is already at the latest schema ({m.after}); nothing to do.")
    elif m.before is None:
        say(
            f"Created the store's {m.tables} tables in {where}, at schema {m.after} ({counted(m.applied, 'migration')})."
        )
    else:
        say(f"Upgraded the store at {where} from schema {m.before} to {m.after} ({counted(m.applied, 'migration')}).")


@connectors_app.command("list")
def connectors_list(
    config: ConfigOpt = None,
    check: Annotated[bool, typer.Option(help="Run each enabled connector's check now.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Installed connector plugins, which are enabled, and their last check."""
    from hub.cli.connectors import check_exit_code, connector_rows

    settings = None
    try:
        settings = load_config(config)
    except ConfigError as exc:
        if config_path(config).exists():
            raise
        err.print(f"[yellow]{exc}[/]")
    ended = check and settings is not None and demo_ended(settings)  # its CRMs are gone: nothing to call
    cols = ("plugin / name", "type", "source", "enabled", "last check (UTC)", "problem")
    rows = connector_rows(settings, run_check=check and not ended)
    if json_:
        keys = ("name", "type", "source", "enabled", "last_check", "problem")
        print_json([dict(zip(keys, (row[0].strip(), *row[1:]), strict=True)) for row in rows])
    else:
        t = table(*cols, title="Connectors", wrap=("problem",))
        for row in rows:
            t.add_row(*map(Text, row))  # a plugin's error or a check's problem as written ([extras] too)
        out.print(t)
    if ended:
        err.print((DEMO_ENDED + " Its last checks are above.").format(c=config_flag(config)), markup=False)
        raise typer.Exit(2)
    if check:  # the same exit code with --json (its words go to stderr)
        raise typer.Exit(check_exit_code(settings, err))


@app.command()
def demo(
    contacts: Annotated[int, typer.Option(min=50, help="People in the simulated market.")] = 2000,
    weeks: Annotated[int, typer.Option(min=1, help="Simulated weeks to run.")] = 4,
    seed: int = 0,
    workdir: Annotated[Path, typer.Option(help="Where the demo's hub.yaml (and SQLite store) go.")] = Path("hub-demo"),
    store_url: Annotated[
        str | None,
        typer.Option(
            help="Run on PostgreSQL, as production does: the URL of a database with no data in it"
            " (postgresql://user@host:5432/hub_demo). One that holds data (any table but the hub's own, empty"
            " ones) is refused, never mixed with: create a new one for each run. The URL is written to hub.yaml"
            " as given (readable by you only if it holds a password; or leave the password out and use"
            " ~/.pgpass or PGPASSWORD)."
            " Default: a new SQLite demo.db in --workdir.",
        ),
    ] = None,
) -> None:
    """Run the whole product against the sandbox market and report lift per experiment arm."""
    from hub.demo import run_demo
    from hub.demo_store import check_demo_store, check_demo_workdir

    check_demo_workdir(workdir)  # a refused directory or database is said before the progress bar starts
    check_demo_store(store_url)
    with progress_bar() as prog:
        task = prog.add_task("simulated days", total=weeks * 7)
        report = run_demo(
            contacts=contacts,
            weeks=weeks,
            seed=seed,
            workdir=workdir,
            on_day=lambda d, n: prog.update(task, completed=d),
            store_url=store_url,
        )
    _print_demo(report)


def _money(v: float) -> str:
    return f"${v:,.0f}"


def _print_demo(report) -> None:
    from hub.demo_store import CONSOLE_PASSWORD, CONSOLE_USER

    table = Table(
        title=f"Decision Hub demo: {report.days} simulated days, {report.contacts} people (ground truth from the market,"
        " each person in the arm of its first decision)"
    )
    for col in (
        "arm",
        "people",
        "decisions",
        "pushes",
        "opens",
        "meetings",
        "opportunities",
        "pipeline",
        "won revenue",
        "unsubscribes",
        "reward",
    ):
        table.add_column(col, justify="left" if col == "arm" else "right")
    for r in report.arms:
        t = r.totals
        table.add_row(
            r.arm,
            str(r.contacts),
            str(r.decisions),
            str(r.pushes),
            f"{t['opens']:.0f}",
            f"{t['meetings']:.0f}",
            f"{t['opportunities']:.0f}",
            _money(t["pipeline"]),
            _money(t["won_revenue"]),
            f"{t['unsubscribes']:.0f}",
            f"{t['reward']:.1f}",
        )
    out.print(table)
    if report.lifts:
        lifts = Table(title="Lift over the holdout, per contact: difference [95% interval]")
        for col in ("arm", "metric", "store (hub report lift)", "ground truth (market)"):
            lifts.add_column(col)
        for lf in report.lifts:
            lifts.add_row(lf.arm, lf.metric, _lift_cell(lf.store), _lift_cell(lf.truth))
        out.print(lifts)
        out.print(
            "Store: each decided contact's activities after its first decision, as synced (hub/reports/metrics.py);"
            " a person whose records in the two CRMs share no e-mail address is two contacts there."
            " Ground truth: what the same people did in the market since the demo began, synced or not."
        )
    out.print(f"Policy that ran: [bold]{report.policy}[/] {report.policy_version}.", highlight=False)
    if report.policy == "rules":
        out.print(
            "The learning engine is not enabled in this build: every decided contact got the legacy rules; there is no holdout to compare with."
        )
    out.print(f"Store and config: {report.workdir}/ (try: hub status -c {report.workdir}/hub.yaml)")
    out.print(
        f"Console: hub serve -c {report.workdir}/hub.yaml, then /console/ at the address it prints; user "
        f"{CONSOLE_USER}, password in {report.workdir}/{CONSOLE_PASSWORD}"
    )


def _lift_cell(row) -> str:  # noqa: ANN001 - hub.reports.lift.LiftRow | None
    if row is None or not row.n_arm or not row.n_base:
        return "-"
    from hub.reports.numbers import estimate

    return estimate(row.diff, row.low, row.high, row.note)


def main() -> None:
    """The console script: click's standalone mode gives usage errors their usage line and exit 2;
    HubGroup turns the hub's own errors into one message (exit 1, or 2 for configuration)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app(prog_name="hub")


if __name__ == "__main__":  # `python -m hub.cli.main ...` runs what the `hub` script runs
    main()
