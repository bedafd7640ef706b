"""`hub approvals`, `hub killswitch`, `hub alerts`, `hub audit`: the governance commands.

Like hub/cli/main.py these only parse arguments and call hub/governance; mounted from there.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hub.cli.common import ConfigOpt, JsonOpt, out, print_json, say, table
from hub.config import load_settings
from hub.reports.numbers import counted, utc_time

approvals_app = typer.Typer(help="Pushes held for a person's approval.", no_args_is_help=True)
killswitch_app = typer.Typer(help="Send a use case back to the legacy behaviour at once.", no_args_is_help=True)
alerts_app = typer.Typer(help="Monitoring alerts: list, acknowledge, run now.", no_args_is_help=True)

ByOpt = Annotated[str, typer.Option("--by", help="Who does this (recorded in the audit log).")]
NoteOpt = Annotated[str | None, typer.Option("--note", help="Why (recorded in the audit log).")]


def _ctx(config: Path | None):
    from hub.pipeline.context import HubContext

    return HubContext.build(load_settings(config), embedded=True)


@approvals_app.command("list")
def approvals_list(
    config: ConfigOpt = None,
    state: Annotated[str, typer.Option(help="awaiting, approved, rejected, expired or all.")] = "awaiting",
    limit: Annotated[int, typer.Option(min=1)] = 100,
    json_: JsonOpt = False,
) -> None:
    """Held pushes awaiting a decision (expired ones are expired first)."""
    from hub.governance import approvals

    _check_state(state, APPROVAL_STATES)
    ctx = _ctx(config)
    try:
        with ctx.store.begin() as conn:
            approvals.expire_due(conn, ctx.clock())
            rows = approvals.list_approvals(conn, None if state == "all" else state, limit)
    finally:
        ctx.close()
    if json_:
        print_json([dataclasses.asdict(a) for a in rows])
        return
    if not rows:
        say(approvals.none_listed(None if state == "all" else state))
        return
    t = table(
        "id", "contact", "action", "write", "state", "expires (UTC)", "by", "note", title="Approvals", wrap=("write",)
    )
    for a in rows:
        t.add_row(
            str(a.id),
            a.email or str(a.contact_id),
            a.action or "-",
            a.summary(),  # as the console's Approvals page lists it; --json has the whole payload
            a.state,
            utc_time(a.expires_at),
            a.decided_by or "",
            (a.note or "")[:40],
        )
    out.print(t)
    if len(rows) == limit:  # `hub status` counts them all; say this list is not all
        say(f"The first {limit:,} shown; there may be more: --limit N, or --json for scripts.")


APPROVAL_STATES = ("awaiting", "approved", "rejected", "expired", "all")
ALERT_STATES = ("open", "acknowledged", "cleared", "all")


def _check_state(state: str, valid: tuple[str, ...]) -> None:
    if state not in valid:
        raise typer.BadParameter(f"{state!r} is not one of {', '.join(valid)}.", param_hint="--state")


def _decide(approval_id: int, verdict: str, by: str, note: str | None, config: Path | None) -> None:
    from hub.governance import approvals

    ctx = _ctx(config)
    try:
        with ctx.store.begin() as conn:
            a = approvals.decide(conn, approval_id, verdict, by, note, ctx.clock())  # type: ignore[arg-type]
    finally:
        ctx.close()
    if a.state == "expired":
        out.print(f"[red]Approval {a.id} expired at {utc_time(a.expires_at)} UTC[/]; its push is never sent.")
        raise typer.Exit(1)
    if a.state != "approved":
        out.print(f"Approval {a.id} {a.state} by {a.decided_by}: push {a.push_id} ({a.kind}). It will never be sent.")
        return
    from hub.cli.pipeline import who_pushes

    said = f"Approval {a.id} approved by {a.decided_by}: push {a.push_id} ({a.kind})."
    say(f"{said} {who_pushes(ctx.settings, {a.connector})}")


@approvals_app.command("approve")
def approvals_approve(approval_id: int, by: ByOpt, note: NoteOpt = None, config: ConfigOpt = None) -> None:
    """Approve a held push: it is sent by the next push run."""
    _decide(approval_id, "approve", by, note, config)


@approvals_app.command("reject")
def approvals_reject(approval_id: int, by: ByOpt, note: NoteOpt = None, config: ConfigOpt = None) -> None:
    """Reject a held push (a --note saying why is required): it is never sent."""
    _decide(approval_id, "reject", by, note, config)


def _flip(use_case: str, on: bool, by: str, note: str | None, config: Path | None) -> None:
    from hub.governance import killswitch
    from hub.governance.settings import USE_CASES

    if use_case not in USE_CASES:  # a usage error, as an unknown --state is
        raise typer.BadParameter(f"{use_case!r} is not one of {', '.join(USE_CASES)}", param_hint="USE_CASE")
    ctx = _ctx(config)
    with ctx.store.begin() as conn:
        changed = killswitch.flip(conn, use_case, on, by, note, ctx.clock())
        st = killswitch.states(conn, ctx.settings.governance)[use_case]
    ctx.close()
    word = "on" if on else "off"
    msg = f"Kill switch {use_case} {word}." if changed else f"Kill switch {use_case} was already {word}."
    if not on and st.configured:
        msg += " It stays on: hub.yaml governance.kill_switches turns it on."
    out.print(msg)


@killswitch_app.command("on")
def killswitch_on(use_case: str, by: ByOpt, note: NoteOpt = None, config: ConfigOpt = None) -> None:
    """USE_CASE (next_best_action, routing, scoring) falls back to the legacy behaviour from the next batch."""
    _flip(use_case, True, by, note, config)


@killswitch_app.command("off")
def killswitch_off(use_case: str, by: ByOpt, note: NoteOpt = None, config: ConfigOpt = None) -> None:
    """USE_CASE goes back to the engine."""
    _flip(use_case, False, by, note, config)


@killswitch_app.command("list")
def killswitch_list(config: ConfigOpt = None, json_: JsonOpt = False) -> None:
    """Every use case's switch: effective state, config, stored flag, who and why."""
    from hub.governance import killswitch

    ctx = _ctx(config)
    try:
        with ctx.store.connect() as conn:
            states = killswitch.states(conn, ctx.settings.governance)
    finally:
        ctx.close()
    if json_:
        print_json([dataclasses.asdict(s) for s in states.values()])
        return
    out.print(switch_table(states))


