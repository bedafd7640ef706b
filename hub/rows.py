"""Table rows to hub models: the column mapping shared by ``hub import`` and table-shaped
connectors (the warehouse connector).

A row is a ``{column: value}`` dict as a database driver or pyarrow hands it over. A
:class:`ContactColumns` / :class:`EventColumns` says which column feeds which hub field;
:func:`contact_from_row` and :func:`activity_from_row` raise ``ValueError`` naming the
column and the bad value, so a caller can reject that one row and go on.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from hub.models import Activity, ActivityType, Company, Consent, Contact, Identity, normalize_email

#: hub field path -> column names that map to it by themselves (first match wins)
CONTACT_FIELDS: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name", "firstname"),
    "last_name": ("last_name", "lastname"),
    "job_title": ("job_title", "title"),
    "role": ("role",),
    "lifecycle_stage": ("lifecycle_stage", "lifecyclestage", "stage"),
    "owner": ("owner",),
    "company.name": ("company.name", "company_name", "company"),
    "company.industry": ("company.industry", "industry"),
    "company.employees": ("company.employees", "employees"),
    "company.annual_revenue": ("company.annual_revenue", "annual_revenue"),
    "company.country": ("company.country", "country"),
    "company.timezone": ("company.timezone", "timezone"),
    "consent.email_opt_out": ("consent.email_opt_out", "email_opt_out"),
    "consent.do_not_contact": ("consent.do_not_contact", "do_not_contact"),
}
_NUMBERS = {"company.employees": "int", "company.annual_revenue": "float"}
_FLAGS = {"consent.email_opt_out", "consent.do_not_contact"}
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0", ""}
#: where an activity happened when the row does not say
DEFAULT_CHANNEL = {
    "email_sent": "email",
    "email_open": "email",
    "email_click": "email",
    "email_bounce": "email",
    "unsubscribe": "email",
    "page_view": "web",
    "form_submit": "web",
    "content_download": "web",
    "webinar": "web",
    "meeting": "sales",
    "call": "sales",
    "opportunity_created": "sales",
    "opportunity_won": "sales",
    "opportunity_lost": "sales",
}


def default_fields(columns: Iterable[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """Hub field path -> column, for columns named like hub fields (case-insensitive)."""
    by_lower = {c.lower(): c for c in columns}
    used = {c.lower() for c in taken}
    out: dict[str, str] = {}
    for path, names in CONTACT_FIELDS.items():
        for n in names:
            if n in by_lower and n not in used:
                out[path] = by_lower[n]
                used.add(n)
                break
    return out


def missing_columns(wanted: dict[str, str], columns: Iterable[str]) -> list[str]:
    """One sentence per mapped column the table lacks, with the nearest real column names."""
    cols = list(columns)
    problems = []
    for key, col in wanted.items():
        if col in cols:
            continue
        near = difflib.get_close_matches(col, cols, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else f"; columns: {', '.join(cols)}"
        problems.append(f"{key}: no column {col!r}{hint}")
    return problems


# -- values -------------------------------------------------------------------------------
#: epoch seconds (9-10 digits, 1973-2286) or milliseconds (12-13 digits) written as text
_EPOCH = re.compile(r"([0-9]{9,10}|[0-9]{12,13})(\.[0-9]+)?")


def parse_time(value: Any, column: str) -> datetime:
    """A UTC datetime from a datetime, date, epoch seconds (or ms) or ISO text; naive is UTC
    (UTC always: SQLite keeps a datetime's wall time and drops its offset)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        f = float(value)
        if math.isfinite(f):
            try:
                return datetime.fromtimestamp(f / 1000 if abs(f) > 1e11 else f, UTC)
            except (OverflowError, OSError, ValueError):
                pass
        raise ValueError(f"{column}: {value!r} is not a time")
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            ts = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            if _EPOCH.fullmatch(text):  # a CSV's epoch stamp: the number Parquet would have given
                return parse_time(float(text), column)
            raise ValueError(f"{column}: {text[:60]!r} is not a date or time (use ISO 8601)") from None
        return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    raise ValueError(f"{column}: {'no value' if value in (None, '') else repr(value)[:60]} is not a time")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float | Decimal):
        if not math.isfinite(value):
            return None
        if value == int(value):
            return str(int(value))  # an id 5 read as 5.0 (NUMERIC, float columns) is still "5"
    text = value if isinstance(value, str) else str(json_safe(value))
    return text.strip() or None


def _number(value: Any, kind: str, column: str) -> int | float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{column}: {str(value)[:60]!r} is not a number") from None
    if math.isnan(f):  # a float column's missing value
        return None
    if not math.isfinite(f):  # "inf", "1e400": stored as no value at all, it was lost without a word
        raise ValueError(f"{column}: {str(value)[:60]!r} is not a finite number")
    if kind == "int" and f != int(f):  # "1.234" is a thousand and more in much of Europe, not 1
        raise ValueError(f"{column}: {str(value)[:60]!r} is not a whole number")
    return int(f) if kind == "int" else f


