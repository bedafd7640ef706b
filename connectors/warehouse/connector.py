"""The warehouse connector: contacts and events from tables or queries; decisions back into a table."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, ClassVar

from sqlalchemy import inspect

from connectors.warehouse.actions import COLUMNS, decisions_table, read_state, write_decisions
from connectors.warehouse.client import WarehouseClient, split_name
from connectors.warehouse.config import ContactSource, EventSource, WarehouseSettings
from connectors.warehouse.mapping import (
    activities_from_rows,
    contact_columns,
    contacts_from_rows,
    crm_state,
    event_columns,
    required_contact_columns,
    required_event_columns,
)
from connectors.warehouse.objects import Bookmark, KeysetReader
from hub.connector import Connector, Runtime
from hub.errors import ConnectorError, FatalConnectorError
from hub.models import (
    Activity,
    CheckReport,
    Contact,
    Page,
    PushRequest,
    PushResult,
    RecordError,
    SchemaItem,
    SchemaReport,
)

log = logging.getLogger(__name__)


class WarehouseConnector(Connector):
    type_name = "warehouse"
    settings_model = WarehouseSettings
    max_push_batch: ClassVar[int] = 500

    def __init__(
        self, name: str, settings: WarehouseSettings, field_mapping: dict[str, str], runtime: Runtime | None = None
    ):
        super().__init__(name, settings, field_mapping, runtime)
        self.s = settings
        self.client = WarehouseClient(name, settings)
        self._decisions_ready = False

    # -- sources -----------------------------------------------------------------------------
    def _reader(self, key: str, src: ContactSource | EventSource, cursor_column: str) -> KeysetReader:
        source = self.client.source(key, src.table, src.query)
        missing = self._missing(source, self._required(src))
        if missing:
            raise FatalConnectorError(f"{self.name}: {src.label} {missing[0]}")
        text_cursor = self.client.engine.dialect.name == "sqlite"
        return KeysetReader(source, cursor_column, src.id_column, src.page_size, src.lookback_seconds, text_cursor)

    @staticmethod
    def _required(src: ContactSource | EventSource) -> dict[str, str]:
        return required_contact_columns(src) if isinstance(src, ContactSource) else required_event_columns(src)

    def _missing(self, source: Any, need: dict[str, str]) -> list[str]:
        have = list(source.c.keys())
        return [
            f"has no column {col!r} (settings {key}); its columns: {', '.join(have)}"
            for key, col in need.items()
            if col not in have
        ]

    def _run(self, what: str):
        def run(query: Any) -> list[dict[str, Any]]:
            with self.client.connect(what) as conn:
                return [dict(r._mapping) for r in conn.execute(query)]

        return run

    # -- health and schema -------------------------------------------------------------------
    def check(self) -> CheckReport:
        report = CheckReport(ok=True)
        sources: list[tuple[str, ContactSource | EventSource, str]] = [
            ("contacts", self.s.contacts, self.s.contacts.updated_at_column)
        ]
        if self.s.events is not None:
            sources.append(("events", self.s.events, self.s.events.cursor))
        try:
            with self.client.connect("connecting") as conn:
                report.details["dialect"] = conn.dialect.name
            for key, src, cursor_column in sources:
                source = self.client.source(key, src.table, src.query)
                missing = self._missing(source, self._required(src))
                if missing:
                    report.ok = False
                    report.problems += [f"{key}: {src.label} {m}" for m in missing]
                    continue
                reader = KeysetReader(source, cursor_column, src.id_column, 1, 0)
                with self.client.connect(f"counting rows of the {key} source") as conn:
                    unstamped = conn.execute(reader.count_unstamped()).scalar_one()
                if unstamped:
                    report.problems.append(
                        f"{key}: {unstamped} rows of {src.label} have no {cursor_column!r} and are never read; "
                        "give them a value"
                    )
            if self.s.decisions_table:
                report.problems += self._decisions_problems()
        except ConnectorError as exc:
            report.ok = False
            report.problems.append(str(exc))
        return report

    def _decisions_problems(self) -> list[str]:
        name = self.s.decisions_table or ""
        lacking = self._lacking_columns(name)
        if lacking is None:
            return [f"decisions table {name!r} does not exist yet; the first push creates it"]
        return [f"decisions table {name!r} lacks columns {', '.join(lacking)}"] if lacking else []

    def _lacking_columns(self, name: str) -> list[str] | None:
        """The decision columns table ``name`` lacks; None when there is no such table."""
        if not self.client.table_exists(name):
            return None
        schema, table = split_name(name)
        with self.client.connect(f"reading decisions table {name!r}") as conn:
            have = {c["name"] for c in inspect(conn).get_columns(table, schema=schema)}
        return [c for c in COLUMNS if c not in have]

    def schema_plan(self) -> list[SchemaItem]:
        """The decisions table, if one is configured: missing (setup creates it), ok, or lacking columns."""
        name = self.s.decisions_table
        if not name:
            return []
        item = SchemaItem(kind="table", name=name, spec=", ".join(COLUMNS), state="ok")
        lacking = self._lacking_columns(name)
        if lacking is None:
            item.state, item.note = "missing", "create the table"
        elif lacking:
            item.state, item.fixable = "incomplete", False
            item.note = f"add columns {', '.join(lacking)} (or name a new decisions_table)"
        return [item]

    def ensure_schema(self) -> SchemaReport:
        report = SchemaReport()
        name = self.s.decisions_table
        if not name:
            return report
        if self.client.table_exists(name):
            report.existing.append(name)
            report.problems += self._decisions_problems()
            return report
        with self.client.connect(f"creating decisions table {name!r}") as conn:
            decisions_table(name).create(conn, checkfirst=True)
            conn.commit()
        report.created.append(name)
        return report

    # -- reading -----------------------------------------------------------------------------
    def pull_contacts(self, cursor: str | None) -> Iterator[Page[Contact]]:
        src = self.s.contacts
        reader = self._reader("contacts", src, src.updated_at_column)
        cols = contact_columns(src, list(reader.source.c.keys()))
        mark = reader.start(cursor)
        orphans = self._orphans(reader, mark, "contacts", src.id_column)
        if orphans:
            yield Page[Contact](cursor=cursor, rejects=orphans)
        for rows, nxt in reader.pages(self._run("reading contacts"), mark):
            items, rejects = contacts_from_rows(self.name, rows, cols)
            self._with_decisions(items)
            yield Page[Contact](items=items, rejects=rejects, cursor=nxt.dump())

    def _orphans(self, reader: KeysetReader, mark: Bookmark, what: str, id_column: str) -> list[RecordError]:
        rows = self._run(f"reading {what} without an id")(reader.orphans_query(mark))
        return [
            RecordError(
                external_id=f"(no id; {reader.cursor_column}={r[reader.cursor_column]})",
                reason=f"{id_column}: no id, so the row cannot be stored; give it one",
            )
            for r in rows
        ]

    def _with_decisions(self, items: list[Contact]) -> None:
        """Report what the decisions table holds as the record's hub fields, lists and owner."""
        if not self.s.decisions_table or not items:
            return
        if not self._decisions_ready:
            if not self.client.table_exists(self.s.decisions_table):
                return  # nothing written yet: the first push creates it
            self._decisions_ready = True
        ids = [c.identities[0].external_id for c in items]
        state = crm_state(read_state(self.client, self.s.decisions_table, ids))
        for c in items:
            fields, lists, owner = state.get(c.identities[0].external_id, ({}, [], None))
            c.crm_fields, c.lists = fields, lists
            if owner is not None:
                c.owner = owner

    def pull_activities(self, cursor: str | None) -> Iterator[Page[Activity]]:
        src = self.s.events
        if src is None:
            return
        reader = self._reader("events", src, src.cursor)
        cols = event_columns(src)
        mark = reader.start(cursor)
        orphans = self._orphans(reader, mark, "events", src.id_column)
        if orphans:
            yield Page[Activity](cursor=cursor, rejects=orphans)
        for rows, nxt in reader.pages(self._run("reading events"), mark):
            items, rejects = activities_from_rows(self.name, rows, cols)
            yield Page[Activity](items=items, rejects=rejects, cursor=nxt.dump())

    # -- writing -----------------------------------------------------------------------------
    def push(self, requests: list[PushRequest]) -> list[PushResult]:
        if not self.s.decisions_table:
            reason = f"{self.name} has no decisions_table: set one, or `receives: []` so no actions are sent to it"
            return [PushResult(push_id=r.push_id, status="failed", reason=reason) for r in requests]
        if not self._decisions_ready:
            report = self.ensure_schema()  # created on first use, like a CRM list
            if report.problems:
                return [PushResult(push_id=r.push_id, status="failed", reason=report.problems[0]) for r in requests]
            self._decisions_ready = True
        return write_decisions(self.client, self.s.decisions_table, requests)

    def close(self) -> None:
        self.client.close()
