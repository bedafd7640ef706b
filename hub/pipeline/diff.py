"""Diff a queued action against what the CRM already has; skip writes that change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from hub.fields import HUB_FIELDS
from hub.models import ActionKind

#: each hub field's type, so a value is compared as what it is
_TYPES = {f.name: f.type for f in HUB_FIELDS}


def effective_payload(
    kind: ActionKind,
    payload: dict[str, Any],
    crm_fields: dict[str, Any],
    lists: list[str] | None,
    owner: str | None,
    stored: Callable[[str, Any], Any] | None = None,
) -> dict[str, Any] | None:
    """The part of ``payload`` that would change the record, or None for a no-op. ``stored``
    (field, value) is the form the CRM keeps a written value in (the connector's
    ``stored_form``): a field is unchanged when the CRM, after storing what is sent, would hold
    what it holds now (a 0.0067 that a two-decimal field keeps as 0.01 is not written over 0.01)."""
    if kind is ActionKind.SET_FIELDS:
        form = stored or (lambda _field, value: value)
        fields = payload.get("fields", {})
        changed = {k: v for k, v in fields.items() if not _same(crm_fields.get(k), form(k, v), _TYPES.get(k))}
        return {"fields": changed} if changed else None
    if kind is ActionKind.ADD_TO_LIST:
        return None if lists is not None and payload["list"] in lists else payload
    if kind is ActionKind.REMOVE_FROM_LIST:
        return None if lists is not None and payload["list"] not in lists else payload
    if kind is ActionKind.ASSIGN_OWNER:
        return None if owner is not None and str(owner) == str(payload["owner"]) else payload
    return payload


def _same(current: Any, wanted: Any, kind: str | None = None) -> bool:
    """Is ``wanted`` what the CRM holds already, in the field's type? CRMs hand values back as
    strings ('80' and 80 are one number) and datetimes in UTC (one instant, two spellings).
    Text is compared as text: a content variant "01" over "1" is a change, not a number."""
    if kind == "datetime" and isinstance(wanted, str) and wanted.strip() and _instant(wanted) is None:
        # a bare local hour ("14"): the connector writes the next such hour, an instant that
        # moves daily; the "14" a landed push left in the store until the next sync is no
        # instant the CRM holds
        return False
    if current == wanted:
        return True
    if current is None or wanted is None:
        return current in (None, "") and wanted in (None, "")
    if kind in ("string", "text", "enumeration"):
        return str(current) == str(wanted)
    a, b = _instant(current), _instant(wanted)
    if a is not None and b is not None:
        # one instant, two spellings: the engine writes the contact's offset, CRMs answer in UTC
        return a == b
    try:
        return float(current) == float(wanted)
    except (TypeError, ValueError):
        return str(current) == str(wanted)


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 date-time with a UTC offset (``...Z``, ``+01:00``), else None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else None
    if not isinstance(value, str) or len(value) < 16 or value[10:11] != "T":
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else None