_PLAIN_NUMBER = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]+)?")


_BOOLEAN_TEXT = {"true": True, "false": False}


def _typed(value: Any) -> Any:
    """A property cell read as text (a CSV's) as the number or boolean it spells, so a declared
    outcome's ``properties['amount'] / 1000`` computes and a rule's ``properties['ltv'] > 50``
    or ``properties['vip']`` means what it says; only plain decimals and true / false (any case):
    "00123" (a code, a ZIP), "1,234" and "yes" stay text."""
    if not isinstance(value, str):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return float(value) if "." in value else int(value)
    return _BOOLEAN_TEXT.get(value.lower(), value)


def _flag(value: Any, column: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float):
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"{column}: {str(value)[:60]!r} is not true or false")


def json_safe(value: Any) -> Any:
    """A value JSON can hold: decimals as numbers, times as ISO text, non-finite floats as None."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float | Decimal):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return str(value)


# -- contacts -----------------------------------------------------------------------------
@dataclass
class ContactColumns:
    """Which column feeds what. Without ``id`` the normalized email is the record's id."""

    email: str | None = None
    id: str | None = None
    updated_at: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # hub field path -> column
    properties: list[str] = field(default_factory=list)


def row_key(row: dict[str, Any], cols: ContactColumns) -> str:
    """The record id a row is stored under; ValueError for a row without one."""
    if cols.id:
        raw = row.get(cols.id)
        key = _text(raw)
        if key is None:
            raise ValueError(f"{cols.id}: no id")
        return key
    email = _email(row, cols)
    if email is None:
        raise ValueError(f"{cols.email}: no email")
    return email


def _email(row: dict[str, Any], cols: ContactColumns) -> str | None:
    """The row's normalized email, None for a blank; ValueError for text that is not one, so a
    row keyed by id is rejected for it as a row keyed by email is, not stored without it."""
    raw = _text(row.get(cols.email or ""))
    email = normalize_email(raw)
    if raw is not None and email is None:
        raise ValueError(f"{cols.email}: {raw[:60]!r} is not an email")
    return email


def _field(path: str, raw: Any, column: str) -> Any:
    """One hub field's cell, parsed; ValueError naming the column."""
    if path in _FLAGS:
        return _flag(raw, column)
    if path in _NUMBERS:
        return _number(raw, _NUMBERS[path], column)
    return _text(raw)


def contact_from_row(row: dict[str, Any], cols: ContactColumns, connector: str) -> Contact:
    """One row as a contact with one identity in ``connector``. Raises ValueError (column, why)."""
    key = row_key(row, cols)
    values: dict[str, Any] = {}
    bad: list[str] = []  # every bad cell of the row, so one fix of the file is enough
    for path, column in cols.fields.items():
        if path not in CONTACT_FIELDS:
            raise ValueError(f"{path!r} is not a hub contact field ({', '.join(CONTACT_FIELDS)})")
        try:
            values[path] = _field(path, row.get(column), column)
        except ValueError as exc:
            bad.append(str(exc))
    updated = None
    if cols.updated_at and row.get(cols.updated_at) not in (None, ""):
        try:
            updated = parse_time(row[cols.updated_at], cols.updated_at)
        except ValueError as exc:
            bad.append(str(exc))
    if bad:
        raise ValueError("; ".join(bad))
    email = _text(row.get(cols.email)) if _email(row, cols) else None
    props = {c: _typed(json_safe(row[c])) for c in cols.properties if row.get(c) is not None}
    return Contact(
        identities=[Identity(connector=connector, external_id=key)],
        emails=[email] if email else [],
        first_name=values.get("first_name"),
        last_name=values.get("last_name"),
        job_title=values.get("job_title"),
        role=values.get("role"),
        lifecycle_stage=values.get("lifecycle_stage"),
        owner=values.get("owner"),
        company=Company(
            name=values.get("company.name"),
            industry=values.get("company.industry"),
            employees=values.get("company.employees"),
            annual_revenue=values.get("company.annual_revenue"),
            country=values.get("company.country"),
            timezone=values.get("company.timezone"),
        ),
        consent=Consent(
            email_opt_out=values.get("consent.email_opt_out", False),
            do_not_contact=values.get("consent.do_not_contact", False),
        ),
        properties={k: v for k, v in props.items() if v is not None},
        updated_at=updated,
    )


# -- events -------------------------------------------------------------------------------
@dataclass
class EventColumns:
    """Which column feeds what for activities. ``contact_key``: ``email`` or ``id`` (an
    external id in ``contact_connector``). Without ``id`` the event's id is a hash of what it
    says (:func:`content_key`), so the same event read twice, however its cells are written,
    is one activity."""

    contact: str
    occurred_at: str
    type: str | None = None
    type_value: str | None = None  # without a type column: every row's type (a file of one kind)
    id: str | None = None
    contact_key: str = "email"
    contact_connector: str | None = None
    channel: str | None = None
    properties: list[str] = field(default_factory=list)
    properties_json: str | None = None
    type_map: dict[str, str] = field(default_factory=dict)
    default_type: str = "custom"


