"""Reads one object in a SystemModstamp window ``> since - overlap AND <= end``, batch by batch.

``end`` is the sync's start, so rows changed while the sync runs wait for the next one instead
of racing the cursor. Rows come ordered by (SystemModstamp, Id); after each batch the cursor is
the newest stamp read, so a sync stopped half-way (limit spent, crash) resumes exactly there.
A query locator that expired between batches is answered by re-querying from the cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from connectors.salesforce.client import QueryLocatorExpired, SalesforceClient
from connectors.salesforce.cursor import ObjectCursor
from connectors.salesforce.mapping import parse_sf_datetime, window_soql
from connectors.salesforce.objects import SObject

log = logging.getLogger(__name__)
MAX_RESTARTS = 3


def _stamp_ms(rec: Any, obj: SObject) -> int | None:
    try:
        return int(parse_sf_datetime(rec.get(obj.cursor_field)).timestamp() * 1000)
    except (ValueError, TypeError, AttributeError):
        return None


def read_window(
    client: SalesforceClient,
    obj: SObject,
    fields: list[str],
    cursor: ObjectCursor,
    end: datetime,
    overlap_ms: int,
) -> Iterator[tuple[list[dict[str, Any]], ObjectCursor]]:
    """Yield (new rows, cursor after them) per batch; rows already read at the same stamp are dropped."""
    restarts = 0
    while True:
        soql = window_soql(obj.name, obj.cursor_field, obj.key, fields, cursor.since_ms, overlap_ms, end)
        try:
            for batch in client.query_pages(soql, include_deleted=obj.include_deleted):
                fresh: list[dict[str, Any]] = []
                stamps: list[tuple[str, int]] = []
                for rec in batch:
                    stamp = _stamp_ms(rec, obj)
                    rid = rec.get(obj.key) if isinstance(rec, dict) else None
                    if stamp is not None and isinstance(rid, str):
                        if not cursor.is_new(rid, stamp):
                            continue
                        stamps.append((rid, stamp))
                    fresh.append(rec)  # unparseable rows go on, to be rejected by the mapper
                cursor = cursor.advance(stamps, overlap_ms)
                yield fresh, cursor
            return
        except QueryLocatorExpired:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise
            log.info("%s query locator expired; re-querying from the cursor", obj.name)
