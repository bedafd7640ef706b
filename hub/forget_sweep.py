"""After `hub forget` deletes a person's rows: sweep every other table for what still names them.

The person's own rows (contact, emails, identities, activities, decisions, pushes, outcomes,
approvals) are deleted by hub/forget.py. What else can hold them is free text and JSON
written for other reasons: audit-log notes, alert and kill-switch reasons, connector check
and usage reports, sync cursors, events held under an address (or an alias of it). Every
string and JSON column of every other table is searched for the person's traces:

* their email addresses, and aliases of them (``name+tag@domain`` for ``name@domain``);
* their CRM record ids (5 characters or more: shorter ids match too much to mean them);
* their full name, and first and last name alone when 4 characters or more (whole words).

A held event or held activity (hub/store/held.py) that names them is deleted. A sync cursor that names them is reset (that
stream's next sync reads from the start; forgotten people are skipped by suppression). Any
other match is redacted in place to ``[forgotten]``: the row (an audit entry, say) is kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Connection, String, Text, and_, cast, delete, func, or_, select, update

from hub.models import normalize_email
from hub.store.schema import (
    anonymous_events,
    contact_emails,
    contacts,
    held_activities,
    identities,
    metadata,
    sync_state,
)

REDACTED = "[forgotten]"
#: tables of the person's own rows (deleted by forget) or of other people's, and hashes/binaries
_SKIP = {
    "contacts",
    "contact_emails",
    "identities",
    "activities",
    "decisions",
    "pushes",
    "outcomes",
    "decision_features",
    "contact_profiles",
    "suppressions",
    "model_snapshots",
    "console_sessions",
    "alembic_version",
}
MIN_ID, MIN_NAME = 5, 4


@dataclass
class Traces:
    emails: set[str] = field(default_factory=set)
    record_ids: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)

    def empty(self) -> bool:
        return not (self.emails or self.record_ids or self.names)


def traces_of(conn: Connection, email: str | None, contact_id: int | None) -> Traces:
    """What names the person, read before their rows are deleted."""
    t = Traces()
    if (norm := normalize_email(email)) is not None:
        t.emails.add(norm)
    if contact_id is None:
        return t
    t.emails |= set(
        conn.execute(select(contact_emails.c.email).where(contact_emails.c.contact_id == contact_id)).scalars()
    )
    rows = conn.execute(select(identities.c.external_id).where(identities.c.contact_id == contact_id)).scalars()
    t.record_ids |= {r for r in rows if len(r) >= MIN_ID}
    person = conn.execute(
        select(contacts.c.first_name, contacts.c.last_name).where(contacts.c.id == contact_id)
    ).first()
    if person is not None:
        first, last = (person.first_name or "").strip(), (person.last_name or "").strip()
        if first and last:
            t.names.add(f"{first} {last}")
        t.names |= {n for n in (first, last) if len(n) >= MIN_NAME}
    return t


def _pattern(t: Traces) -> re.Pattern[str]:
    parts = []
    for e in sorted(t.emails):
        local, _, domain = e.partition("@")
        parts.append(rf"(?<![\w.+%-]){re.escape(local)}(?:\+[^@\s\"']*)?@{re.escape(domain)}")
    parts += [re.escape(r) for r in sorted(t.record_ids, key=len, reverse=True)]
    parts += [rf"\b{re.escape(n)}\b" for n in sorted(t.names, key=len, reverse=True)]
    return re.compile("|".join(parts), re.IGNORECASE)


def _candidates(col: Any, t: Traces) -> Any:
    """A cheap SQL pre-filter (substring match); the regex decides. lower() folds non-ASCII
    capitals on SQLite too: the store's connections replace SQLite's own (hub/store/db.py)."""
    text = func.lower(cast(col, Text))
    conds = []
    for e in t.emails:
        local, _, domain = e.partition("@")
        conds.append(and_(text.contains(local, autoescape=True), text.contains("@" + domain, autoescape=True)))
    for needle in [*t.record_ids, *t.names]:
        low = needle.lower()
        conds.append(text.contains(low, autoescape=True))
        escaped = json.dumps(low)[1:-1]  # JSON columns store non-ASCII escaped
        if escaped != low:
            conds.append(text.contains(escaped, autoescape=True))
    return or_(*conds)


def _redact(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, dict):
        return {_redact(k, pattern): _redact(v, pattern) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, pattern) for v in value]
    return value


def _mentions(value: Any, pattern: re.Pattern[str]) -> bool:
    return _redact(value, pattern) != value


def sweep(conn: Connection, t: Traces) -> dict[str, int]:
    """Delete, reset or redact every remaining trace; returns rows changed per table."""
    if t.empty():
        return {}
    pattern = _pattern(t)
    changed: dict[str, int] = {}
    for table in metadata.sorted_tables:
        if table.name in _SKIP:
            continue
        cols = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
        pk = list(table.primary_key.columns)
        if not cols or not pk:
            continue
        rows = conn.execute(select(table).where(or_(*[_candidates(c, t) for c in cols]))).all()
        for row in rows:
            key = and_(*[c == row._mapping[c.name] for c in pk])
            values = {c.name: row._mapping[c.name] for c in cols}
            hits = {n: v for n, v in values.items() if v is not None and _mentions(v, pattern)}
            if not hits:
                continue
            changed[table.name] = changed.get(table.name, 0) + 1
            if table is anonymous_events or table is held_activities:  # held for them: theirs
                conn.execute(delete(table).where(key))
                continue
            new = {n: _redact(v, pattern) for n, v in hits.items()}
            if table is sync_state and "cursor" in hits:
                new["cursor"] = None
            conn.execute(update(table).where(key).values(**new))
    return changed
