"""`hub sync`, `hub decide`, `hub push`, `hub run --once`: the pipeline's steps, inline with progress.

`hub push` and `hub run` exit 1 when nothing was written and pushes failed, and print each
cause once with its count and what to do (not one line per record).
"""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.table import Table

from hub.cli.common import ConfigOpt, config_flag, err, fail, open_context, out, progress_bar, say, table
from hub.reports.numbers import counted


def _connector_names(ctx, name: str | None) -> list[str]:  # noqa: ANN001 - HubContext
    """``name`` if the config has it (else a usage error naming those it has), or every enabled one."""
    if name is None:
        return list(ctx.settings.enabled_connectors())
    if name not in ctx.settings.connectors:
        known = ", ".join(ctx.settings.connectors) or "none"
        raise typer.BadParameter(f"no connector {name!r} in the config (configured: {known})", param_hint="NAME")
    return [name]


def sync(
    name: Annotated[str | None, typer.Argument(help="Connector name; all enabled if omitted.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Pull changed contacts and activities now (inline, with progress)."""
    ctx = open_context(config)
    try:
        names = _connector_names(ctx, name)
        if not names:
            out.print("No connector is enabled, so there is nothing to sync: add one under connectors: in hub.yaml.")
            return
        t, warnings = _sync_all(ctx, names)
    finally:
        ctx.close()
    out.print(t)
    for line in warnings:  # a part the sync went on without (a missing scope), and what to do
        out.print(line, style="yellow", markup=False, highlight=False)


def _sync_all(ctx, names: list[str]) -> tuple[Table, list[str]]:  # noqa: ANN001 - HubContext
    """Sync each connector with a progress bar: the summary table and the warnings to print after it."""
    from hub.pipeline.sync import sync_connector

    t = table("connector", "pages", "records", "rejects", "added", "updated", "forgotten (not stored)")
    warnings: list[str] = []
    with progress_bar() as prog:
        for n in names:
            task = prog.add_task(f"sync {n}", total=None)
            res = sync_connector(ctx, n, progress=lambda stream, k, task=task: prog.advance(task, k))
            prog.update(task, total=res.records, completed=res.records)
            counts = (res.pages, res.records, res.rejects, res.created, res.updated, res.suppressed)
            t.add_row(n, *map(str, counts))
            warnings += [f"{n}: {w}" for w in res.warnings]
    t.caption = "added: new contacts; updated: contacts already stored whose record or activities changed"
    return t, warnings


def decide(
    config: ConfigOpt = None,
    contact: Annotated[
        list[str] | None,
        typer.Option(help="A contact's e-mail, CRM record id or contact id (repeatable); all if omitted."),
    ] = None,
) -> None:
    """Decide now for the given contacts (or every contact) and queue the pushes."""
    from hub.pipeline.decide import decide_contacts
    from hub.pipeline.run import chunks
    from hub.store.console_views import contacts_matching, unknown_contact
    from hub.store.queries import all_contact_ids

    ctx = open_context(config)
    with ctx.store.connect() as conn:
        found = {ref: contacts_matching(conn, ref) for ref in contact or []}
        ids = sorted({i for matched in found.values() for i in matched}) if contact else all_contact_ids(conn)
    # the known ones are decided all the same; the exit code says something asked for was not
    unknown = [ref for ref, matched in found.items() if not matched]
    for ref in unknown:
        err.print(unknown_contact(ref), markup=False, highlight=False, soft_wrap=True)
    if contact and not ids:
        ctx.close()
        raise fail("No contact given is known: nothing decided.")
    key = f"cli-{uuid.uuid4().hex[:12]}"
    decided = pushes = held = 0
    connectors: set[str] = set()
    with progress_bar() as prog:
        task = prog.add_task("decide", total=len(ids))
        for part in chunks(ids, ctx.settings.decision.chunk_size):
            r = decide_contacts(ctx, part, key)
            decided, pushes, held = decided + r.decided, pushes + r.pushes - r.held, held + r.held
            connectors |= r.connectors
            prog.advance(task, len(part))
    pushing = bool(ctx.settings.enabled_connectors())
    ctx.close()
    if not pushing:
        out.print(
            f"Decided for {counted(decided, 'contact')}; no connector is enabled to push to: [bold]hub decisions[/] shows them."
        )
    elif not pushes:
        out.print(f"Decided for {counted(decided, 'contact')}; no push queued.")
    else:
        queued = counted(pushes, "push", "pushes")
        say(f"Decided for {counted(decided, 'contact')}; {queued} queued. {who_pushes(ctx.settings, connectors)}")
    _say_held(held)
    if unknown:
        raise typer.Exit(1)


def _say_held(held: int) -> None:
    """Writes held for approval are sent by no one until a person approves them: say so."""
    if held:
        waits = "write waits" if held == 1 else "writes wait"
        say(f"{held} {waits} for approval: hub approvals list, then hub approvals approve ID --by NAME.")


def who_pushes(settings, connectors: set[str]) -> str:  # noqa: ANN001 - hub.config.Settings
    """The next step for pushes just queued (or approved), true for the mode the hub runs in
    (hub/handoff.py): with a live push worker, hands them over."""
    from hub.handoff import hand_over_pushes
    from tasks import configure

    h = hand_over_pushes(settings, configure(settings), connectors)
    if h.embedded:
        return "Next: hub push."
    if h.broker_error:
        return f"No worker will send them: {h.broker_error}. Next: hub push sends them from here."
    if h.here:
        return (
            "No worker takes the push queue: hub push sends them from here, "
            "or start hub worker --queues push and the workers send them."
        )
    return (
        f"Handed to the workers ({', '.join(h.workers)}): the workers send them; "
        "hub status or hub pushes list shows them go out."
    )


def push(
    name: Annotated[str | None, typer.Argument(help="Connector name; all enabled if omitted.")] = None,
    config: ConfigOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the writes it would make, without making them.")
    ] = False,
    samples: Annotated[int, typer.Option(min=0, help="With --dry-run: writes to show before -> after.")] = 5,
) -> None:
    """Send queued actions to the CRMs in batches (exit 1 when every push failed)."""
    from hub.pipeline.push import push_until_drained

    ctx = open_context(config)
    try:
        names = _connector_names(ctx, name)
        if dry_run:
            if not _dry_run(ctx, names, samples):
                raise typer.Exit(1)
            return
        totals = [push_until_drained(ctx, n) for n in names]
    finally:
        ctx.close()
    if not names:
        say(
            "No connector is enabled, so there is nothing to push: decisions on imported people are read with "
            "hub decisions (or the console); add a CRM under connectors: in hub.yaml to write them back."
        )
        return
    if not any(p.sent or p.done or p.noop or p.retrying or p.failed for p in totals):
        busy = [p.connector for p in totals if p.skipped_lock]
        if busy:  # another process holds the push lane: it sends them
            say(
                f"Nothing sent from here: another process (a push worker) is pushing to {', '.join(busy)} now "
                "and sends what is due (hub status shows the workers)."
            )
        else:
            say(
                "No push is due: nothing is queued (hub decide or hub run --once queues them), and pushes waiting "
                "to be retried keep their time (hub pushes list --state pending)."
            )
        return
    t = table("connector", "sent", "done", "no-op", "retrying", "failed")
    for p in totals:
        t.add_row(p.connector, *map(str, (p.sent, p.done, p.noop, p.retrying, p.failed)))
    out.print(t)
    if _push_problems(totals):
        raise typer.Exit(1)


def _dry_run(ctx, names: list[str], samples: int) -> bool:  # noqa: ANN001 - HubContext
    """Per connector: the writes by kind, a few of them before -> after, and the CRM schema check;
    False when a check failed (the writes would fail), so scripts see it in the exit code."""
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
        return False
    say(f"Schema check: {', '.join(names) or 'no connector'} ready for these writes.")
    return True


def _push_problems(totals) -> bool:  # noqa: ANN001 - list[PushSummary]
    """Print each failure cause once with its count, ids and numbers folded as the console's Queues
    page groups failed pushes; True when nothing was written and something failed."""
    from collections import Counter

    from hub.governance.pushes import normalize_error

    failures: Counter = Counter()
    deferred: Counter = Counter()
    written: dict[tuple[str, str], str] = {}  # a cause's reason as written: its hint reads codes such as 401
    for p in totals:
        for counts, reasons in ((failures, p.failures), (deferred, p.deferrals)):
            for reason, n in reasons.items():
                key = (p.connector, normalize_error(_short_reason(reason)))
                counts[key] += n
                written.setdefault(key, reason)
    for label, causes in (("failed", failures), ("will be retried", deferred)):
        total = sum(causes.values())
        if not total:
            continue
        err.print(f"{counted(total, 'push', 'pushes')} {label}:", markup=False, highlight=False)
        for (connector, cause), n in causes.most_common(10):
            hint = _push_hint(written[(connector, cause)])
            line = f"  {n:,} × {connector}: {cause}" + (f" — {hint}" if hint else "")
            err.print(line, markup=False, highlight=False, soft_wrap=True)
        if len(causes) > 10:
            more = counted(len(causes) - 10, "other cause")
            err.print(f"  ... and {more}: hub pushes list --state failed", markup=False)
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
    ctx = open_context(config)
    try:
        with progress_bar() as prog:
            task = prog.add_task("decide", total=None)
            # a CRM that does not answer stops nothing else, as under the workers: the others sync
            # and push, everyone is decided, and its pushes wait in its queue (said below, exit 1)
            report = run_once(ctx, on_step=lambda step, i, n: prog.update(task, completed=i, total=n), keep_going=True)
        policy = f"{ctx.policy.name} {ctx.policy.version}"
    finally:
        ctx.close()
    if report.syncs:
        t = table("connector", "synced", "rejects", "pushed", "no-op", "retrying", "failed", title="hub run --once")
        for s, p in zip(report.syncs, report.pushes, strict=True):
            t.add_row(
                s.connector,
                f"{s.records} (failed)" if s.error else str(s.records),
                str(s.rejects),
                str(p.done),
                str(p.noop),
                str(p.retrying),
                str(p.failed),
            )
        out.print(t)
    else:
        say(
            "No connector is enabled, so nothing was synced or pushed (what hub import brought in is decided "
            "all the same): add one under connectors: in hub.yaml to sync a CRM and write decisions back."
        )
    say(
        f"Decided for {counted(report.decide.decided, 'contact')} with policy {policy}; "
        f"{counted(report.outcomes, 'outcome')} attributed."
    )
    _say_held(report.decide.held)
    if report.learn.learned or report.learn.finalized:
        out.print(f"Learned from {counted(report.learn.learned, 'decision')}; model version {report.learn.version}.")
    gov = report.governance
    if gov.expired or gov.monitor.raised or gov.monitor.switched:
        switched = f"; kill switch on: {', '.join(gov.monitor.switched)}" if gov.monitor.switched else ""
        expired, raised = counted(gov.expired, "approval"), counted(gov.monitor.raised, "new alert")
        out.print(f"{expired} expired; {raised}{switched} (hub status).")
    failed_syncs = [r for r in report.syncs if r.error]
    c = config_flag(config)
    for r in failed_syncs:
        err.print(f"{r.connector}'s sync failed: {r.error}", style="red", markup=False, highlight=False, soft_wrap=True)
        err.print(
            f"The rest of the pass went on without it; what it synced before was decided and its writes wait in "
            f"its queue. Run hub run --once{c} again once {r.connector} answers, or set "
            f"connectors.{r.connector}.enabled: false in hub.yaml to run without it.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if _push_problems(report.pushes) or failed_syncs:
        raise typer.Exit(1)
