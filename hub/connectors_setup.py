"""Create in each CRM what the hub writes, then verify (the logic of `hub connectors setup`, hub/cli/setup.py).

For each enabled connector (or NAME): read what the hub needs in the vendor's schema and its
state (``Connector.schema_plan``: HubSpot's property group and properties, Salesforce's custom
fields and their field-level security); with ``--dry-run`` show that and stop. Otherwise run
``ensure_schema`` (idempotent), read the schema back and report each item ok or not. Exit 0 only
when everything verifies, 1 when something is still missing (the table says what a person must
do), 2 for a bad config or an unknown connector name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.config import Settings
from hub.connector import Connector
from hub.errors import ConfigError, HubError
from hub.models import SchemaItem, SchemaReport
from hub.plugins import build_plugin_manager


@dataclass
class SetupResult:
    """One connector's setup: its schema before, what ensure_schema did, and its schema after."""

    name: str
    type: str
    before: list[SchemaItem] | None = None
    report: SchemaReport | None = None
    after: list[SchemaItem] | None = None
    error: str | None = None
    dry_run: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[SchemaItem] | None:
        return self.before if self.dry_run else self.after

    @property
    def ok(self) -> bool:
        """Verified: every item ok after setup (a dry run: nothing left to do)."""
        if self.error or self.problems:
            return False
        if self.items is None:  # a connector that cannot list its schema: its own report decides
            return self.report is not None and not self.report.problems
        return all(i.state == "ok" for i in self.items)

    def as_dict(self) -> dict:
        return {
            "connector": self.name,
            "type": self.type,
            "ok": self.ok,
            "dry_run": self.dry_run,
            "error": self.error,
            "items": [i.model_dump() for i in self.items] if self.items is not None else None,
            "created": self.report.created if self.report else [],
            "problems": self.problems,
        }


def _plan(conn: Connector) -> list[SchemaItem] | None:
    try:
        return conn.schema_plan()
    except HubError as exc:  # a refused login or token: one item that says so
        return [SchemaItem(kind="access", name=conn.name, state="missing", note=str(exc), fixable=False)]


def setup_connector(conn: Connector, dry_run: bool = False) -> SetupResult:
    """Plan, then (unless ``dry_run``) create and verify one connector's schema."""
    res = SetupResult(name=conn.name, type=conn.type_name, dry_run=dry_run)
    res.before = _plan(conn)
    if dry_run or any(i.kind == "access" for i in res.before or []):
        res.after = res.before
        return res
    try:
        res.report = conn.ensure_schema()
    except HubError as exc:
        res.error = str(exc)
        return res
    res.after = _plan(conn)
    if res.after is None:
        res.problems = list(res.report.problems)
        return res
    for item in res.after:  # what setup could not do: the connector's own reason, once
        why = next((p for p in res.report.problems if p.startswith((f"{item.name} ", f"{item.name}:"))), None)
        if item.state != "ok" and why:
            item.note, item.fixable = why, False
    return res


def run_setup(settings: Settings, name: str | None = None, dry_run: bool = False) -> list[SetupResult]:
    """Set up ``name`` (or every enabled connector). ConfigError for an unknown name."""
    if name is not None and name not in settings.connectors:
        known = ", ".join(sorted(settings.connectors)) or "none"
        raise ConfigError([(f"connectors.{name}", f"no such connector in the config (configured: {known})")])
    names = [name] if name else list(settings.enabled_connectors())
    plugins = build_plugin_manager(settings.plugins)
    results = []
    for n in names:
        conn = plugins.build(n, settings.connectors[n], None)
        try:
            results.append(setup_connector(conn, dry_run))
        finally:
            conn.close()
    return results
