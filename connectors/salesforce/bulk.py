"""Reads one object's window through a Bulk API 2.0 query job, as the same rows REST gives.

A first sync of a big org over REST is one query cursor of 2,000-row pages for hours; a Bulk
query job reads the window in a few calls. Bulk results are CSV, so each value is typed back
from the describe (booleans, numbers, null for an empty value) and ``Account.Name`` columns
become a nested ``Account`` dict, exactly as the REST reader yields them: the mapping is shared.

Bulk rows come in no order (ORDER BY would disable PK chunking), so the cursor cannot move per
page: every page but the last carries the cursor the read started from, and the last carries
the cursor after the whole window. A sync stopped half-way re-reads the window (the store is
idempotent); nothing is skipped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.cursor import ObjectCursor
from connectors.salesforce.mapping import parse_sf_datetime, window_soql
from connectors.salesforce.objects import SObject

NUMBER_TYPES = frozenset({"double", "currency", "percent"})
INT_TYPES = frozenset({"int", "long"})


def field_types(client: SalesforceClient, sobject: str, fields: list[str]) -> dict[str, str]:
    """Describe type of each selected field; ``Account.Name`` is typed from the Account describe."""
    own = {f["name"]: f for f in client.describe(sobject).get("fields", [])}
    out: dict[str, str] = {}
    for name in fields:
        if "." not in name:
            out[name] = str(own.get(name, {}).get("type", "string"))
            continue
        rel, sub = name.split(".", 1)
        ref = next(
            (f for f in own.values() if f.get("relationshipName") == rel or f["name"] == rel + "Id"),
            None,
        )
        target = (ref or {}).get("referenceTo") or []
        if target:
            parent = {f["name"]: f for f in client.describe(target[0]).get("fields", [])}
            out[name] = str(parent.get(sub, {}).get("type", "string"))
        else:
            out[name] = "string"
    return out


def typed(value: str, kind: str) -> Any:
    """One CSV value as the REST JSON would carry it: empty is null."""
    if value == "":
        return None
    if kind == "boolean":
        return value.lower() == "true"
    if kind in INT_TYPES:
        return int(value)
    if kind in NUMBER_TYPES:
        return float(value)
    return value


def parse_csv(text: str, types: dict[str, str]) -> list[dict[str, Any]]:
    """A page of Bulk results -> REST-shaped records (relationship columns nested)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        return []
    rows: list[dict[str, Any]] = []
    for values in reader:
        if not values:
            continue
        rec: dict[str, Any] = {}
        for name, raw in zip(header, values, strict=True):
            v = typed(raw, types.get(name, "string"))
            if "." in name:
                rel, sub = name.split(".", 1)
                rec.setdefault(rel, {})[sub] = v
            else:
                rec[name] = v
        for rel in {n.split(".", 1)[0] for n in header if "." in n}:
            if all(v is None for v in rec[rel].values()):
                rec[rel] = None  # REST answers a missing parent as null, not as a dict of nulls
        rows.append(rec)
    return rows


def _stamp_ms(rec: dict[str, Any], obj: SObject) -> int | None:
    try:
        return int(parse_sf_datetime(rec.get(obj.cursor_field)).timestamp() * 1000)
    except (ValueError, TypeError):
        return None


def read_window_bulk(
    client: SalesforceClient,
    obj: SObject,
    fields: list[str],
    cursor: ObjectCursor,
    end: datetime,
    overlap_ms: int,
) -> Iterator[tuple[list[dict[str, Any]], ObjectCursor]]:
    """Yield (new rows, cursor) per results page; the cursor moves only with the last page."""
    types = field_types(client, obj.name, fields)
    soql = window_soql(obj.name, obj.cursor_field, obj.key, fields, cursor.since_ms, overlap_ms, end, False)
    start, after = cursor, cursor
    pending: list[dict[str, Any]] | None = None
    for text in client.bulk_query_pages(obj.name, soql, include_deleted=obj.include_deleted):
        if pending is not None:
            yield pending, start
        fresh: list[dict[str, Any]] = []
        stamps: list[tuple[str, int]] = []
        for rec in parse_csv(text, types):
            stamp = _stamp_ms(rec, obj)
            rid = rec.get(obj.key)
            if stamp is not None and isinstance(rid, str):
                if not start.is_new(rid, stamp):
                    continue
                stamps.append((rid, stamp))
            fresh.append(rec)  # unparseable rows go on, to be rejected by the mapper
        after = after.advance(sorted(stamps, key=lambda x: x[1]), overlap_ms)
        pending = fresh
    yield pending or [], after
