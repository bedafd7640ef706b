"""Counts for /metrics: cheap aggregate queries, one per family."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from hub.store import pushes as push_store
from hub.store import sync_state
from hub.store.schema import activities, contacts, decisions, identities


@dataclass
class StoreCounts:
    contacts: int = 0
    activities: int = 0
    records: dict[str, int] = field(default_factory=dict)
    decisions: dict[tuple[str, str], int] = field(default_factory=dict)
    pushes: dict[tuple[str, str], int] = field(default_factory=dict)
    streams: list[sync_state.StreamState] = field(default_factory=list)


def store_counts(conn: Connection) -> StoreCounts:
    c = StoreCounts()
    c.contacts = conn.execute(select(func.count()).select_from(contacts)).scalar_one()
    c.activities = conn.execute(select(func.count()).select_from(activities)).scalar_one()
    c.records = dict(conn.execute(select(identities.c.connector, func.count()).group_by(identities.c.connector)).all())
    c.decisions = {
        (p, a): n
        for p, a, n in conn.execute(
            select(decisions.c.policy, decisions.c.arm, func.count()).group_by(decisions.c.policy, decisions.c.arm)
        )
    }
    c.pushes = push_store.counts(conn)
    c.streams = sync_state.all_states(conn)
    return c
