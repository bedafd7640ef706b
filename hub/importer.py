"""``hub import``: contacts and events from a CSV or Parquet file into the store, chunk by chunk.

Rows become the same hub models a connector pulls (``hub/rows.py``) and go through the same
store functions, so an imported person resolves to the contact the CRMs already have (by the
``--source`` identity, else by normalized email) and an imported event is idempotent by
(source, id): importing a file twice changes nothing. Each chunk commits on its own; memory is
bounded by the chunk size, whatever the file's. Every cell is read as text and parsed here,
so one bad cell rejects its row (reported with its row number), not the file.

Imported contact records carry no ``updated_at`` unless mapped; the store merges identity
records newest last, so a CRM's values win over an undated import and the import fills gaps.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, select, tuple_

from hub.errors import DataError, HubError
from hub.models import Activity, ActivityType, Contact, utcnow
from hub.pipeline.sync import unsubscribes
from hub.rows import (
    CONTACT_FIELDS,
    ContactColumns,
    EventColumns,
    activity_from_row,
    contact_from_row,
    default_fields,
    missing_columns,
)
from hub.store import Store
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store.schema import activities, identities
from hub.tables import iter_table

CONTACT_KEYS = ("email", "id", "updated_at", *CONTACT_FIELDS)
EVENT_KEYS = ("contact", "type", "occurred_at", "id", "channel", "properties_json")
KEEP_PROBLEMS = 1000  # rows reported one by one; the rest are counted by reason

#: (rows done, bytes read, bytes in the file)
Progress = Callable[[int, int | None, int | None], None]


class MappingError(HubError):
    """The mapping names a column the file lacks or a field the hub lacks, or the file cannot be
    opened as a table at all: a usage error, found before anything is imported."""


class EmptyFileError(HubError):
    """The file has no rows: nothing to import."""


@dataclass
class ImportOptions:
    mapping: dict[str, str] = field(default_factory=dict)  # hub field -> column
    source: str = "import"
    properties: list[str] | None = None  # None: every column the mapping does not use
    contact_key: str = "email"  # events: what the contact column holds (email or id)
    contact_source: str | None = None  # events: the connector whose ids it holds; default source
    type_map: dict[str, str] = field(default_factory=dict)
    chunk_rows: int = 5_000


@dataclass
class RowProblem:
    row: int  # 1 = the first row after the header
    id: str | None
    reason: str


@dataclass
class ImportSummary:
    file: str
    kind: str
    source: str
    read: int = 0
    created: int = 0
    updated: int = 0
    matched: int = 0  # new records that resolved to a person the store already had
    unchanged: int = 0
    skipped: int = 0
    suppressed: int = 0
    chunks: int = 0
    reasons: Counter = field(default_factory=Counter)
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def reject(self, row: int, ident: str | None, reason: str) -> None:
        self.skipped += 1
        self.reasons[_category(reason)] += 1
        if len(self.problems) < KEEP_PROBLEMS:
            self.problems.append(RowProblem(row, ident, reason))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = dict(self.reasons)
        return data


def _category(reason: str) -> str:
    """ "email: 'x' is not an email" -> "email: … is not an email", to count rows by reason."""
    return re.sub(r"row \d+", "row N", re.sub(r"'[^']*'|\"[^\"]*\"", "…", reason))


# -- the mapping ----------------------------------------------------------------------------
def parse_map(text: str | None) -> dict[str, str]:
    """``first_name=fname,company.industry=sector`` -> dict."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, column = part.partition("=")
        if not sep or not key.strip() or not column.strip():
            raise MappingError(f"--map entry {part.strip()!r} is not hub_field=column")
        out[key.strip()] = column.strip()
    return out


