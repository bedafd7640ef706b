"""Write-back: the hub's decisions into a warehouse table, so analysts can join them.

One row per (contact id, action): ``set_fields`` (its ``fields`` the merged hub fields),
``list:<name>`` (``{"list", "member"}``) and ``assign_owner``. A push whose row already holds
the same value changes nothing (``decided_at`` included), so a redelivered batch is a no-op.
Portable SQL: read the batch's rows, then UPDATE or INSERT; pushes of one record always run
in one lane, so no two writers race on a row.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, PrimaryKeyConstraint, String, Table, Text, and_, select

from connectors.warehouse.client import WarehouseClient, split_name
from connectors.warehouse.mapping import action_key, decided_value, load_fields
from hub.models import PushRequest, PushResult

COLUMNS = ("contact_id", "action", "fields", "decided_at")


def decisions_table(name: str) -> Table:
    schema, table = split_name(name)
    return Table(
        table,
        MetaData(),
        Column("contact_id", String(255), nullable=False),
        Column("action", String(255), nullable=False),
        Column("fields", Text, nullable=False),
        Column("decided_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("contact_id", "action"),
        schema=schema,
    )


def write_decisions(client: WarehouseClient, name: str, requests: list[PushRequest]) -> list[PushResult]:
    table = decisions_table(name)
    ids = sorted({r.identity.external_id for r in requests})
    now = datetime.now(UTC)
    with client.connect(f"writing decisions to {name!r}") as conn:
        held: dict[tuple[str, str], dict[str, Any]] = {
            (cid, action): load_fields(raw)
            for cid, action, raw in conn.execute(
                select(table.c.contact_id, table.c.action, table.c.fields).where(table.c.contact_id.in_(ids))
            )
        }
        inserts: dict[tuple[str, str], dict[str, Any]] = {}
        for req in requests:
            key = (req.identity.external_id, action_key(req.action.kind, req.action.payload))
            current = inserts.get(key, held.get(key))
            value = decided_value(req.action.kind, req.action.payload, current)
            if current == value:
                continue
            if key in held:
                conn.execute(
                    table.update()
                    .where(and_(table.c.contact_id == key[0], table.c.action == key[1]))
                    .values(fields=json.dumps(value, sort_keys=True), decided_at=now)
                )
                held[key] = value
            else:
                inserts[key] = value
        if inserts:
            conn.execute(
                table.insert(),
                [
                    {"contact_id": c, "action": a, "fields": json.dumps(v, sort_keys=True), "decided_at": now}
                    for (c, a), v in inserts.items()
                ],
            )
        conn.commit()
    return [PushResult(push_id=r.push_id, status="ok") for r in requests]


def read_state(client: WarehouseClient, name: str, contact_ids: list[str]) -> list[tuple[str, str, Any]]:
    table = decisions_table(name)
    if not contact_ids:
        return []
    with client.connect(f"reading decisions from {name!r}") as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(table.c.contact_id, table.c.action, table.c.fields).where(table.c.contact_id.in_(contact_ids))
            )
        ]
