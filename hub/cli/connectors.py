"""Rows for `hub connectors list`: installed plugins, their load errors, configured instances."""

from __future__ import annotations

from hub.config import Settings
from hub.errors import HubError
from hub.models import CheckReport
from hub.plugins import build_plugin_manager


def run_checks(settings: Settings) -> dict[str, CheckReport]:
    """Run every enabled connector's check and store the reports."""
    from hub.pipeline.context import HubContext
    from hub.store.queries import save_check

    ctx = HubContext.build(settings, embedded=True)
    reports = {}
    for name in settings.enabled_connectors():
        try:
            report = ctx.connector(name).check()
        except HubError as exc:
            report = CheckReport(ok=False, problems=[str(exc)])
        reports[name] = report
        with ctx.store.begin() as conn:
            save_check(conn, name, report)
    ctx.close()
    return reports


def connector_rows(settings: Settings | None, run_check: bool = False) -> list[tuple[str, ...]]:
    plugins = build_plugin_manager(settings.plugins if settings else [])
    rows: list[tuple[str, ...]] = []
    for info in plugins.plugins:
        rows.append((info.name, ", ".join(info.types) or "-", info.source, "", "", info.error or ""))
    if settings is None:
        return rows
    if run_check:
        run_checks(settings)
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
            when = f"{'ok' if chk['ok'] else 'FAILED'} {chk['checked_at']:%Y-%m-%d %H:%M}"
            problem = "; ".join(chk["report"].get("problems", []))
        rows.append((f"  {name}", entry.type, "hub.yaml", "yes" if entry.enabled else "no", when, problem))
    return rows
