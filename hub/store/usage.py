"""Each connector's last reported API usage (daily budget, calls, rate-limit waits).

Recorded by the sync and push steps from ``Connector.usage()``, in the store rather than in a
worker's memory, so `hub status` and the console show it without calling the vendor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from hub.store.contacts import aware
from hub.store.schema import connector_usage


def record(conn: Connection, connector: str, usage: dict[str, Any], now: datetime) -> None:
    """One upsert: a sync and push lanes of one connector end together, and two overlapping
    delete-then-insert transactions collided on the primary key (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(connector_usage).values(connector=connector, usage=usage, seen_at=now)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[connector_usage.c.connector],
            set_={"usage": stmt.excluded.usage, "seen_at": stmt.excluded.seen_at},
        )
    )


def all_usage(conn: Connection) -> dict[str, tuple[dict[str, Any], datetime]]:
    return {r.connector: (r.usage, aware(r.seen_at)) for r in conn.execute(select(connector_usage))}
