"""Pure functions between warehouse rows and hub models. Column names stop here."""

from __future__ import annotations

import json
from typing import Any

from connectors.warehouse.config import ContactSource, EventSource
from hub.models import ActionKind, Activity, Contact, RecordError
from hub.rows import ContactColumns, EventColumns, activity_from_row, contact_from_row, default_fields, json_safe

OBJECT_TYPE = "contact"


def contact_columns(src: ContactSource, columns: list[str]) -> ContactColumns:
    """The settings' mapping, plus columns named like hub fields that it does not map."""
    taken = [src.id_column, src.updated_at_column, *(src.fields.values()), *src.properties]
    if src.email_column:
        taken.append(src.email_column)
    fields = {**default_fields(columns, taken), **src.fields}
    return ContactColumns(
        email=src.email_column,
        id=src.id_column,
        updated_at=src.updated_at_column,
        fields=fields,
        properties=list(src.properties),
    )


def event_columns(src: EventSource) -> EventColumns:
    return EventColumns(
        contact=src.contact_column,
        occurred_at=src.occurred_at_column,
        type=src.type_column,
        id=src.id_column,
        contact_key=src.contact_key,
        contact_connector=src.contact_connector,
        channel=src.channel_column,
        properties=list(src.properties),
        properties_json=src.properties_json_column,
        type_map=dict(src.type_map),
    )


def required_contact_columns(src: ContactSource) -> dict[str, str]:
    """Setting -> the column it names, for every column the source must have."""
    need = {"id_column": src.id_column, "updated_at_column": src.updated_at_column}
    if src.email_column:
        need["email_column"] = src.email_column
    need.update({f"fields.{k}": v for k, v in src.fields.items()})
    need.update({f"properties[{i}]": c for i, c in enumerate(src.properties)})
    return need


def required_event_columns(src: EventSource) -> dict[str, str]:
    need = {
        "id_column": src.id_column,
        "contact_column": src.contact_column,
        "type_column": src.type_column,
        "occurred_at_column": src.occurred_at_column,
    }
    for key in ("cursor_column", "channel_column", "properties_json_column"):
        if getattr(src, key):
            need[key] = getattr(src, key)
    need.update({f"properties[{i}]": c for i, c in enumerate(src.properties)})
    return need


def _ref(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    return "(no id)" if value is None else str(value)[:120]


def contacts_from_rows(
    connector: str, rows: list[dict[str, Any]], cols: ContactColumns
) -> tuple[list[Contact], list[RecordError]]:
    """Map a page; the last row of an id wins (a row re-read inside the lookback is one record)."""
    by_id: dict[str, Contact] = {}
    rejects = []
    for row in rows:
        try:
            contact = contact_from_row(row, cols, connector)
        except ValueError as exc:
            rejects.append(RecordError(external_id=_ref(row, cols.id or ""), reason=str(exc)))
            continue
        by_id[contact.identities[0].external_id] = contact
    return list(by_id.values()), rejects


def activities_from_rows(
    connector: str, rows: list[dict[str, Any]], cols: EventColumns
) -> tuple[list[Activity], list[RecordError]]:
    by_id: dict[str, Activity] = {}
    rejects = []
    for row in rows:
        try:
            activity = activity_from_row(row, cols, connector, connector)
        except ValueError as exc:
            rejects.append(RecordError(external_id=_ref(row, cols.id or ""), reason=str(exc)))
            continue
        by_id[activity.external_id] = activity
    return list(by_id.values()), rejects


# -- the decisions table -------------------------------------------------------------------
def action_key(kind: ActionKind, payload: dict[str, Any]) -> str:
    """The row a push lands on: one per contact for fields and owner, one per list."""
    if kind in (ActionKind.ADD_TO_LIST, ActionKind.REMOVE_FROM_LIST):
        return f"list:{payload['list']}"
    return kind.value


def decided_value(kind: ActionKind, payload: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """The row's ``fields`` after this push: set_fields merges into what the row holds."""
    if kind is ActionKind.SET_FIELDS:
        return {**(current or {}), **json_safe(payload.get("fields") or {})}
    if kind is ActionKind.ASSIGN_OWNER:
        return {"owner": json_safe(payload.get("owner"))}
    return {"list": payload["list"], "member": kind is ActionKind.ADD_TO_LIST}


def load_fields(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def crm_state(rows: list[tuple[str, str, Any]]) -> dict[str, tuple[dict[str, Any], list[str], str | None]]:
    """contact id -> (hub fields, lists, owner) as the decisions table holds them, so a sync
    reports what the hub already wrote and the push diff does not send it again."""
    out: dict[str, tuple[dict[str, Any], list[str], str | None]] = {}
    for contact_id, action, raw in rows:
        fields, lists, owner = out.get(contact_id, ({}, [], None))
        value = load_fields(raw)
        if action == ActionKind.SET_FIELDS.value:
            fields = {**fields, **value}
        elif action == ActionKind.ASSIGN_OWNER.value:
            owner = value.get("owner")
        elif action.startswith("list:") and value.get("member"):
            lists = [*lists, action[5:]]
        out[contact_id] = (fields, sorted(lists), owner)
    return out
