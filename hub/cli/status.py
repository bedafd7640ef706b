"""`hub status`: connectors, queues, workers and what a person must look at (hub/status.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from hub.cli.common import ConfigOpt, JsonOpt, config_flag, load_config, out, print_json, say, table
from hub.config import Settings
from hub.demo_store import DEMO_ENDED, DEMO_READ, demo_ended
from hub.reports.numbers import counted, utc_time

#: after "Workers alive: 0" on a hub that uses workers: what runs the queues
NO_WORKERS = (
    "Nothing takes messages off these queues: start `hub worker{c}` (and one `hub beat{c}` for the schedule), "
    "or run one pass of the pipeline in this process with `hub run --once{c}`."
)

#: workers are alive but some queues have none: their tasks wait for ever
NO_CONSUMER = (
    "No worker takes the {q_spaced} queue(s): their tasks wait until one does; start "
    "`hub worker{c} --queues {q}` (the learn queue: exactly one, `--concurrency 1`)."
)

if TYPE_CHECKING:
    from hub.pipeline.owner_status import OwnerStatus


def status(config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """Per connector: last sync, cursor, records, pushes; per queue: depth; workers alive."""
    from hub.pipeline.context import HubContext
    from hub.pipeline.learn import policy_in_use
    from hub.pipeline.owner_status import owner_warnings
    from hub.status import TAKEN_NOTE, hub_status
    from tasks import configure

    settings = load_config(config)
    ctx = HubContext.build(settings, embedded=True)  # the policy as decisions load it; no locks taken
    store = ctx.store
    try:
        st = hub_status(settings, store, app=configure(settings), sources=True)
        gov = _governance(settings, store)
        policy, version = policy_in_use(ctx)
    finally:
        ctx.close()
    if json_:
        print_json(
            {
                "policy": policy,
                "policy_version": version,
                "connectors": [
                    {
                        "name": c.name,
                        "type": c.type,
                        "enabled": c.enabled,
                        "last_sync": c.last_sync,
                        "last_status": c.last_status,
                        "last_result": c.last_result,
                        "last_error": c.last_error,
                        "last_heartbeat": c.last_heartbeat,
                        "records": c.records,
                        "pending": c.pending,
                        "failed": c.failed,
                        "done": c.done,
                        "retrying": c.retrying,
                        "push_error": c.push_error,
                        "usage": c.usage,
                        "cursors": c.cursors,
                    }
                    for c in st.connectors
                ],
                "sources": [
                    {"source": s.source, "records": s.records, "events": s.events, "last": s.last} for s in st.sources
                ],
                "queues": st.queues,
                "queues_taken": st.taken,
                "workers": st.workers,
                "queues_without_workers": st.queues_without_workers,
                "broker_error": st.broker_error,
                "kill_switches_on": [s.use_case for s in gov["switches"].values() if s.on],
                "open_alerts": [_alert_json(a) for a in gov["alerts"]],
                "last_monitoring_run": gov["monitored"],
                "approvals_waiting": gov["waiting"],
                "suppressed_people": gov["suppressed"],
                "held_activities": gov["held"],
                "owners": [_owner_json(o) for o in gov["owners"]],
                "owner_warnings": owner_warnings(gov["owners"]),
            }
        )
        _exit_if_broker_down(settings, st.broker_error)
        return
    # first, as the console's Overview says it (a kill switch on next_best_action is listed below)
    out.print(f"Policy in use: {policy} {version} (versions: hub model list)", highlight=False, markup=False)
    t = table(
        "connector",
        "type",
        "enabled",
        "last sync (UTC)",
        "status",
        "records",
        "pending",
        "failed",
        "done",
        "API use",
        title="Connectors (sync cursors: hub status --json)",
    )
    for c in st.connectors:
        last = utc_time(c.last_sync, seconds=True) if c.last_sync else "never"
        state = c.sync_summary
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
        )
    if st.connectors:
        out.print(t)
        for c in st.connectors:  # the table clips; what went wrong, and what to do (said last), in full
            if c.last_error:
                style = "yellow" if c.last_status in ("warning", "interrupted") else "red"
                out.print(f"{c.name}: {c.last_error}", style=style, markup=False, highlight=False)
            if c.retrying:
                said = f"{c.name}: {counted(c.retrying, 'push', 'pushes')} retrying; newest error: {c.push_error}"
                out.print(f"{said} (hub pushes list --state pending)", style="yellow", markup=False, highlight=False)
    elif not st.sources:
        say("No connectors configured (hub.yaml connectors:).")
    _sources(st.sources)
    if st.broker_error:
        out.print(f"[yellow]{st.broker_error}[/]")
    else:
        q = table("queue", "depth", "taken, not finished", title="Queues")
        for name, depth in (st.queues or {}).items():
            q.add_row(name, str(depth), str((st.taken or {}).get(name, 0)))
        out.print(q)
        out.print(TAKEN_NOTE.format(timeout=settings.celery.visibility_timeout), highlight=False, markup=False)
        if settings.api.embedded:  # as the console's Queues page says it
            out.print("Embedded mode: `hub serve` decides inline and syncs in-process; workers are not asked.")
        else:
            out.print(f"Workers alive: {len(st.workers or [])} {', '.join(st.workers or [])}")
            if not st.workers:
                hint = DEMO_ENDED + DEMO_READ if demo_ended(settings) else NO_WORKERS
                out.print(hint.format(c=config_flag(config)))
            elif st.queues_without_workers:
                out.print(
                    NO_CONSUMER.format(
                        q=",".join(st.queues_without_workers),
                        q_spaced=", ".join(st.queues_without_workers),
                        c=config_flag(config),
                    )
                )
    _governance_status(gov)
    _exit_if_broker_down(settings, st.broker_error)


def _exit_if_broker_down(settings: Settings, broker_error: str | None) -> None:
    """Exit 1 once everything is printed when the workers' broker does not answer (README: the
    store or broker unreachable is a failure); an embedded hub asks no broker for its work."""
    if broker_error and not settings.api.embedded:
        raise typer.Exit(1)


def _sources(sources: list) -> None:
    """Imported and other non-connector sources: what a hub fed by files holds."""
    if not sources:
        return
    t = table("source", "people", "events", "people last written (UTC)", title="Other sources (imports, Segment, API)")
    for s in sources:
        t.add_row(s.source, f"{s.records:,}", f"{s.events:,}", utc_time(s.last))
    out.print(t)


def _governance(settings: Settings, store) -> dict:  # noqa: ANN001
    """Kill switches, open alerts, approvals waiting and who is kept out: what a person must look at."""
    from hub.governance import approvals, killswitch
    from hub.governance.alerts import last_run, list_alerts
    from hub.models import utcnow
    from hub.pipeline.owner_status import owner_statuses
    from hub.store import held as held_store
    from hub.store import suppressions as suppression_store

    with store.connect() as conn:
        return {
            "switches": killswitch.states(conn, settings.governance),
            "alerts": list_alerts(conn, "open", 20),
            "waiting": approvals.counts(conn).get("awaiting", 0),
            "monitored": last_run(conn),
            "suppressed": suppression_store.counts(conn)["people"],
            "held": held_store.count(conn),  # synced activities waiting for their contact
            "owners": owner_statuses(settings, conn, utcnow()),  # who routing skips, and why
        }


def _governance_status(gov: dict) -> None:
    from hub.cli.governance import alert_table, switch_table
    from hub.pipeline.owner_status import owner_warnings

    if any(s.on for s in gov["switches"].values()):
        out.print(switch_table(gov["switches"]))
    when = f"{utc_time(gov['monitored'])} UTC" if gov["monitored"] else "never"
    if gov["alerts"]:
        out.print(alert_table(gov["alerts"], title=f"Open alerts (last monitoring run: {when})"))
    else:
        out.print(f"No open alerts (last monitoring run: {when}).")
    waiting, suppressed = gov["waiting"], gov["suppressed"]
    out.print(f"Approvals waiting: {waiting}" + (" (hub approvals list)" if waiting else ""))
    out.print(f"Suppressed (forgotten) people: {suppressed}" + (" (hub forget --list)" if suppressed else ""))
    if gov["held"]:  # in --json always; here when there is something to say
        from hub.store.held import HOLD_DAYS

        out.print(
            f"Activities held for a contact not synced yet: {gov['held']} (stored when it syncs;"
            f" dropped with a warning after {HOLD_DAYS} days)"
        )
    for line in owner_warnings(gov["owners"]):
        out.print(line, style="yellow", markup=False, highlight=False)  # ids are the config's, not markup


def _alert_json(a) -> dict:  # noqa: ANN001 - hub.governance.alerts.Alert
    from hub.cli.governance import alert_json

    return alert_json(a)


def _owner_json(o: OwnerStatus) -> dict:
    return {
        "id": o.id,
        "active_in_config": o.configured_active,
        "max_open_leads": o.max_open_leads,
        "max_new_per_day": o.max_new_per_day,
        "open_leads": o.open_leads,
        "assigned_today": o.assigned_today,
        "crm": o.crm,
        "crm_view": o.crm_view,
        "eligible": o.eligible,
    }
