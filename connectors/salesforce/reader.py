"""Reads one object in a SystemModstamp window ``>= since - overlap AND <= end``, batch by batch.

``end`` is the last whole second before the sync's start, so rows changed while the sync runs
wait for the next one instead of racing the cursor. Rows come ordered by (SystemModstamp, Id)
and those whose exact (Id, SystemModstamp) the cursor has seen are dropped.
Inside one sync the reader keeps the (stamp, Id) of the last row it read, and every further
query of the window starts right after that row: a query locator that expired between batches
is answered by re-querying from there, so a consumer slower than a locator lives after every
batch still moves on (only restarts that bring no new row count against ``MAX_RESTARTS``).
That position is not kept across syncs: rows can land later at a second already read, behind
its Id (connectors/salesforce/cursor.py), so the next sync starts at the overlap again.

A window too big for Salesforce (400 QUERY_TIMEOUT or OPERATION_TOO_LARGE on a big object) is
halved and retried; once a narrowed window is read to its end, the next one is twice as wide
(up to the window's end), so the width follows what the org can answer. Windows are whole
seconds: Salesforce keeps stamps to the second and ignores milliseconds in SOQL, so a narrower
window is the same second again. One second still too big (a data load stamps thousands of rows
with one second) is read ``LIMIT`` rows at a time in (SystemModstamp, Id) order, each query
starting after the last row read, the limit halved while it is still too big; past a limit of
one row (or after ``MAX_NARROWINGS`` failures in a row) the error goes up as retryable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from connectors.salesforce.client import QueryLocatorExpired, QueryTooBig, SalesforceClient
from connectors.salesforce.cursor import ObjectCursor
from connectors.salesforce.mapping import parse_sf_datetime, window_soql
from connectors.salesforce.objects import SObject

log = logging.getLogger(__name__)
MAX_RESTARTS = 3
MAX_NARROWINGS = 45  # 2**35 s is over 1,000 years: halving this often reaches one second, then LIMIT 1
SECOND = 1000
FIRST_LIMIT = 2000  # rows per query once one second is too big to read in one


def _second(ms: int) -> int:
    return ms - ms % SECOND


def _stamp_ms(rec: Any, obj: SObject) -> int | None:
    try:
        return int(parse_sf_datetime(rec.get(obj.cursor_field)).timestamp() * 1000)
    except (ValueError, TypeError, AttributeError):
        return None


def _oldest_ms(client: SalesforceClient, obj: SObject, end: datetime) -> int | None:
    """The oldest cursor stamp up to ``end`` (a first read has no lower bound to halve from)."""
    soql = window_soql(obj.name, obj.cursor_field, obj.key, [obj.cursor_field], None, 0, end) + " LIMIT 1"
    for batch in client.query_pages(soql, include_deleted=obj.include_deleted):
        for rec in batch:
            return _stamp_ms(rec, obj)
    return None


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def read_window(
    client: SalesforceClient,
    obj: SObject,
    fields: list[str],
    cursor: ObjectCursor,
    end: datetime,
    overlap_ms: int,
) -> Iterator[tuple[list[dict[str, Any]], ObjectCursor]]:
    """Yield (new rows, cursor after them) per batch; rows already read at the same stamp are dropped."""
    restarts = narrowings = 0
    end_ms = _second(int(end.timestamp() * 1000))  # Salesforce compares whole seconds
    lo = None if cursor.since_ms is None else _second(cursor.since_ms)  # the window: [lo - overlap, hi]
    hi = end_ms
    span: int | None = None  # the width that last worked after a narrowing
    overlap = overlap_ms  # windows after the first narrowed one follow it exactly: no overlap
    limit: int | None = None  # one second too big for one query: read it this many rows at a time
    pos: tuple[int, str] | None = None  # (stamp, Id) of the last row this sync read, in that order
    while True:
        after_id = None
        if pos is not None and (lo is None or pos[0] >= lo - overlap):  # within this window
            lo, after_id, overlap = pos[0], pos[1], 0  # rows up to it were read: go on right after it
        soql = window_soql(obj.name, obj.cursor_field, obj.key, fields, lo, overlap, _at(hi), after_id=after_id)
        if limit is not None:
            soql += f" LIMIT {limit}"
        try:
            got = 0
            for batch in client.query_pages(soql, include_deleted=obj.include_deleted):
                got += len(batch)
                fresh: list[dict[str, Any]] = []
                stamps: list[tuple[str, int]] = []
                for rec in batch:
                    stamp = _stamp_ms(rec, obj)
                    rid = rec.get(obj.key) if isinstance(rec, dict) else None
                    if stamp is not None and isinstance(rid, str):
                        pos = (_second(stamp), rid)
                        if not cursor.is_new(rid, stamp):
                            continue
                        stamps.append((rid, stamp))
                    fresh.append(rec)  # unparseable rows go on, to be rejected by the mapper
                cursor = cursor.advance(stamps, overlap_ms)
                if stamps:
                    restarts = 0  # progress: only restarts that bring nothing count
                yield fresh, cursor
            if limit is not None and got >= limit:
                continue  # more rows in this second: the next query starts after the last one read
            limit = None
            if hi >= end_ms:
                return
            narrowings, overlap = 0, 0
            span = max(2 * (span or 0), SECOND)
            lo, hi = hi, min(end_ms, hi + span)  # the narrowed part is read; on to the next, wider
        except QueryLocatorExpired:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise
            log.info("%s query locator expired; re-querying after the last row read", obj.name)
            # right after the last row read, not from the window's start: re-reading the overlap
            # first could fill every batch after a restart with rows read already (the next
            # sync's overlap still catches what was committed late behind that row)
        except QueryTooBig as exc:
            narrowings += 1
            if lo is None:  # a first read: start from the oldest row
                oldest = _oldest_ms(client, obj, _at(hi))
                if oldest is None:
                    return  # nothing at all up to hi
                lo = _second(oldest)
            if narrowings > MAX_NARROWINGS or limit == 1:
                raise  # even the narrowest window is too big
            if hi - lo < SECOND:  # one second: no narrower window exists
                if overlap:
                    overlap, narrowings = 0, 0  # the overlap alone is too big: read on without it
                    log.warning(
                        "%s: the %d ms overlap alone is too big to query; reading without it", obj.name, overlap_ms
                    )
                    continue
                limit = FIRST_LIMIT if limit is None else limit // 2
                log.info("%s: %s; reading the second %s %d rows at a time", obj.name, exc, _at(hi).isoformat(), limit)
                continue
            span = _second((hi - lo) // 2)
            hi = lo + span
            log.info("%s: %s; narrowing the window to end at %s", obj.name, exc, _at(hi).isoformat())
