"""`hub pushes list|retry`: the push queue."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from hub.cli.common import ConfigOpt, JsonOpt, err, load_config, out, print_json, say, table
from hub.reports.numbers import counted

pushes_app = typer.Typer(help="Inspect and retry the push queue.", no_args_is_help=True)


PUSH_STATES = (
    "pending",
    "sending",
    "done",
    "skipped",
    "superseded",
    "failed",
    "awaiting_approval",
    "rejected",
    "withheld",
    "all",
)


@pushes_app.command("list")
def pushes_list(
    config: ConfigOpt = None,
    state: Annotated[str, typer.Option(help=f"One of {', '.join(PUSH_STATES)}.")] = "failed",
    limit: Annotated[int, typer.Option(min=1)] = 50,
    json_: JsonOpt = False,
) -> None:
    """Pushes by state (default: failed), newest first, with their last error."""
    from hub.store import Store
    from hub.store.pushes import list_pushes, none_listed

    if state not in PUSH_STATES:
        raise typer.BadParameter(
            f"{state!r} is not a push state; use one of {', '.join(PUSH_STATES)}.", param_hint="--state"
        )
    store = Store(load_config(config).store_url)
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
        say(none_listed(None if state == "all" else state))
        return
    t = table("id", "connector", "record", "kind", "state", "attempts", "last error", title=f"Pushes ({state})")
    for r in rows:
        # a vendor's reason as written: "allowed options: [email, ...]" is no style tag
        t.add_row(str(r.id), r.connector, r.external_id, r.kind, r.state, str(r.attempts), Text(r.last_error or ""))
    out.print(t)
    if len(rows) == limit:
        say(f"The newest {limit:,} shown; there may be more: --limit N, or --json for scripts.")


@pushes_app.command("retry")
def pushes_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Push ids; every failed push if omitted.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Queue failed pushes again."""
    from hub.models import utcnow
    from hub.store import Store
    from hub.store.pushes import not_retryable, retry_failed

    store = Store(load_config(config).store_url)
    with store.begin() as conn:
        skipped = not_retryable(conn, ids) if ids else {}
        n = retry_failed(conn, ids or None, utcnow())
    store.dispose()
    for push_id, why in skipped.items():
        err.print(f"{push_id}: {why}; nothing to retry (hub pushes list --state all).", markup=False)
    if n:
        out.print(
            f"{counted(n, 'push', 'pushes')} queued again: the next scheduled push sends them (hub beat), or [bold]hub push[/] now."
        )
    elif not ids:
        say("No failed pushes to retry.")
    if ids and not n:
        raise typer.Exit(1)
