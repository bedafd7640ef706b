"""Each enabled connector's health check, run now and stored: what `hub connectors list --check`
and the console's "Check connectors now" both do, so the Overview's Health column and the CLI
show the same last report."""

from __future__ import annotations

from hub.errors import HubError
from hub.models import CheckReport
from hub.pipeline.context import HubContext


def run_checks(ctx: HubContext) -> dict[str, CheckReport]:
    """Check every enabled connector (a call or two to each CRM) and save each report; a
    connector that cannot even be built or reached gets a failed report naming why."""
    from hub.store.queries import save_check

    reports = {}
    for name in ctx.settings.enabled_connectors():
        try:
            report = ctx.connector(name).check()
        except HubError as exc:
            report = CheckReport(ok=False, problems=[str(exc)])
        reports[name] = report
        with ctx.store.begin() as conn:
            save_check(conn, name, report, ctx.clock())  # the hub's time line, as syncs are stamped
    return reports


def summary(reports: dict[str, CheckReport]) -> str:
    """One line for a person: each connector ok or failing with its first problem."""
    if not reports:
        return "No connector is enabled: nothing to check."
    parts = [
        f"{name} ok" if r.ok else f"{name} failing ({r.problems[0] if r.problems else 'no reason given'})"
        for name, r in reports.items()
    ]
    return "Checked: " + "; ".join(parts) + "."