def switch_table(states) -> Table:  # noqa: ANN001
    t = table("use case", "state", "hub.yaml", "stored", "by", "why", title="Kill switches")
    for s in states.values():
        t.add_row(
            s.use_case,
            "[red]ON (legacy)[/]" if s.on else "off",
            "on" if s.configured else "-",
            f"on ({s.source})" if s.stored else "-",
            s.by or "",
            (s.reason or "")[:60],
        )
    return t


def alert_json(a) -> dict:  # noqa: ANN001 - hub.governance.alerts.StoredAlert
    return dataclasses.asdict(a)


def alert_table(rows, title: str = "Alerts") -> Table:  # noqa: ANN001
    t = table(
        "id",
        "severity",
        "kind",
        "subject",
        "message",
        "switched off",
        "raised (UTC)",
        "state",
        title=title,
        wrap=("message",),
    )
    for a in rows:
        t.add_row(
            str(a.id),
            a.severity,
            a.kind,
            a.subject,
            a.message[:70],
            ", ".join(a.use_cases) or "-",
            utc_time(a.raised_at),
            f"{a.state} (by {a.acked_by})" if a.state == "acknowledged" and a.acked_by else a.state,
        )
    return t


@alerts_app.command("list")
def alerts_list(
    config: ConfigOpt = None,
    state: Annotated[str, typer.Option(help="open, acknowledged, cleared or all.")] = "open",
    limit: Annotated[int, typer.Option(min=1)] = 100,
    json_: JsonOpt = False,
) -> None:
    """Stored monitoring alerts, newest first."""
    from hub.governance.alerts import list_alerts, none_listed

    _check_state(state, ALERT_STATES)
    ctx = _ctx(config)
    try:
        with ctx.store.connect() as conn:
            rows = list_alerts(conn, None if state == "all" else state, limit)
    finally:
        ctx.close()
    if json_:
        print_json([alert_json(a) for a in rows])
        return
    if not rows:
        say(none_listed(None if state == "all" else state))
        return
    out.print(alert_table(rows))


@alerts_app.command("ack")
def alerts_ack(alert_id: int, by: ByOpt, note: NoteOpt = None, config: ConfigOpt = None) -> None:
    """Acknowledge an alert; kill switches it turned on go off once no open alert holds them."""
    from hub.governance.alerts import acknowledge

    ctx = _ctx(config)
    try:
        with ctx.store.begin() as conn:
            released = acknowledge(conn, alert_id, by, note, ctx.clock())
    finally:
        ctx.close()
    tail = f" Kill switch off again: {', '.join(released)}." if released else ""
    out.print(f"Alert {alert_id} acknowledged by {by}.{tail}")


@alerts_app.command("run")
def alerts_run(config: ConfigOpt = None) -> None:
    """Run monitoring now (it also runs on the learn schedule every governance.alerts.interval)."""
    from hub.governance.alerts import monitor_step

    ctx = _ctx(config)
    rep = monitor_step(ctx, force=True)
    ctx.close()
    if rep.error:
        out.print(f"[red]Monitoring failed:[/] {rep.error}")
        raise typer.Exit(1)
    switched = f"; kill switch on: {', '.join(rep.switched)}" if rep.switched else ""
    out.print(f"{counted(rep.raised, 'new alert')}, {rep.refreshed} still open{switched}.")


def audit_command(
    config: ConfigOpt = None,
    limit: int = 100,
    action: Annotated[str | None, typer.Option(help="Only this action (approve, reject, kill_switch_on...).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Every governance action, newest first: who, when, what, why."""
    from hub.governance import audit

    ctx = _ctx(config)
    with ctx.store.connect() as conn:
        rows = audit.entries(conn, limit, action)
    ctx.close()
    if json_:
        print_json([dataclasses.asdict(e) for e in rows])
        return
    if not rows:
        say(audit.none_listed(action))
        return
    t = table("id", "when (UTC)", "who", "action", "subject", "why", title="Audit log", wrap=("why",))
    for e in rows:
        t.add_row(str(e.id), utc_time(e.at, seconds=True), e.actor, e.action, e.subject, e.reason or "")
    out.print(t)
