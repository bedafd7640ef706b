"""Rows for `hub connectors list`: installed plugins, their load errors, configured instances."""

from __future__ import annotations

from hub.config import Settings
from hub.plugins import build_plugin_manager
from hub.reports.numbers import counted, utc_time


def connector_rows(settings: Settings | None, run_check: bool = False) -> list[tuple[str, ...]]:
    plugins = build_plugin_manager(settings.plugins if settings else [])
    rows: list[tuple[str, ...]] = []
    for info in plugins.plugins:
        rows.append((info.name, ", ".join(info.types) or "-", info.source, "", "", info.error or ""))
    if settings is None:
        return rows
    if run_check:  # each enabled connector's check, stored (hub/connector_health.py)
        from hub.connector_health import run_checks
        from hub.pipeline.context import HubContext

        ctx = HubContext.build(settings, embedded=True)
        try:
            run_checks(ctx)
        finally:
            ctx.close()
    from hub.store import Store
    from hub.store.queries import last_checks

    store = Store(settings.store_url)
    with store.connect() as conn:
        checks = last_checks(conn)
    store.dispose()
    for name, entry in settings.connectors.items():
        chk = checks.get(name)
        when = "never"
        problem = ""
        if chk:
            when = f"{'ok' if chk['ok'] else 'FAILED'} {utc_time(chk['checked_at'])}"
            problem = "; ".join(chk["report"].get("problems", []))
        rows.append((f"  {name}", entry.type, "hub.yaml", "yes" if entry.enabled else "no", when, problem))
    return rows


def check_exit_code(settings: Settings | None, console) -> int:  # noqa: ANN001 - a rich Console
    """After `hub connectors list --check`: name every problem of a failed check, one a line,
    and return the exit code: 0 all enabled connectors pass, 1 one fails, 2 no config."""
    if settings is None:
        console.print("[red]No hub.yaml, so no connector to check.[/] Next: [bold]hub init[/].")
        return 2
    from rich.markup import escape

    from hub.store import Store
    from hub.store.queries import last_checks

    store = Store(settings.store_url)
    with store.connect() as conn:
        checks = last_checks(conn)
    store.dispose()
    failed = 0
    said: list[str] = []
    for name in settings.enabled_connectors():
        chk = checks.get(name)
        if chk and chk["ok"]:
            continue
        failed += 1
        problems = chk["report"].get("problems", []) if chk else ["never checked"]
        for p in problems or ["check failed"]:
            console.print(f"[red]{name}[/]: {escape(p)}")
            said.append(p)
    if failed:
        # setup only helps with what the hub writes; a login, a source table or a host it cannot mend
        setup = any("connectors setup" in p for p in said)
        nxt = "[bold]hub connectors setup[/] for missing fields" if setup else "fix what each line above names"
        console.print(f"{counted(failed, 'connector')} failed {'its' if failed == 1 else 'their'} check. Next: {nxt}.")
    return 1 if failed else 0