def load_mapping_file(path: Path, opts: ImportOptions) -> None:
    """A YAML mapping of hub field -> column, plus optional ``properties`` (list) and ``type_map``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: cannot be read as YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: expected a mapping of hub field: column")
    props = raw.pop("properties", None)
    if props is not None:
        if not isinstance(props, list) or not all(isinstance(p, str) for p in props):
            raise MappingError(f"{path}: properties must be a list of column names")
        opts.properties = props
    type_map = raw.pop("type_map", None) or {}
    if not isinstance(type_map, dict):
        raise MappingError(f"{path}: type_map must map values to hub activity types")
    opts.type_map = {**{str(k): str(v) for k, v in type_map.items()}, **opts.type_map}
    bad = [k for k, v in raw.items() if not isinstance(v, str)]
    if bad:
        raise MappingError(f"{path}: {', '.join(map(str, bad))}: give a column name")
    opts.mapping = {**raw, **opts.mapping}  # --map wins over the file


def _check_keys(mapping: dict[str, str], known: tuple[str, ...], kind: str) -> None:
    import difflib

    for key in mapping:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=2, cutoff=0.5)
            hint = f"; did you mean {' or '.join(near)}?" if near else f"; known: {', '.join(known)}"
            raise MappingError(f"{key!r} is not a hub field for {kind}{hint}")


def _check_columns(wanted: dict[str, str], header: list[str], file: str) -> None:
    problems = missing_columns(wanted, header)
    if problems:
        raise MappingError(f"{file}: " + "; ".join(problems))


def _by_name(header: list[str], name: str) -> str | None:
    lowered = {h.lower(): h for h in header}
    return lowered.get(name)


def _properties(header: list[str], used: set[str], opts: ImportOptions, file: str) -> list[str]:
    if opts.properties is None:
        return [h for h in header if h not in used]
    _check_columns({f"properties[{i}]": c for i, c in enumerate(opts.properties)}, header, file)
    return list(opts.properties)


def contact_columns_for(header: list[str], opts: ImportOptions, file: str) -> ContactColumns:
    m = dict(opts.mapping)
    _check_keys(m, CONTACT_KEYS, "contacts")
    _check_columns(m, header, file)
    email = m.pop("email", None) or _by_name(header, "email")
    ident = m.pop("id", None)
    if email is None and ident is None:
        raise MappingError(
            f"{file} has no 'email' column: map one (--map email=COLUMN) or give --id-col COLUMN; "
            f"columns: {', '.join(header)}"
        )
    updated = m.pop("updated_at", None) or _by_name(header, "updated_at")
    taken = {c for c in (email, ident, updated) if c} | set(m.values())
    fields = {**default_fields(header, taken), **m}
    used = taken | set(fields.values())
    return ContactColumns(
        email=email, id=ident, updated_at=updated, fields=fields, properties=_properties(header, used, opts, file)
    )


def event_columns_for(header: list[str], opts: ImportOptions, file: str) -> EventColumns:
    m = dict(opts.mapping)
    _check_keys(m, EVENT_KEYS, "events")
    _check_columns(m, header, file)
    contact = m.get("contact") or _by_name(header, "email" if opts.contact_key == "email" else "contact_id")
    occurred = m.get("occurred_at") or _by_name(header, "occurred_at") or _by_name(header, "timestamp")
    kind = m.get("type") or _by_name(header, "type")
    for key, col in (("contact", contact), ("occurred_at", occurred), ("type", kind)):
        if col is None:
            raise MappingError(f"{file}: map the {key} column (--map {key}=COLUMN); columns: {', '.join(header)}")
    ident = m.get("id") or _by_name(header, "id")
    cols = EventColumns(
        contact=contact,
        occurred_at=occurred,
        type=kind,
        id=ident,
        contact_key=opts.contact_key,
        contact_connector=opts.contact_source or opts.source,
        channel=m.get("channel"),
        properties_json=m.get("properties_json"),
        type_map=dict(opts.type_map),
    )
    known = {t.value for t in ActivityType}
    bad = sorted({t for t in cols.type_map.values() if t not in known})
    if bad:
        raise MappingError(f"type_map: not hub activity types: {', '.join(bad)} (known: {', '.join(sorted(known))})")
    used = {c for c in (contact, occurred, kind, ident, cols.channel, cols.properties_json) if c}
    cols.properties = _properties(header, used, opts, file)
    return cols


# -- reading --------------------------------------------------------------------------------
@dataclass
class Chunk:
    first_row: int  # 0-based data row of rows[0]
    rows: list[dict[str, Any]]
    bytes_read: int | None
    bytes_total: int | None


def header(path: Path) -> list[str]:
    """The file's column names (reads its first rows only)."""
    try:
        chunks = iter_table(path, chunk_rows=1)
        try:
            return next(chunks).names
        finally:
            chunks.close()
    except DataError as exc:
        message = str(exc)
        if "but no rows" in message or "is empty" in message:
            raise EmptyFileError(message) from None
        raise MappingError(message) from None


def chunks(path: Path, columns: list[str], chunk_rows: int) -> Iterator[Chunk]:
    """Rows of ``columns`` as text (parsed per row later: a bad cell rejects its row only)."""
    types = dict.fromkeys(columns, "categorical")
    for table in iter_table(path, chunk_rows, columns, types=types):
        arrays = [table.column(c) for c in columns]
        rows = [dict(zip(columns, values, strict=True)) for values in zip(*arrays, strict=True)]
        yield Chunk(table.first_row, rows, table.bytes_read, table.bytes_total)


def _needed(cols: ContactColumns | EventColumns) -> list[str]:
    if isinstance(cols, ContactColumns):
        names = [cols.email, cols.id, cols.updated_at, *cols.fields.values(), *cols.properties]
    else:
        names = [cols.contact, cols.occurred_at, cols.type, cols.id, cols.channel, cols.properties_json]
        names += cols.properties
    return list(dict.fromkeys(n for n in names if n))


