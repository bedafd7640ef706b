"""Check a pulled record against what the store can hold, before it reaches the database.

Why: one hostile value (a 10 kB first name, a NUL byte, a lone surrogate) used to fail the
whole page's INSERT on PostgreSQL ("value too long", "cannot contain NUL"), so the page,
its cursor and every good record on it were rolled back and the sync stopped for good on
that page. Checking each record first lets the store reject just that record, naming the
record and the field, and store the rest of the page.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import String

from hub.models import Activity, Contact, normalize_email
from hub.store.schema import activities, contact_emails, contacts, identities


def _length(table: Any, column: str) -> int | None:
    col_type = table.c[column].type
    return col_type.length if isinstance(col_type, String) else None


#: Contact attribute path -> (table, column) it is stored in (hub/store/contacts.py::_merge)
_COLUMNS: dict[str, tuple[Any, str]] = {
    "first_name": (contacts, "first_name"),
    "last_name": (contacts, "last_name"),
    "company.name": (contacts, "company_name"),
    "company.industry": (contacts, "industry"),
    "company.country": (contacts, "country"),
    "company.timezone": (contacts, "timezone"),
    "job_title": (contacts, "job_title"),
    "role": (contacts, "role"),
    "lifecycle_stage": (contacts, "lifecycle_stage"),
    "owner": (identities, "owner"),
}
_IDENTITY = {"connector": "connector", "object_type": "object_type", "external_id": "external_id"}
_INT_RANGE = (-(2**31), 2**31 - 1)  # contacts.employees is a 32-bit INTEGER on PostgreSQL


def _get(contact: Contact, path: str) -> Any:
    value: Any = contact
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character, which the store cannot hold"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate, which is not valid UTF-8"
    return None


def _walk_text(value: Any, path: str) -> list[tuple[str, str]]:
    """Every value inside nested JSON (properties, fields) that the store cannot hold."""
    out: list[tuple[str, str]] = []
    if isinstance(value, float) and not math.isfinite(value):
        out.append((path, f"{value} is not a finite number; JSON cannot hold it"))
    elif isinstance(value, str):
        problem = _bad_text(value)
        if problem:
            out.append((path, problem))
    elif isinstance(value, dict):
        for k, v in value.items():
            out += _walk_text(str(k), f"{path} key") + _walk_text(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            out += _walk_text(v, f"{path}[{i}]")
    return out


def _text_problems(value: str, path: str, limit: int | None) -> list[tuple[str, str]]:
    problems = []
    if limit is not None and len(value) > limit:
        problems.append((path, f"is {len(value)} characters long; the store keeps at most {limit}"))
    problem = _bad_text(value)
    if problem:
        problems.append((path, problem))
    return problems


def activity_problems(activity: Activity) -> list[tuple[str, str]]:
    """(field, reason) for every value of ``activity`` the store cannot hold (as stored or as
    held for its contact, hub/store/held.py, whose columns are the same sizes); empty if fine."""
    problems: list[tuple[str, str]] = []
    for attr in ("source", "external_id", "channel"):
        value = getattr(activity, attr)
        if value is not None:
            problems += _text_problems(value, attr, _length(activities, attr))
    ref = activity.contact_ref
    if ref is not None:
        for attr, column in _IDENTITY.items():
            problems += _text_problems(getattr(ref, attr), f"contact_ref.{attr}", _length(identities, column))
    if activity.contact_email is not None:
        problems += _text_problems(activity.contact_email, "contact_email", None)
        normalized = normalize_email(activity.contact_email) or ""
        limit = _length(contact_emails, "email") or 320
        if len(normalized) > limit:
            problems.append(("contact_email", f"is {len(normalized)} characters long; at most {limit}"))
    return problems + _walk_text(activity.properties, "properties")


def contact_problems(contact: Contact) -> list[tuple[str, str]]:
    """(field, reason) for every value of ``contact`` the store cannot hold; empty if fine."""
    problems: list[tuple[str, str]] = []
    for path, (table, column) in _COLUMNS.items():
        value = _get(contact, path)
        if isinstance(value, str):
            problems += _text_problems(value, path, _length(table, column))
    for ident in contact.identities:
        for attr, column in _IDENTITY.items():
            problems += _text_problems(getattr(ident, attr), f"identity.{attr}", _length(identities, column))
    email_limit = _length(contact_emails, "email") or 320
    for i, email in enumerate(contact.emails):
        problem = _bad_text(email)
        if problem:
            problems.append((f"emails[{i}]", problem))
            continue
        normalized = normalize_email(email)
        if normalized and len(normalized) > email_limit:
            problems.append((f"emails[{i}]", f"is {len(normalized)} characters long; at most {email_limit}"))
    employees = contact.company.employees
    if employees is not None and not _INT_RANGE[0] <= employees <= _INT_RANGE[1]:
        problems.append(("company.employees", f"{employees} is out of range for a 32-bit count"))
    revenue = contact.company.annual_revenue
    if revenue is not None and not math.isfinite(revenue):
        problems.append(("company.annual_revenue", f"{revenue} is not a finite number"))
    problems += _walk_text(contact.properties, "properties")
    problems += _walk_text(contact.crm_fields, "crm_fields")
    problems += _walk_text(contact.lists or [], "lists")
    return problems
