"""Declared features in the store: fitted specs and the profile tags in use.

Both live in ``model_snapshots`` (no migration), beside the models that use them:

- ``features-<declaration hash>`` version 1: the fitted spec (levels, means; JSON), written once
  when a declaration first appears, so deciding, learning and replays read identical columns;
  the unique (name, version) key makes a second writer lose cleanly and read the first's;
- ``declared-profile-tags``: the union of the tags every declared spec so far needs
  (decision/declared/aggregates.py); each new tag appends a version. Activity inserts fold them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from hub.store.schema import model_snapshots

TAGS_NAME = "declared-profile-tags"


def spec_name(declaration_hash: str) -> str:
    return f"features-{declaration_hash}"


def _latest(conn: Connection, name: str) -> Any:
    q = (
        select(model_snapshots.c.version, model_snapshots.c.blob)
        .where(model_snapshots.c.name == name)
        .order_by(model_snapshots.c.version.desc())
        .limit(1)
    )
    return conn.execute(q).first()


def load_tags(conn: Connection) -> list[dict[str, Any]]:
    row = _latest(conn, TAGS_NAME)
    return json.loads(bytes(row.blob)) if row else []


def register_tags(conn: Connection, tags: Sequence[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Add ``tags`` to the registry; returns the ones that were new (to be backfilled)."""
    current = load_tags(conn)
    known = {t["key"] for t in current}
    new = [dict(t) for t in tags if t["key"] not in known]
    if new:
        version = (
            conn.execute(
                select(func.max(model_snapshots.c.version)).where(model_snapshots.c.name == TAGS_NAME)
            ).scalar()
            or 0
        ) + 1
        body = json.dumps(current + new, sort_keys=True).encode()
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(model_snapshots).values(
                        name=TAGS_NAME,
                        version=version,
                        blob=body,
                        metrics={"tags": len(current) + len(new)},
                        created_at=now,
                    )
                )
        except IntegrityError:  # another process registered at the same time: take its list, then ours
            return register_tags(conn, tags, now)
    return new


def load_spec(conn: Connection, declaration_hash: str) -> dict[str, Any] | None:
    row = _latest(conn, spec_name(declaration_hash))
    return json.loads(bytes(row.blob)) if row else None


def save_spec(
    conn: Connection, declaration_hash: str, state: dict[str, Any], metrics: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Store the fitted spec unless another process stored one first; returns the stored one."""
    try:
        with conn.begin_nested():
            conn.execute(
                insert(model_snapshots).values(
                    name=spec_name(declaration_hash),
                    version=1,
                    blob=json.dumps(state, sort_keys=True).encode(),
                    metrics=metrics,
                    created_at=now,
                )
            )
    except IntegrityError:
        pass
    stored = load_spec(conn, declaration_hash)
    assert stored is not None  # just written, by us or by the winner
    return stored
