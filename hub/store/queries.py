"""Small read queries shared by the CLI, status and API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from hub.models import CheckReport, utcnow
from hub.store.contacts import aware
from hub.store.decisions import from_batches
from hub.store.schema import connector_checks, contacts, decisions


def all_contact_ids(conn: Connection) -> list[int]:
    return list(conn.execute(select(contacts.c.id).order_by(contacts.c.id)).scalars())


def save_check(conn: Connection, connector: str, report: CheckReport, at: datetime | None = None) -> None:
    """Keep ``report`` as the connector's last check, stamped ``at`` (the hub's clock; now)."""
    conn.execute(connector_checks.delete().where(connector_checks.c.connector == connector))
    conn.execute(
        connector_checks.insert().values(
            connector=connector, ok=report.ok, report=report.model_dump(mode="json"), checked_at=at or utcnow()
        )
    )


def last_checks(conn: Connection) -> dict[str, dict[str, Any]]:
    return {
        r.connector: {"ok": r.ok, "report": r.report, "checked_at": aware(r.checked_at)}
        for r in conn.execute(select(connector_checks))
    }


def stale_contacts(conn: Connection, before: datetime) -> list[int]:
    """Contacts whose newest decide-batch decision was made before ``before`` (a visit's
    real-time decision updates no CRM field, so it does not make a contact's fields fresh)."""
    q = (
        select(decisions.c.contact_id)
        .where(from_batches())
        .group_by(decisions.c.contact_id)
        .having(func.max(decisions.c.created_at) < before)
        .order_by(decisions.c.contact_id)
    )
    return list(conn.execute(q).scalars())