def activity_type(raw: Any, cols: EventColumns) -> tuple[ActivityType, str | None]:
    """(hub type, the raw name when it had to become ``custom``). A hub type is read in any case
    and with spaces or hyphens for its underscores ("Opportunity Won", "page-view")."""
    text = _text(raw)
    if text is None:
        return ActivityType(cols.default_type), None
    mapped = re.sub(r"[\s-]+", "_", cols.type_map.get(text, text).strip().lower())
    try:
        return ActivityType(mapped), None
    except ValueError:
        return ActivityType.CUSTOM, text


def event_id(row: dict[str, Any], cols: EventColumns) -> str | None:
    """The event's id column's value; None without an id column (the id is then
    :func:`content_key`'s, from the parsed event)."""
    if not cols.id:
        return None
    key = _text(row.get(cols.id))
    if key is None:
        raise ValueError(f"{cols.id}: no id")
    return key


def cells_key(row: dict[str, Any], cols: EventColumns) -> str:
    """The id a keyless event was stored under until December 2026: a hash of its cells as
    written (``row:``). A re-export that writes them otherwise ("10.00" for "10", ``T`` and
    ``Z`` in a stamp) got another, so the same event was stored twice; :func:`content_key`
    replaced it, and the importer still looks this one up, so events imported before are not
    imported again (they keep their ids)."""
    used = [cols.contact, cols.occurred_at, cols.type, cols.channel, cols.properties_json, *cols.properties]
    canon = json.dumps({c: json_safe(row.get(c)) for c in used if c}, sort_keys=True, default=str)
    return "row:" + hashlib.sha256(canon.encode()).hexdigest()[:32]


#: a property's text that is a date and time (the key reads it as the instant it names)
_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")


def _canonical(value: Any) -> Any:
    """A property value as the event's key reads it: text trimmed, a plain decimal as its
    number and a whole number as an integer (10, 10.0 and "10.00" are one amount), a date and
    time as its UTC instant (any offset, ``T`` or space), objects whatever their key order."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, str):
        text = value.strip()
        if _STAMP.match(text):
            try:
                return parse_time(text, "").isoformat()
            except ValueError:
                return text
        value = _typed(text)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def content_key(activity: Activity) -> str:
    """A keyless event's id (``ev:``): a hash of what it says, parsed, not of its cells as
    written: the contact (its normalized email, or the connector and id), the hub type, the
    channel, the time as a UTC instant and the properties (:func:`_canonical`). A re-export of
    the same event gets the same id; two events differing in any of these get two."""
    ref = activity.contact_ref
    who = ["email", activity.contact_email] if ref is None else ["id", ref.connector, ref.external_id]
    canon = json.dumps(
        [who, activity.type.value, activity.channel, activity.occurred_at.astimezone(UTC).isoformat()]
        + [_canonical(activity.properties)],
        sort_keys=True,
        default=str,
    )
    return "ev:" + hashlib.sha256(canon.encode()).hexdigest()[:32]


def activity_from_row(row: dict[str, Any], cols: EventColumns, source: str, connector: str) -> Activity:
    """One row as an activity of ``source``; ``connector`` owns ids when ``contact_key`` is id."""
    ext = event_id(row, cols)
    who = _text(row.get(cols.contact))
    if who is None:
        raise ValueError(f"{cols.contact}: no contact")
    ref, email = None, None
    if cols.contact_key == "id":
        ref = Identity(connector=cols.contact_connector or connector, external_id=who)
    else:
        email = normalize_email(who)
        if email is None:
            raise ValueError(f"{cols.contact}: {who[:60]!r} is not an email")
    kind, raw_type = activity_type(row.get(cols.type) if cols.type else cols.type_value, cols)
    props: dict[str, Any] = {}
    if cols.properties_json and row.get(cols.properties_json) not in (None, ""):
        blob = row[cols.properties_json]
        if isinstance(blob, str):
            try:
                blob = json.loads(blob)
            except ValueError:
                raise ValueError(f"{cols.properties_json}: not JSON") from None
        if not isinstance(blob, dict):
            raise ValueError(f"{cols.properties_json}: JSON is not an object")
        props.update(json_safe(blob))
    props.update({c: _typed(json_safe(row[c])) for c in cols.properties if row.get(c) is not None})
    if raw_type is not None:  # a custom event goes by its name, as from /v1/events and Segment's track
        props["name"] = raw_type
    channel = _text(row.get(cols.channel)) if cols.channel else None
    activity = Activity(
        contact_ref=ref,
        contact_email=email,
        type=kind,
        channel=channel or DEFAULT_CHANNEL.get(kind.value),
        occurred_at=parse_time(row.get(cols.occurred_at), cols.occurred_at),
        properties={k: v for k, v in props.items() if v is not None},
        source=source,
        external_id=ext or "",  # a keyless event's id is read from the parsed event, below
    )
    if ext is None:
        activity.external_id = content_key(activity)
    return activity
