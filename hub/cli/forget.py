"""`hub forget`: remove a person and keep them out (hub/forget.py does the work)."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.common import ConfigOpt, err, open_context, out
from hub.reports.numbers import counted


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
    """Remove a person from the store and keep them out.

    Their contact, identities, emails, decisions, pushes, outcomes and activities go; their email
    and record ids are kept as one-way hashes that sync and events skip."""
    from hub.forget import forget as forget_person
    from hub.forget import suppression_counts
    from hub.forget import unsuppress as unsuppress_person

    if list_:
        if email or unsuppress or clear_crm:
            err.print("--list takes no email and no other option.", markup=False)
            raise typer.Exit(2)
        ctx = open_context(config)
        try:
            counts = suppression_counts(ctx)
        finally:
            ctx.close()
        out.print(
            f"Suppressed: {counted(counts['people'], 'person', 'people')} ({counted(counts['emails'], 'email hash', 'email hashes')}, "
            f"{counted(counts['record_ids'], 'CRM record id hash', 'CRM record id hashes')})",
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
        ctx = open_context(config)
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
    ctx = open_context(config)
    try:
        report = forget_person(ctx, email, clear_crm=clear_crm)
    finally:
        ctx.close()
    if not report.found:
        swept = f" Traces of the address removed or redacted: {_rows(report.swept)}." if report.swept else ""
        err.print(
            "No contact has that email address; nothing to delete. It is on the suppression list, "
            f"so no sync or event will bring it in.{swept}",
            markup=False,
        )
        raise typer.Exit(1)
    for name, states in sorted(report.cleared.items()):
        out.print(f"{name}: hub fields cleared ({_rows(states)})", markup=False, highlight=False)
    if report.waiting:
        for why in report.waiting:
            err.print(f"Not forgotten yet: {why}. Run the same command again later.", markup=False)
        raise typer.Exit(1)
    out.print(
        f"Forgotten contact {report.contact_id} ({email}): removed {_rows(report.deleted)}",
        markup=False,
        highlight=False,
    )
    if report.swept:
        out.print(f"Traces in other tables removed or redacted: {_rows(report.swept)}", markup=False, highlight=False)


def _rows(counts: dict[str, int]) -> str:
    """``{'contacts': 1, 'pushes': 0}`` as "contacts 1": the tables or states with any rows."""
    return ", ".join(f"{name} {n:,}" for name, n in counts.items() if n) or "nothing"
