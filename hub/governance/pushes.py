"""Failed pushes grouped by cause, and retries a person starts (audited).

A new CRM portal that lacks the hub's fields fails every push with the same error, differing
only in record ids or e-mails; grouping by the error with those parts normalized away turns
thousands of rows into a handful of causes, each retried with one action.

>>> normalize_error("PROPERTY_DOESNT_EXIST: contact 84213 (a@b.com) has no hub_nba")
'PROPERTY_DOESNT_EXIST: contact <n> (<email>) has no hub_nba'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from hub.governance import audit
from hub.reports.numbers import counted
from hub.store import console_views
from hub.store import pushes as push_store

# Whole tokens only, as Sentry's message parameterization folds them (getsentry/rfcs text/0104):
# digits inside a word are part of a name (sqlite3, hub_score_v2, utf8, test_a0) and stay.
_PATTERNS = (
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w:])"),
        "<time>",
    ),
    # Python's temporary names: "tmp" and 8 of [a-z0-9_] (CPython Lib/tempfile.py, _RandomNameSequence)
    (re.compile(r"\btmp[a-z0-9_]{8}\b"), "<tmp>"),
    # Salesforce record ids: 15 or 18 letters and digits, at least one digit
    (re.compile(r"\b(?=[A-Za-z]*\d)[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?\b"), "<id>"),
    # hex: 0x-prefixed, or an id of 8+ lower-case hex digits with a letter and a digit (request ids, hashes)
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}\b"), "<hex>"),
    (
        re.compile(r"(?<![\w.])\d+(?:\.\d+)*(?!\w)"),
        lambda m: m.group() if _STATUS.search(m.string, 0, m.start()) else "<n>",
    ),
)
#: what an HTTP status code (or the protocol's version) follows: kept, it is the cause ("HTTP 429")
_STATUS = re.compile(r"(?:\bHTTP(?:/[\d.]+)?|\bstatus(?: code)?)[ :=/]*$", re.I)
MAX_ERROR = 300


#: a URL's scheme, host and port: where the CRM is (base_url, the login domain), the same for every
#: record of a cause and what the user must check, so kept as written; the path after it may hold ids
_ORIGIN = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s()\"'<>;,]+)", re.I)


def normalize_error(text: str | None) -> str:
    """The error with record ids, e-mails, uuids and numbers replaced, whitespace collapsed; a
    URL's scheme, host and port are kept (``http://127.0.0.1:18432``)."""
    if not text:
        return "(no error text)"
    parts = _ORIGIN.split(" ".join(text.split()))
    for i in range(0, len(parts), 2):  # the odd parts are origins
        for pattern, token in _PATTERNS:
            parts[i] = pattern.sub(token, parts[i])
    return "".join(parts)[:MAX_ERROR]


@dataclass
class FailureGroup:
    """Failed pushes of one connector and kind with the same normalized error."""

    key: str
    connector: str
    kind: str
    error: str
    count: int
    newest_at: datetime
    sample_error: str | None
    errors: list[str | None] = field(default_factory=list)


def _key(connector: str, kind: str, error: str) -> str:
    return hashlib.sha1(f"{connector}\x00{kind}\x00{error}".encode()).hexdigest()[:16]


def failure_groups(conn: Connection) -> list[FailureGroup]:
    """Largest group first."""
    groups: dict[str, FailureGroup] = {}
    for r in console_views.failed_by_error(conn):
        err = normalize_error(r.last_error)
        key = _key(r.connector, r.kind, err)
        g = groups.get(key)
        if g is None:
            g = groups[key] = FailureGroup(key, r.connector, r.kind, err, 0, r.newest_at, r.last_error)
        g.count += r.count
        g.newest_at = max(g.newest_at, r.newest_at)
        g.errors.append(r.last_error)
    return sorted(groups.values(), key=lambda g: (-g.count, g.connector, g.kind, g.error))


def group(conn: Connection, key: str) -> FailureGroup | None:
    return next((g for g in failure_groups(conn) if g.key == key), None)


def retry(conn: Connection, ids: Sequence[int], by: str, now: datetime, why: str) -> int:
    """Queue failed pushes again (due now); audited with who and how many."""
    ids = list(ids)
    n = push_store.retry_failed(conn, ids, now) if ids else 0
    if n:
        audit.record(
            conn,
            now,
            by,
            "push_retry",
            counted(n, "failed push", "failed pushes"),
            why,
            {"push_ids": ids[:100], "count": n},
        )
    return n


def retry_group(conn: Connection, key: str, by: str, now: datetime) -> tuple[FailureGroup | None, int]:
    """Retry every failed push of the group ``key`` (as listed now)."""
    g = group(conn, key)
    if g is None:
        return None, 0
    ids = console_views.failed_ids(conn, g.connector, g.kind, g.errors)
    return g, retry(conn, ids, by, now, f"retry all {g.connector} {g.kind}: {g.error}")
