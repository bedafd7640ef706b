"""Model snapshots: versioned model bytes with their metrics, and which version is live.

Uses the existing ``model_snapshots`` table without a migration: the promotion state lives
in the row's ``metrics`` JSON under reserved keys, so the history stays auditable:

- ``_status``: ``candidate`` (registered, never live), ``promoted`` (was made live at some
  point) or ``rolled_back`` (taken out of service);
- ``_promoted_at``: ISO time of its latest promotion.

The live version is the ``promoted`` row with the newest ``_promoted_at``. A rollback marks
the live row ``rolled_back``, so the previously promoted version becomes live again; rolling
back twice walks further back. Functions take a ``Connection`` like the other repositories,
so a caller can register and promote in one transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from hub.errors import StoreError
from hub.models import utcnow
from hub.store.contacts import aware
from hub.store.schema import model_snapshots

CANDIDATE, PROMOTED, ROLLED_BACK = "candidate", "promoted", "rolled_back"
#: metric names the registry keeps its state under; no caller may store metrics by these names
RESERVED = ("_status", "_promoted_at")


@dataclass(frozen=True)
class SnapshotInfo:
    """One stored version without its bytes."""

    name: str
    version: int
    metrics: dict[str, Any]
    created_at: datetime
    status: str
    promoted_at: datetime | None


def _json_safe(v: Any) -> Any:
    """NaN and infinities become None: PostgreSQL's JSON rejects them (an AUC on a one-class
    window is NaN)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    return v


def _info(row: Any) -> SnapshotInfo:
    m = dict(row.metrics or {})
    status = m.pop("_status", CANDIDATE)
    at = m.pop("_promoted_at", None)
    return SnapshotInfo(
        row.name,
        row.version,
        m,
        aware(row.created_at),
        status,
        datetime.fromisoformat(at) if at else None,
    )


def save_snapshot(
    conn: Connection, name: str, blob: bytes, metrics: dict[str, Any], created_at: datetime | None = None
) -> int:
    """Store a new version (max + 1) as a candidate; returns its version number."""
    clash = [k for k in metrics if k in RESERVED]
    if clash:
        raise StoreError(f"metric names {clash} are reserved for the registry; rename them.")
    current = conn.execute(select(func.max(model_snapshots.c.version)).where(model_snapshots.c.name == name)).scalar()
    version = (current or 0) + 1
    conn.execute(
        insert(model_snapshots).values(
            name=name,
            version=version,
            blob=blob,
            metrics=_json_safe({**metrics, "_status": CANDIDATE}),
            created_at=created_at or utcnow(),
        )
    )
    return version


def list_snapshots(conn: Connection, name: str) -> list[SnapshotInfo]:
    """Every version of ``name``, oldest first."""
    q = (
        select(
            model_snapshots.c.name, model_snapshots.c.version, model_snapshots.c.metrics, model_snapshots.c.created_at
        )
        .where(model_snapshots.c.name == name)
        .order_by(model_snapshots.c.version)
    )
    return [_info(r) for r in conn.execute(q)]


def version_counts(conn: Connection) -> dict[str, int]:
    """How many versions each model name has, by name: what a report on one name can point to."""
    q = select(model_snapshots.c.name, func.count()).group_by(model_snapshots.c.name).order_by(model_snapshots.c.name)
    return {name: n for name, n in conn.execute(q)}


def load_snapshot(conn: Connection, name: str, version: int) -> tuple[SnapshotInfo, bytes]:
    row = conn.execute(
        select(model_snapshots).where(model_snapshots.c.name == name, model_snapshots.c.version == version)
    ).first()
    if row is None:
        raise StoreError(f"no snapshot {name!r} version {version}; `list_snapshots` shows what exists.")
    return _info(row), bytes(row.blob)


def live_version(conn: Connection, name: str) -> int | None:
    """The version in service, or None if nothing was ever promoted (or all were rolled back)."""
    live = [s for s in list_snapshots(conn, name) if s.status == PROMOTED and s.promoted_at is not None]
    if not live:
        return None
    return max(live, key=lambda s: (s.promoted_at, s.version)).version


def _set_state(conn: Connection, name: str, version: int, **state: Any) -> None:
    info, _ = load_snapshot(conn, name, version)
    metrics = {**info.metrics, "_status": info.status}
    if info.promoted_at:
        metrics["_promoted_at"] = info.promoted_at.isoformat()
    metrics.update(state)
    conn.execute(
        update(model_snapshots)
        .where(model_snapshots.c.name == name, model_snapshots.c.version == version)
        .values(metrics=metrics)
    )


def promote(conn: Connection, name: str, version: int, at: datetime | None = None) -> None:
    """Make ``version`` the live one (also re-promotes a rolled-back version)."""
    _set_state(conn, name, version, _status=PROMOTED, _promoted_at=(at or utcnow()).isoformat())


def restore(conn: Connection, name: str, version: int, at: datetime | None = None, **extra: Any) -> int:
    """Append a copy of ``version`` as the newest version and make it live; returns the new number.

    What ``hub model rollback N`` does: the copy starts from the old row's metrics without its
    registry state (a copy of a promoted row would keep the old promotion time and lose to the
    live one), and is promoted in the same transaction. Its promotion time is never older than
    the live one's, so a clock behind the store's (a simulation) still makes it live.
    """
    info, blob = load_snapshot(conn, name, version)
    stamps = [s.promoted_at for s in list_snapshots(conn, name) if s.status == PROMOTED and s.promoted_at]
    when = max([at or utcnow(), *stamps])
    new = save_snapshot(conn, name, blob, {**info.metrics, **extra}, at)
    promote(conn, name, new, when)
    if live_version(conn, name) != new:  # cannot happen by the rule above; never report a lie
        raise StoreError(f"restoring {name!r} v{version} did not make it live; nothing was changed.")
    return new


def rollback(conn: Connection, name: str) -> int | None:
    """Take the live version out of service; returns the version live afterwards (or None)."""
    live = live_version(conn, name)
    if live is None:
        raise StoreError(f"nothing of {name!r} is live, so there is nothing to roll back.")
    _set_state(conn, name, live, _status=ROLLED_BACK)
    return live_version(conn, name)
