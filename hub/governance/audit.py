"""The audit log: one row per governance action, who did it, when, what and why.

Written in the same transaction as the change it records, so the log never claims a change
that rolled back nor misses one that landed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from hub.store.contacts import aware
from hub.store.schema import audit_log

#: the actor of changes no person made (expiry, alert-driven kill switches)
SYSTEM = "system"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    reason: str | None
    details: dict[str, Any]


def record(
    conn: Connection,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        insert(audit_log).values(
            at=at, actor=actor, action=action, subject=subject, reason=reason, details=details or {}
        )
    )


def record_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(audit_log), [{"reason": None, "details": {}, **r} for r in rows])


def none_listed(action: str | None) -> str:
    """What `hub audit` and the console's Audit page say when no entry is listed (of ``action``)."""
    return "The audit log is empty." if action is None else f"No audit entries for action {action}."


def entries(
    conn: Connection, limit: int = 100, action: str | None = None, before_id: int | None = None
) -> list[AuditEntry]:
    """Newest first; ``before_id`` pages on (the entries older than that id)."""
    q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        q = q.where(audit_log.c.id < before_id)
    if action:
        q = q.where(audit_log.c.action == action)
    return [
        AuditEntry(r.id, aware(r.at), r.actor, r.action, r.subject, r.reason, r.details or {}) for r in conn.execute(q)
    ]
