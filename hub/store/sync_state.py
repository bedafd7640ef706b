"""Sync cursors and run bookkeeping, one row per (connector, stream).

A running sync stamps ``heartbeat_at`` whenever it renews its lock (wall clock, as the lock's
lease) and clears it when it finishes; ``last_status`` holds the last *finished* sync's result
(ok, warning, continuing, failed), kept while the next runs, so /metrics' hub_sync_last_ok does
not read 0 during every sync. A stream whose stamp is older than a lease lost its lock without
finishing (its process was killed): :func:`interrupted`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from hub.store.contacts import aware
from hub.store.schema import sync_state

FINISHED_OK = ("ok", "warning", "continuing")  # the sync did its job (a warning says what it went without)


@dataclass
class StreamState:
    connector: str
    stream: str
    cursor: str | None
    records: int
    rejects: int
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_status: str | None
    last_error: str | None
    heartbeat_at: datetime | None = None


def _ensure(conn: Connection, connector: str, stream: str) -> None:
    exists = conn.execute(
        select(sync_state.c.connector).where(sync_state.c.connector == connector, sync_state.c.stream == stream)
    ).first()
    if not exists:
        conn.execute(insert(sync_state).values(connector=connector, stream=stream, records=0, rejects=0))


def _where(connector: str, stream: str):
    return (sync_state.c.connector == connector) & (sync_state.c.stream == stream)


def get_cursor(conn: Connection, connector: str, stream: str) -> str | None:
    return conn.execute(select(sync_state.c.cursor).where(_where(connector, stream))).scalar()


def advance_cursor(
    conn: Connection, connector: str, stream: str, cursor: str | None, records: int, rejects: int
) -> None:
    """Called in the same transaction as the page's data, so the two commit together."""
    _ensure(conn, connector, stream)
    conn.execute(
        update(sync_state)
        .where(_where(connector, stream))
        .values(cursor=cursor, records=sync_state.c.records + records, rejects=sync_state.c.rejects + rejects)
    )


def mark_started(conn: Connection, connector: str, stream: str, at: datetime, beat: datetime) -> None:
    """``at``: the hub's clock (a simulation's own), so status and alerts read one time;
    ``beat``: the wall clock's now, the stream's first heartbeat. The last result stays."""
    _ensure(conn, connector, stream)
    conn.execute(update(sync_state).where(_where(connector, stream)).values(last_started_at=at, heartbeat_at=beat))


def beat(conn: Connection, connector: str, at: datetime) -> None:
    """The connector's running streams are alive at ``at`` (wall clock): its sync renewed its lock."""
    conn.execute(
        update(sync_state)
        .where(sync_state.c.connector == connector, sync_state.c.heartbeat_at.is_not(None))
        .values(heartbeat_at=at)
    )


def _started(state: StreamState) -> bool:
    """A sync started and has not finished (``last_status`` "running": a row written before 0021)."""
    return state.heartbeat_at is not None or state.last_status == "running"


def interrupted(state: StreamState, now: datetime, lease_seconds: float) -> bool:
    """Started, but its last heartbeat (or start) is older than a lease: its lock ran out and it
    never finished, so no sync is running it now."""
    last = state.heartbeat_at or state.last_started_at
    return _started(state) and (last is None or now - last > timedelta(seconds=lease_seconds))


def run_state(s: StreamState, now: datetime, lease: float) -> str | None:
    """ "running" while a sync of the stream beats, "interrupted" once it stopped beating without
    finishing, None between syncs: what /metrics, `hub status` and the console all read."""
    if not _started(s):
        return None
    return "interrupted" if interrupted(s, now, lease) else "running"


def result(s: StreamState) -> str | None:
    """The last finished sync's result; None before any finished."""
    return None if s.last_status == "running" else s.last_status


def shown(s: StreamState, now: datetime, lease: float) -> tuple[str | None, str | None]:
    """A stream's status and error as shown: "running" while its sync beats, "interrupted" once
    it stopped beating, else the last result; a running one keeps the last sync's error."""
    state = run_state(s, now, lease)
    if state != "interrupted":
        return state or s.last_status, s.last_error
    beat = s.heartbeat_at or s.last_started_at
    when = f"last heartbeat {beat:%Y-%m-%d %H:%M:%S} UTC" if beat else "no heartbeat recorded"
    return "interrupted", (
        f"the {s.stream} sync stopped without finishing (its process was killed or lost its lock; {when}); "
        "the next sync reads on from the last committed page"
    )


def mark_finished(
    conn: Connection, connector: str, stream: str, at: datetime, status: str, error: str | None = None
) -> None:
    _ensure(conn, connector, stream)
    conn.execute(
        update(sync_state)
        .where(_where(connector, stream))
        .values(last_finished_at=at, last_status=status, last_error=error, heartbeat_at=None)
    )


def all_states(conn: Connection) -> list[StreamState]:
    return [
        StreamState(
            r.connector,
            r.stream,
            r.cursor,
            r.records,
            r.rejects,
            aware(r.last_started_at),
            aware(r.last_finished_at),
            r.last_status,
            r.last_error,
            aware(r.heartbeat_at),
        )
        for r in conn.execute(select(sync_state).order_by(sync_state.c.connector, sync_state.c.stream))
    ]
