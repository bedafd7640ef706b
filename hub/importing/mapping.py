"""The column mapping of ``hub import``: ``--map`` / ``--mapping`` and the file's header to
:class:`hub.rows.ContactColumns` / :class:`hub.rows.EventColumns`, checked before any row is read.

Columns named like hub fields map by themselves; every column the mapping does not use becomes
a property unless ``properties`` lists them. A mapped column the file lacks, or a key that is not
a hub field, is a :class:`MappingError` naming it with the nearest names (a usage error: exit 2).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hub.errors import HubError
from hub.models import ActivityType
from hub.rows import CONTACT_FIELDS, ContactColumns, EventColumns, default_fields, missing_columns

CONTACT_KEYS = ("email", "id", "updated_at", *CONTACT_FIELDS)
EVENT_KEYS = ("contact", "type", "occurred_at", "id", "channel", "properties_json")


class MappingError(HubError):
    """The mapping names a column the file lacks or a field the hub lacks, or the file cannot be
    opened as a table at all: a usage error, found before anything is imported."""


@dataclass
class ImportOptions:
    mapping: dict[str, str] = field(default_factory=dict)  # hub field -> column
    source: str = "import"
    properties: list[str] | None = None  # None: every column the mapping does not use
    contact_key: str = "email"  # events: what the contact column holds (email or id)
    contact_source: str | None = None  # events: the connector whose ids it holds; default source
    type_map: dict[str, str] = field(default_factory=dict)
    event_type: str | None = None  # events: every row's type, for a file of one kind without a type column
    chunk_rows: int = 5_000
    #: contacts: (connector, column): a row joins the person holding that connector's id
    match: tuple[str, str] | None = None


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
    if opts.match:
        _check_columns({"--match-id": opts.match[1]}, header, file)
    email = m.pop("email", None) or _by_name(header, "email")
    ident = m.pop("id", None)
    if email is None and ident is None and opts.match:
        ident = opts.match[1]  # keyed by the CRM id it joins
    if email is None and ident is None:
        raise MappingError(
            f"{file} has no 'email' column: map one (--map email=COLUMN) or give --id-col COLUMN; "
            f"columns: {', '.join(header)}"
        )
    updated = m.pop("updated_at", None) or _by_name(header, "updated_at")
    taken = {c for c in (email, ident, updated, opts.match and opts.match[1]) if c} | set(m.values())
    fields = {**default_fields(header, taken), **m}
    used = taken | set(fields.values())
    return ContactColumns(
        email=email, id=ident, updated_at=updated, fields=fields, properties=_properties(header, used, opts, file)
    )


def event_columns_for(header: list[str], opts: ImportOptions, file: str) -> EventColumns:
    m = dict(opts.mapping)
    _check_keys(m, EVENT_KEYS, "events")
    _check_columns(m, header, file)
    named = _by_name(header, "email" if opts.contact_key == "email" else "contact_id")
    contact = m.get("contact") or named or _by_name(header, "contact")
    occurred = m.get("occurred_at") or _by_name(header, "occurred_at") or _by_name(header, "timestamp")
    kind = m.get("type") or _by_name(header, "type")
    if kind is not None and opts.event_type is not None:
        raise MappingError(
            f"{file}: its type column {kind!r} and --type {opts.event_type!r} both name the event type: "
            "keep one (--type is for a file of one kind of event without a type column)"
        )
    for key, col in (("contact", contact), ("occurred_at", occurred)):
        if col is None:
            raise MappingError(f"{file}: map the {key} column (--map {key}=COLUMN); columns: {', '.join(header)}")
    if kind is None and opts.event_type is None:
        raise MappingError(
            f"{file}: map the type column (--map type=COLUMN), or name the type of every row with --type NAME "
            f"(a file of one kind of event, e.g. --type purchase); columns: {', '.join(header)}"
        )
    ident = m.get("id") or _by_name(header, "id")
    cols = EventColumns(
        contact=contact,
        occurred_at=occurred,
        type=kind,
        type_value=opts.event_type,
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


def needed_columns(cols: ContactColumns | EventColumns) -> list[str]:
    if isinstance(cols, ContactColumns):
        names = [cols.email, cols.id, cols.updated_at, *cols.fields.values(), *cols.properties]
    else:
        names = [cols.contact, cols.occurred_at, cols.type, cols.id, cols.channel, cols.properties_json]
        names += cols.properties
    return list(dict.fromkeys(n for n in names if n))