# -- contacts -------------------------------------------------------------------------------
def import_contacts(store: Store, path: Path, opts: ImportOptions, progress: Progress | None = None) -> ImportSummary:
    summary = ImportSummary(file=path.name, kind="contacts", source=opts.source)
    cols = contact_columns_for(header(path), opts, path.name)
    started = utcnow()  # every identity this run writes gets this synced_at: a repeat id is seen
    for chunk in chunks(path, _needed(cols), opts.chunk_rows):
        items: list[Contact] = []
        rows_of: dict[str, int] = {}
        for i, row in enumerate(chunk.rows):
            number = chunk.first_row + i + 1
            try:
                contact = contact_from_row(row, cols, opts.source)
            except ValueError as exc:
                summary.reject(number, _cell(row, cols.id or cols.email), str(exc))
                continue
            key = contact.identities[0].external_id
            if key in rows_of:
                summary.reject(number, key, f"duplicate id {key!r} (also row {rows_of[key]})")
                continue
            rows_of[key] = number
            items.append(contact)
        summary.read += len(chunk.rows)
        with store.begin() as conn:
            items, new = _not_repeated(conn, items, started, opts.source, rows_of, summary)
            _store_contacts(conn, items, new, started, rows_of, summary)
        summary.chunks += 1
        if progress:
            progress(summary.read, chunk.bytes_read, chunk.bytes_total)
    return summary


def _cell(row: dict[str, Any], column: str | None) -> str | None:
    value = row.get(column) if column else None
    return None if value is None else str(value)[:120]


def _not_repeated(
    conn: Connection,
    items: list[Contact],
    started: datetime,
    source: str,
    rows_of: dict[str, int],
    summary: ImportSummary,
) -> tuple[list[Contact], set[str]]:
    """Drop records whose id an earlier chunk of this file wrote (their synced_at is this run's
    start: no set of every id in memory); returns the rest and how many are new to the store."""
    keys = [c.identities[0].external_id for c in items]
    if not keys:
        return items, set()
    held = dict(
        conn.execute(
            select(identities.c.external_id, identities.c.synced_at).where(
                identities.c.connector == source, identities.c.external_id.in_(keys)
            )
        ).all()
    )
    repeated = {ext for ext, at in held.items() if contact_store.aware(at) == started}
    for key in sorted(repeated, key=rows_of.__getitem__):
        summary.reject(rows_of[key], key, f"duplicate id {key!r} (an earlier row has it too)")
    kept = [c for c in items if c.identities[0].external_id not in repeated]
    return kept, {c.identities[0].external_id for c in kept} - set(held)


def _store_contacts(
    conn: Connection,
    items: list[Contact],
    new: set[str],
    started: datetime,
    rows_of: dict[str, int],
    summary: ImportSummary,
) -> None:
    if not items:
        return
    up = contact_store.upsert_contacts(conn, items, now=started)
    stored_new = len(new - {r.external_id for r in up.rejects})
    matched = max(0, stored_new - up.created - up.suppressed)  # new records that found their person
    summary.created += up.created
    summary.matched += matched
    summary.updated += up.updated - matched
    summary.unchanged += up.unchanged
    summary.suppressed += up.suppressed
    for r in up.rejects:
        summary.reject(rows_of.get(r.external_id, 0), r.external_id, r.reason)
    if up.opted_out:  # an opt-out flag is an unsubscribe outcome, as in a sync
        activity_store.insert_activities(conn, unsubscribes(conn, up.opted_out))


# -- events ---------------------------------------------------------------------------------
def import_events(store: Store, path: Path, opts: ImportOptions, progress: Progress | None = None) -> ImportSummary:
    summary = ImportSummary(file=path.name, kind="events", source=opts.source)
    cols = event_columns_for(header(path), opts, path.name)
    first_new_id: int | None = None  # activities this run inserted have ids from here up
    for chunk in chunks(path, _needed(cols), opts.chunk_rows):
        items: list[Activity] = []
        rows_of: dict[str, int] = {}
        for i, row in enumerate(chunk.rows):
            number = chunk.first_row + i + 1
            try:
                activity = activity_from_row(row, cols, opts.source, opts.source)
            except ValueError as exc:
                summary.reject(number, _cell(row, cols.id), str(exc))
                continue
            if activity.external_id in rows_of:
                if cols.id:  # without an id column a repeat is the same event twice: one activity
                    summary.reject(
                        number, activity.external_id, f"duplicate id (also row {rows_of[activity.external_id]})"
                    )
                else:
                    summary.unchanged += 1
                continue
            rows_of[activity.external_id] = number
            items.append(activity)
        summary.read += len(chunk.rows)
        with store.begin() as conn:
            held = (
                dict(
                    conn.execute(
                        select(activities.c.external_id, activities.c.id).where(
                            tuple_(activities.c.source, activities.c.external_id).in_(
                                [(opts.source, a.external_id) for a in items]
                            )
                        )
                    ).all()
                )
                if items
                else {}
            )
            for ext, act_id in held.items():
                if cols.id and first_new_id is not None and act_id >= first_new_id:
                    summary.reject(rows_of[ext], ext, "duplicate id (an earlier row has it too)")
                else:
                    summary.unchanged += 1  # imported before: nothing to do
            result = activity_store.insert_activities(conn, [a for a in items if a.external_id not in held])
        if result.new_ids:
            low = min(result.new_ids)
            first_new_id = low if first_new_id is None else min(first_new_id, low)
        summary.created += result.inserted
        for r in result.rejects:
            summary.reject(rows_of.get(r.external_id, 0), r.external_id, f"{cols.contact}: {r.reason}")
        summary.chunks += 1
        if progress:
            progress(summary.read, chunk.bytes_read, chunk.bytes_total)
    return summary
