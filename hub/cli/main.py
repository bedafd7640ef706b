"""The `hub` app: every command group mounted here. Commands parse arguments, call functions in
hub/, and print tables.

Exit codes: 0 ok, 1 failure, 2 usage or configuration error.
"""

from __future__ import annotations

import logging
import uuid
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli.common import ConfigOpt, HubGroup, JsonOpt, err, out, print_json, say, table
from hub.cli.evaluate import evaluate_command
from hub.cli.features import features_app
from hub.cli.governance import alerts_app, approvals_app, audit_command, killswitch_app
from hub.cli.importer import import_app
from hub.cli.learn import learn_app
from hub.cli.offline import offline_app
from hub.cli.reports import reports_app
from hub.cli.score import score_app
from hub.config import Settings, config_path, load_settings
from hub.errors import ConfigError

app = typer.Typer(
    cls=HubGroup,
    help="Decision Hub: sync CRMs, decide per contact, push actions back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Check the configuration.", no_args_is_help=True)
connectors_app = typer.Typer(help="Installed connector plugins.", no_args_is_help=True)
pushes_app = typer.Typer(help="Inspect and retry the push queue.", no_args_is_help=True)
sandbox_app = typer.Typer(
    help="The simulated market behind HubSpot- and Salesforce-compatible APIs.", no_args_is_help=True
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(reports_app, name="report", help="Lift, reach and model reports (tables and SVG charts).")
app.add_typer(config_app, name="config")
app.add_typer(connectors_app, name="connectors")
app.add_typer(pushes_app, name="pushes")
model_app = typer.Typer(help="Learned models: list versions, roll back, train lead scoring now.", no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(approvals_app, name="approvals")
app.add_typer(killswitch_app, name="killswitch")
app.add_typer(alerts_app, name="alerts")
app.add_typer(learn_app, name="learn")
app.add_typer(import_app, name="import")
app.command("audit")(audit_command)
app.add_typer(features_app, name="features")
app.command("evaluate")(evaluate_command)  # offline evaluation of a candidate config (hub/reports/evaluate.py)
app.add_typer(offline_app, name="offline")  # `hub offline evaluate` (hub/offline/)
app.add_typer(score_app, name="score")  # `hub score evaluate` (decision/scoring/evaluate.py)


def _settings(path: Path | None) -> Settings:
    return load_settings(path)


def _context(path: Path | None, embedded: bool = True):
    from hub.pipeline.context import HubContext

    return HubContext.build(_settings(path), embedded=embedded)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the sample.")] = Path("hub.yaml"), force: bool = False
) -> None:
    """Write a commented sample hub.yaml that validates."""
    if path.exists() and not force:
        err.print(f"[red]{path} exists[/]; pass --force to overwrite it.")
        raise typer.Exit(2)
    path.write_text(resources.files("hub").joinpath("sample.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    out.print(f"Wrote {path}. Next: edit its connectors, then run [bold]hub config validate[/].")


@config_app.command("validate")
def config_validate(config: ConfigOpt = None) -> None:
    """Validate hub.yaml; print every problem with its key path (exit 2 if any)."""
    settings = _settings(config)
    out.print(
        f"[green]OK[/] {config_path(config)}: {len(settings.connectors)} connector(s), policy {settings.decision.policy}."
    )


@app.command()
def migrate(config: ConfigOpt = None) -> None:
    """Create or upgrade the store's tables (run once per release, before workers start)."""
    from hub.store import Store

    settings = _settings(config)
    Store(settings.store_url, auto_migrate=True).dispose()
    out.print("[green]Store is at the latest schema.[/]")


@connectors_app.command("list")
def connectors_list(
    config: ConfigOpt = None,
    check: Annotated[bool, typer.Option(help="Run each enabled connector's check now.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Installed connector plugins, which are enabled, and their last check."""
    from hub.cli.connectors import connector_rows

    settings = None
    try:
        settings = _settings(config)
    except ConfigError as exc:
        if config_path(config).exists():
            raise
        err.print(f"[yellow]{exc}[/]")
    cols = ("plugin / name", "type", "source", "enabled", "last check", "problem")
    rows = connector_rows(settings, run_check=check)
    if json_:
        keys = ("name", "type", "source", "enabled", "last_check", "problem")
        print_json([dict(zip(keys, (row[0].strip(), *row[1:]), strict=True)) for row in rows])
        return
    t = table(*cols, title="Connectors", wrap=("problem",))
    for row in rows:
        t.add_row(*row)
    out.print(t)


@app.command()
def sync(
    name: Annotated[str | None, typer.Argument(help="Connector name; all enabled if omitted.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Pull changed contacts and activities now (inline, with progress)."""
    from hub.pipeline.sync import sync_connector

    ctx = _context(config)
    names = [name] if name else list(ctx.settings.enabled_connectors())
    table = Table("connector", "pages", "records", "rejects", "new contacts", "changed", "forgotten (not stored)")
    with _progress() as prog:
        for n in names:
            task = prog.add_task(f"sync {n}", total=None)
            res = sync_connector(ctx, n, progress=lambda stream, k, t=task: prog.advance(t, k))
            prog.update(task, total=res.records, completed=res.records)
            table.add_row(
                n,
                *map(str, (res.pages, res.records, res.rejects, res.created, len(res.changed), res.suppressed)),
            )
    out.print(table)
    ctx.close()


@app.command()
def decide(
    config: ConfigOpt = None,
    contact: Annotated[list[int] | None, typer.Option(help="Contact id (repeatable); all if omitted.")] = None,
) -> None:
    """Decide now for the given contacts (or every contact) and queue the pushes."""
    from hub.pipeline.decide import decide_contacts
    from hub.pipeline.run import chunks
    from hub.store.queries import all_contact_ids

    ctx = _context(config)
    with ctx.store.connect() as conn:
        ids = list(contact) if contact else all_contact_ids(conn)
        unknown = sorted(set(ids) - _known_contacts(conn, ids)) if contact else []
    if unknown:
        ctx.close()
        err.print(f"No contact with id {', '.join(map(str, unknown))}; nothing decided.", markup=False)
        raise typer.Exit(1)
    key = f"cli-{uuid.uuid4().hex[:12]}"
    decided = pushes = 0
    with _progress() as prog:
        task = prog.add_task("decide", total=len(ids))
        for part in chunks(ids, ctx.settings.decision.chunk_size):
            r = decide_contacts(ctx, part, key)
            decided, pushes = decided + r.decided, pushes + r.pushes
            prog.advance(task, len(part))
    out.print(f"Decided for {decided} contact(s); {pushes} push(es) queued. Next: [bold]hub push[/].")
    ctx.close()


def _known_contacts(conn, ids: list[int]) -> set[int]:  # noqa: ANN001 - Connection
    from sqlalchemy import select

    from hub.store.schema import contacts

    return {r[0] for r in conn.execute(select(contacts.c.id).where(contacts.c.id.in_(ids)))}


@app.command()
def push(
    name: Annotated[str | None, typer.Argument(help="Connector name; all enabled if omitted.")] = None,
    config: ConfigOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the writes it would make, without making them.")
    ] = False,
    samples: Annotated[int, typer.Option(min=0, help="With --dry-run: writes to show before -> after.")] = 5,
) -> None:
    """Send queued actions to the CRMs in batches (exit 1 when every push failed)."""
    from hub.pipeline.push import PushSummary, push_connector

    ctx = _context(config)
    try:
        names = [name] if name else list(ctx.settings.enabled_connectors())
        if dry_run:
            _dry_run(ctx, names, samples)
            return
        totals = []
        for n in names:
            total = PushSummary(connector=n)
            while True:
                s = push_connector(ctx, n)
                total.add(s)
                if not s.more:
                    break
            totals.append(total)
    finally:
        ctx.close()
    t = table("connector", "sent", "done", "no-op", "retrying", "failed")
    for p in totals:
        t.add_row(p.connector, *map(str, (p.sent, p.done, p.noop, p.retrying, p.failed)))
    out.print(t)
    if _push_problems(totals):
        raise typer.Exit(1)


def _dry_run(ctx, names: list[str], samples: int) -> None:  # noqa: ANN001 - HubContext
    """Per connector: the writes by kind, a few of them before -> after, and the CRM schema check."""
    from hub.errors import HubError
    from hub.pipeline.push import plan_pushes

    counts = table("connector", "kind", "writes", title="Dry run: writes that would be made")
    sample = table("connector", "record", "kind", "before -> after", title="Sample writes", wrap=("before -> after",))
    failed_checks = []
    for n in names:
        plan = plan_pushes(ctx, n, samples)
        for kind, count in sorted(plan.planned.items()):
            counts.add_row(n, kind, str(count))
        counts.add_row(n, "(no-op, skipped)", str(plan.noop))
        for w in plan.samples:
            change = "; ".join(f"{k}: {w['before'].get(k)!r} -> {v!r}" for k, v in w["after"].items())
            sample.add_row(n, w["record"], w["kind"], change)
        try:
            report = ctx.connector(n).check()
            problems = list(report.problems) if not report.ok or report.problems else []
        except HubError as exc:
            problems = [str(exc)]
        if problems:
            failed_checks.append((n, problems))
    out.print(counts)
    if sample.row_count:
        out.print(sample)
    for n, problems in failed_checks:
        for problem in problems:
            err.print(f"{n}: schema check: {problem}", markup=False, highlight=False)
    if failed_checks:
        err.print("These writes would fail: run `hub connectors setup` (or fix the connector) first.")
    else:
        say(f"Schema check: {', '.join(names) or 'no connector'} ready for these writes.")


def _push_problems(totals) -> bool:  # noqa: ANN001 - list[PushSummary]
    """Print each failure cause once with its count; True when nothing was written and something failed."""
    from collections import Counter

    failures: Counter = Counter()
    deferred: Counter = Counter()
    for p in totals:
        failures.update({(p.connector, r): n for r, n in p.failures.items()})
        deferred.update({(p.connector, r): n for r, n in p.deferrals.items()})
    for label, causes in (("failed", failures), ("will be retried", deferred)):
        total = sum(causes.values())
        if not total:
            continue
        err.print(f"{total:,} push(es) {label}:", markup=False, highlight=False)
        for (connector, reason), n in causes.most_common(10):
            hint = _push_hint(reason)
            line = f"  {n:,} × {connector}: {_short_reason(reason)}" + (f" — {hint}" if hint else "")
            err.print(line, markup=False, highlight=False, soft_wrap=True)
        if len(causes) > 10:
            err.print(f"  ... and {len(causes) - 10} other cause(s): hub pushes list --state failed", markup=False)
    done = sum(p.done + p.noop for p in totals)
    return done == 0 and sum(failures.values()) + sum(deferred.values()) > 0


def _short_reason(reason: str) -> str:
    """A vendor's validation body cut to its error codes and names: "HubSpot refused the record:
    PROPERTY_DOESNT_EXIST 'hub_next_best_action'" instead of the JSON it came in."""
    import re

    pairs = re.findall(r'"error":\s*"([A-Z_]+)",\s*"name":\s*"([^"]+)"', reason)
    if not pairs:
        return reason if len(reason) <= 300 else reason[:299] + "…"
    head = reason.split(":", 1)[0]
    return f"{head}: " + ", ".join(f"{code} {name!r}" for code, name in dict.fromkeys(pairs))


def _push_hint(reason: str) -> str:
    """What to do for the causes a new portal or org always hits."""
    text = reason.lower()
    if (
        "property_doesnt_exist" in text
        or "does not exist" in text
        or "invalid_field" in text
        or "no such column" in text
    ):
        return "run `hub connectors setup` to create the hub's properties/fields"
    if "401" in text or "unauthorized" in text or "invalid_session" in text or "expired" in text and "token" in text:
        return "the credentials are refused: renew the token in hub.yaml"
    if "scope" in text or "403" in text or "insufficient_access" in text:
        return "the app lacks permissions: see `hub connectors list --check`"
    return ""


@app.command()
def forget(
    email: Annotated[str | None, typer.Argument(help="The person's email address.")] = None,
    clear_crm: Annotated[
        bool, typer.Option("--clear-crm", help="First clear the hub's fields in every connected CRM.")
    ] = False,
    unsuppress: Annotated[
        bool,
        typer.Option("--unsuppress", help="The person consented again: take EMAIL off the suppression list."),
    ] = False,
    list_: Annotated[
        bool, typer.Option("--list", help="How many people are on the suppression list (counts only).")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Remove a person from the store (contact, identities, emails, decisions, pushes, outcomes, activities)
    and keep them out: their email and record ids are kept as one-way hashes that sync and events skip."""
    from hub.forget import forget as forget_person
    from hub.forget import suppression_counts
    from hub.forget import unsuppress as unsuppress_person

    if list_:
        if email or unsuppress or clear_crm:
            err.print("--list takes no email and no other option.", markup=False)
            raise typer.Exit(2)
        ctx = _context(config)
        try:
            counts = suppression_counts(ctx)
        finally:
            ctx.close()
        out.print(
            f"Suppressed: {counts['people']} people ({counts['emails']} email hashes, "
            f"{counts['record_ids']} CRM record id hashes)",
            markup=False,
            highlight=False,
        )
        return
    if not email:
        err.print("Give the person's email address (or --list).", markup=False)
        raise typer.Exit(2)
    if unsuppress:
        if clear_crm:
            err.print("--unsuppress and --clear-crm do not go together.", markup=False)
            raise typer.Exit(2)
        ctx = _context(config)
        try:
            removed = unsuppress_person(ctx, email)
        finally:
            ctx.close()
        if not removed:
            err.print("That address is not on the suppression list; nothing to lift.", markup=False)
            raise typer.Exit(1)
        out.print(
            f"Suppression lifted ({removed} hashes removed): the person comes back with the next change "
            "to their CRM record.",
            markup=False,
            highlight=False,
        )
        return
    ctx = _context(config)
    try:
        report = forget_person(ctx, email, clear_crm=clear_crm)
    finally:
        ctx.close()
    if not report.found:
        swept = f" Traces of the address removed or redacted: {report.swept}." if report.swept else ""
        err.print(
            "No contact has that email address; nothing to delete. It is on the suppression list, "
            f"so no sync or event will bring it in.{swept}",
            markup=False,
        )
        raise typer.Exit(1)
    for name, states in sorted(report.cleared.items()):
        out.print(f"{name}: hub fields cleared {states}", markup=False, highlight=False)
    if report.waiting:
        for why in report.waiting:
            err.print(f"Not forgotten yet: {why}. Run the same command again later.", markup=False)
        raise typer.Exit(1)
    out.print(f"Forgotten contact {report.contact_id}: removed {report.deleted}", markup=False, highlight=False)
    if report.swept:
        out.print(f"Traces in other tables removed or redacted: {report.swept}", markup=False, highlight=False)


@app.command()
def run(
    config: ConfigOpt = None,
    once: Annotated[bool, typer.Option("--once", help="One pass of sync, decide, push, in this process.")] = False,
) -> None:
    """Run the pipeline in this process with no broker (embedded mode)."""
    from hub.pipeline.run import run_once

    if not once:
        err.print(
            "Continuous mode runs on Celery: start [bold]hub worker[/] and [bold]hub beat[/]. For one pass here: hub run --once"
        )
        raise typer.Exit(2)
    ctx = _context(config)
    try:
        with _progress() as prog:
            task = prog.add_task("decide", total=None)
            report = run_once(ctx, on_step=lambda step, i, n: prog.update(task, completed=i, total=n))
        policy = f"{ctx.policy.name} {ctx.policy.version}"
    finally:
        ctx.close()
    t = table("connector", "synced", "rejects", "pushed", "no-op", "retrying", "failed", title="hub run --once")
    for s, p in zip(report.syncs, report.pushes, strict=True):
        t.add_row(s.connector, str(s.records), str(s.rejects), str(p.done), str(p.noop), str(p.retrying), str(p.failed))
    out.print(t)
    say(
        f"Decided for {report.decide.decided} contact(s) with policy {policy}; {report.outcomes} outcome(s) attributed."
    )
    if report.learn.learned or report.learn.finalized:
        out.print(f"Learned from {report.learn.learned} decision(s); model version {report.learn.version}.")
    gov = report.governance
    if gov.expired or gov.monitor.raised or gov.monitor.switched:
        switched = f"; kill switch on: {', '.join(gov.monitor.switched)}" if gov.monitor.switched else ""
        out.print(f"{gov.expired} approval(s) expired; {gov.monitor.raised} new alert(s){switched} (hub status).")
    if _push_problems(report.pushes):
        raise typer.Exit(1)


@app.command()
def worker(
    config: ConfigOpt = None,
    queues: Annotated[str, typer.Option(help="Comma-separated queues to consume.")] = "sync,decide,push,learn",
    concurrency: Annotated[int, typer.Option(min=1)] = 2,
    loglevel: str = "INFO",
    hostname: Annotated[str | None, typer.Option(help="Celery node name.")] = None,
) -> None:
    """Start a Celery worker on the hub's queues."""
    from tasks import configure

    celery_app = configure(_settings(config))
    argv = [
        "worker",
        f"--queues={queues}",
        f"--concurrency={concurrency}",
        f"--loglevel={loglevel}",
        "-O",
        "fair",
        "--without-gossip",
        "--without-mingle",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    celery_app.worker_main(argv)


@app.command()
def beat(config: ConfigOpt = None, loglevel: str = "INFO", schedule_file: Path = Path("celerybeat-schedule")) -> None:
    """Start the scheduler (run exactly one): syncs and pushes at each connector's interval."""
    from tasks import configure

    celery_app = configure(_settings(config))
    celery_app.start(["beat", f"--loglevel={loglevel}", f"--schedule={schedule_file}"])


@app.command()
def flower(config: ConfigOpt = None, port: int = 5555) -> None:
    """Start Flower, Celery's monitor (basic auth from FLOWER_BASIC_AUTH=user:password)."""
    from tasks import configure

    try:
        import flower as _  # noqa: F401
    except ImportError:
        err.print("Flower is not installed: pip install 'decision-hub[ops]'")
        raise typer.Exit(1) from None
    celery_app = configure(_settings(config))
    celery_app.start(["flower", f"--port={port}"])


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default: api.port).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Processes (default: api.workers).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the real-time decision API and the admin console (uvicorn)."""
    from hub.api.server import serve as run_server

    settings = _settings(config)
    bind_host, bind_port = host or settings.api.host, port or settings.api.port
    shown = "127.0.0.1" if bind_host in ("0.0.0.0", "::", "") else bind_host
    err.print(
        f"Serving the API and console on http://{shown}:{bind_port}/ (console: http://{shown}:{bind_port}/console)"
        " - Ctrl-C stops it.",
        markup=False,
        highlight=False,
    )
    run_server(config, host, port, workers, log_level)


@app.command()
def status(config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """Per connector: last sync, cursor, records, pushes; per queue: depth; workers alive."""
    from hub.status import hub_status
    from hub.store import Store
    from tasks import configure

    settings = _settings(config)
    store = Store(settings.store_url)
    try:
        st = hub_status(settings, store, app=configure(settings))
        gov = _governance(settings, store)
    finally:
        store.dispose()
    if json_:
        print_json(
            {
                "connectors": [
                    {
                        "name": c.name,
                        "type": c.type,
                        "enabled": c.enabled,
                        "last_sync": c.last_sync,
                        "last_status": c.last_status,
                        "last_error": c.last_error,
                        "records": c.records,
                        "pending": c.pending,
                        "failed": c.failed,
                        "done": c.done,
                        "usage": c.usage,
                        "cursors": c.cursors,
                    }
                    for c in st.connectors
                ],
                "queues": st.queues,
                "workers": st.workers,
                "broker_error": st.broker_error,
                "kill_switches_on": [s.use_case for s in gov["switches"].values() if s.on],
                "open_alerts": [_alert_json(a) for a in gov["alerts"]],
                "last_monitoring_run": gov["monitored"],
                "approvals_waiting": gov["waiting"],
                "suppressed_people": gov["suppressed"],
            }
        )
        return
    t = table(
        "connector",
        "type",
        "enabled",
        "last sync",
        "status",
        "records",
        "pending",
        "failed",
        "done",
        "API use",
        "cursors",
        title="Connectors",
    )
    for c in st.connectors:
        cursors = "; ".join(f"{k}={(v or '-')[:24]}" for k, v in c.cursors.items())
        last = c.last_sync.strftime("%Y-%m-%d %H:%M:%S") if c.last_sync else "never"
        state = c.last_status or "-"
        if c.last_error:
            state += f": {c.last_error[:60]}"
        t.add_row(
            c.name,
            c.type,
            "yes" if c.enabled else "no",
            last,
            state,
            str(c.records),
            str(c.pending),
            str(c.failed),
            str(c.done),
            c.usage_summary,
            cursors,
        )
    if st.connectors:
        out.print(t)
    else:
        say("No connectors configured (hub.yaml connectors:).")
    if st.broker_error:
        out.print(f"[yellow]{st.broker_error}[/]")
    else:
        q = table("queue", "depth", title="Queues")
        for name, depth in (st.queues or {}).items():
            q.add_row(name, str(depth))
        out.print(q)
        out.print(f"Workers alive: {len(st.workers or [])} {', '.join(st.workers or [])}")
    _governance_status(gov)


def _governance(settings: Settings, store) -> dict:  # noqa: ANN001
    """Kill switches, open alerts, approvals waiting and who is kept out: what a person must look at."""
    from hub.governance import approvals, killswitch
    from hub.governance.alerts import last_run, list_alerts
    from hub.store import suppressions as suppression_store

    with store.connect() as conn:
        return {
            "switches": killswitch.states(conn, settings.governance),
            "alerts": list_alerts(conn, "open", 20),
            "waiting": approvals.counts(conn).get("awaiting", 0),
            "monitored": last_run(conn),
            "suppressed": suppression_store.counts(conn)["people"],
        }


def _governance_status(gov: dict) -> None:
    from hub.cli.governance import alert_table, switch_table

    if any(s.on for s in gov["switches"].values()):
        out.print(switch_table(gov["switches"]))
    when = f"{gov['monitored']:%Y-%m-%d %H:%M} UTC" if gov["monitored"] else "never"
    if gov["alerts"]:
        out.print(alert_table(gov["alerts"], title=f"Open alerts (last monitoring run: {when})"))
    else:
        out.print(f"No open alerts (last monitoring run: {when}).")
    waiting, suppressed = gov["waiting"], gov["suppressed"]
    out.print(f"Approvals waiting: {waiting}" + (" (hub approvals list)" if waiting else ""))
    out.print(f"Suppressed (forgotten) people: {suppressed}" + (" (hub forget --list)" if suppressed else ""))


def _alert_json(a) -> dict:  # noqa: ANN001 - hub.governance.alerts.Alert
    from hub.cli.governance import alert_json

    return alert_json(a)


PUSH_STATES = ("pending", "sending", "done", "skipped", "superseded", "failed", "awaiting_approval", "rejected", "all")


@pushes_app.command("list")
def pushes_list(
    config: ConfigOpt = None,
    state: Annotated[str, typer.Option(help=f"One of {', '.join(PUSH_STATES)}.")] = "failed",
    limit: Annotated[int, typer.Option(min=1)] = 50,
    json_: JsonOpt = False,
) -> None:
    """Pushes by state (default: failed), newest first, with their last error."""
    from hub.store import Store
    from hub.store.pushes import list_pushes

    if state not in PUSH_STATES:
        raise typer.BadParameter(
            f"{state!r} is not a push state; use one of {', '.join(PUSH_STATES)}.", param_hint="--state"
        )
    store = Store(_settings(config).store_url)
    try:
        with store.connect() as conn:
            rows = list_pushes(conn, state=None if state == "all" else state, limit=limit)
    finally:
        store.dispose()
    if json_:
        keys = ("id", "connector", "object_type", "external_id", "kind", "state", "attempts", "last_error", "payload")
        print_json([{k: getattr(r, k) for k in keys} for r in rows])
        return
    if not rows:
        say(f"No pushes in state {state}." if state != "all" else "No pushes yet.")
        return
    t = table("id", "connector", "record", "kind", "state", "attempts", "last error", title=f"Pushes ({state})")
    for r in rows:
        t.add_row(str(r.id), r.connector, r.external_id, r.kind, r.state, str(r.attempts), r.last_error or "")
    out.print(t)


@pushes_app.command("retry")
def pushes_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Push ids; every failed push if omitted.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Queue failed pushes again."""
    from hub.models import utcnow
    from hub.store import Store
    from hub.store.pushes import retry_failed

    store = Store(_settings(config).store_url)
    with store.begin() as conn:
        n = retry_failed(conn, ids or None, utcnow())
    out.print(f"{n} push(es) queued again. Next: [bold]hub push[/].")


@app.command()
def demo(
    contacts: Annotated[int, typer.Option(min=50, help="People in the simulated market.")] = 2000,
    weeks: Annotated[int, typer.Option(min=1, help="Simulated weeks to run.")] = 4,
    seed: int = 0,
    workdir: Annotated[Path, typer.Option(help="Where the demo's hub.yaml and SQLite store go.")] = Path("hub-demo"),
) -> None:
    """Run the whole product against the sandbox market and report lift per experiment arm."""
    from hub.demo import run_demo

    with _progress() as prog:
        task = prog.add_task("simulated days", total=weeks * 7)
        report = run_demo(
            contacts=contacts,
            weeks=weeks,
            seed=seed,
            workdir=workdir,
            on_day=lambda d, n: prog.update(task, completed=d),
        )
    _print_demo(report)


def _money(v: float) -> str:
    return f"${v:,.0f}"


def _print_demo(report) -> None:
    table = Table(
        title=f"Decision Hub demo: {report.days} simulated days, {report.contacts} people (ground truth from the market,"
        " each person in the arm of its first decision)"
    )
    for col in (
        "arm",
        "contacts",
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
            s, t = lf.store, lf.truth
            seen = f"{s.diff:+.3f} [{s.low:+.3f}, {s.high:+.3f}]" if s is not None and s.n_arm and s.n_base else "-"
            lifts.add_row(lf.arm, lf.metric, seen, f"{t.diff:+.3f} [{t.low:+.3f}, {t.high:+.3f}]")
        out.print(lifts)
        out.print(
            "Store: each decided contact's activities after its first decision, as synced (hub/reports/metrics.py)."
            " Ground truth: what the same people did in the market since the demo began, synced or not."
        )
    out.print(f"Policy that ran: [bold]{report.policy}[/] {report.policy_version}.", highlight=False)
    if report.policy == "rules":
        out.print(
            "The learning engine is not enabled in this build: every decided contact got the legacy rules; there is no holdout to compare with."
        )
    out.print(f"Store and config: {report.workdir}/ (try: hub status -c {report.workdir}/hub.yaml)")


@sandbox_app.command("serve")
def sandbox_serve(
    contacts: Annotated[int, typer.Option(min=10)] = 2000,
    seed: int = 0,
    hubspot_port: int = 0,
    salesforce_port: int = 0,
    day_seconds: Annotated[float, typer.Option(help="Advance one simulated day every N seconds (0: never).")] = 0.0,
) -> None:
    """Serve both sandbox APIs on localhost until Ctrl-C, with their URLs and credentials."""
    import time

    from hub.sandbox.serve import start_sandbox
    from hub.sandbox.world import World, WorldConfig

    world = World(WorldConfig(n_contacts=contacts, seed=seed))
    with start_sandbox(world, hubspot_port, salesforce_port) as sb:
        table = Table("what", "value", title="Sandbox running (sandbox credentials, not secrets)")
        for label, value in (
            ("HubSpot base URL", sb.hubspot_url),
            ("HubSpot private-app token", sb.hubspot_token),
            ("Salesforce instance", sb.salesforce_url),
            ("Salesforce login domain (simple-salesforce domain=)", sb.salesforce_domain),
            ("Salesforce username", sb.salesforce_username),
            ("Salesforce password", sb.salesforce_password),
            ("Salesforce security token", sb.salesforce_security_token),
            ("CA certificate to trust", sb.ca_cert_path),
        ):
            table.add_row(label, value)
        out.print(table)
        out.print("Ctrl-C stops it.")
        try:
            while True:
                if day_seconds > 0:
                    time.sleep(day_seconds)
                    world.advance_days(1)
                else:
                    time.sleep(3600)
        except KeyboardInterrupt:
            pass


@model_app.command("list")
def model_list(config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """Every saved model version with what it learned from."""
    from hub.pipeline.learn import list_models

    ctx = _context(config)
    try:
        models = list_models(ctx)
    finally:
        ctx.close()
    if json_:
        keys = ("name", "version", "created_at", "metrics")
        print_json([{k: m.get(k) for k in keys} for m in models])
        return
    if not models:
        say("No model versions yet: the engine saves one each time it learns (hub run --once, or the learn task).")
        return
    t = table("model", "version", "created", "learned", "mean reward", "note", title="engine models")
    for m in models:
        mt = m["metrics"] or {}
        note = f"rollback of v{mt['rollback_of']}" if "rollback_of" in mt else ""
        mean = mt.get("mean_reward")
        t.add_row(
            m["name"],
            str(m["version"]),
            f"{m['created_at']:%Y-%m-%d %H:%M}",
            str(mt.get("learned", "")),
            "" if mean is None else f"{mean:.3f}",
            note,
        )
    out.print(t)


@model_app.command("train")
def model_train(
    model: Annotated[str, typer.Argument(help="Which model: scoring (lead scoring).")],
    config: ConfigOpt = None,
) -> None:
    """Retrain a model now (beat also does it every decision.scoring.retrain_every_hours)."""
    from hub.pipeline.scoring import retrain

    if model != "scoring":
        raise ConfigError([("model", f"unknown model {model!r}; `hub model train scoring` is the one to train")])
    ctx = _context(config)
    s = ctx.settings.decision.scoring
    if s is None or not s.enabled:
        ctx.close()
        raise ConfigError([("decision.scoring", "lead scoring is not enabled; add `scoring: {}` under decision")])
    with out.status("Training lead scoring on the store's history…"):
        res = retrain(ctx.store, ctx.clock(), s)
    ctx.close()
    out.print(f"{res.rows} training rows, {res.positives} opportunities. {res.message}.")
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

    ctx = _context(config)
    new = audited_rollback(ctx, version, by or getpass.getuser(), note, name)
    out.print(f"Model version {version} is live again as version {new}.")
    ctx.close()


def main() -> None:
    """The console script: click's standalone mode gives usage errors their usage line and exit 2;
    HubGroup turns the hub's own errors into one message (exit 1, or 2 for configuration)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app(prog_name="hub")
