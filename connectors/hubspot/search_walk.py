"""Reading what changed since a bookmark with HubSpot's CRM search, without ``after`` paging.

Search refuses to page past its 10,000th result (HTTP 400; anchors: CRM search), so every
call starts again at the bookmark: ``GTE`` it, sorted ascending on the modification stamp,
dropping the ids already read at exactly that stamp; a full page resumes from its end
(``page_end``), not from its largest stamp, which may be out of order, and only where
search's ``total`` agrees that nothing off the page lies before it (``checked_end``). A full
page that all shares one stamp (a bulk write: an import, a workflow, our own writebacks) could
never get past it that way, so that stamp is walked by id (``EQ`` the stamp and ``GT`` the last
id, sorted by ``hs_object_id``), and then the search goes strictly past it (``GT``). Every body stays
within search's limits: one filter group of at most two filters, one sort, ``limit`` <= 200.
Contacts (``lastmodifieddate``) and meetings, calls and deals (``hs_lastmodifieddate``) use it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from connectors.hubspot.mapping import parse_ms, to_ms

Search = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Mark:
    """Where a walk stands: ``since`` (epoch ms) and the ids read at exactly it (``seen``);
    ``exclusive``: every id at ``since`` is read; ``tie_after``: walking the ids at ``since``
    by id, past this one (-1: from the first)."""

    since: int = 0
    seen: list[str] = field(default_factory=list)
    exclusive: bool = False
    tie_after: int | None = None

    def looked_back(self, lookback_ms: int) -> Mark:
        """The mark less the lookback (search is eventually consistent: a record indexed late
        carries an older stamp than ones already read); a walk through a tie is resumed as is."""
        if not lookback_ms or self.tie_after is not None:
            return self
        return Mark(since=max(0, self.since - lookback_ms))


def search_filters(*filters: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"filters": list(filters)}]


def stamp(record: dict[str, Any], prop: str) -> int:
    """A record's modification stamp in epoch ms (0 when it has none)."""
    ts = parse_ms((record.get("properties") or {}).get(prop) or record.get("updatedAt"))
    return to_ms(ts) if ts else 0


def page_end(stamps: list[int]) -> int:
    """How far a page sorted ascending on its modification stamp has read: the smaller of its
    last two stamps, leaving out those shown late. While search's index lags, a record changed
    again since it was indexed is returned where its old stamp sorts but showing its new one
    (results out of order on the stamp, estuary/connectors PR #2210), and resuming from that
    stamp skipped every record between the page's true end and it, for good once past the
    lookback. Such a record is told apart when a smaller stamp follows it; and every record
    shown late shows a stamp newer than the index has caught up with, which every record in
    order is not, so a stamp at or past the smallest one told apart is shown late too. Our
    own writebacks are many such records at once (a sync right after a push). A record shown
    late but not told apart is guarded by the row before it; two at the end at once, with no
    other told apart on the page, are not, nor is a page of late rows only, in order (a sync
    within the lag of a push of a page or more of writebacks to records changed in the
    lookback window): ``checked_end`` catches those. The price is re-reading the page's last rows.
    A page that is not full ends the walk at its largest stamp: every record the index holds
    past the bookmark is on it, and ones it does not hold yet are the lookback's to read."""
    late, after = None, None  # the smallest stamp told apart as shown late; the least after it
    for ts in reversed(stamps):
        if after is not None and ts > after:
            late = ts if late is None else min(late, ts)
        after = ts if after is None else min(after, ts)
    in_order = stamps if late is None else [ts for ts in stamps if ts < late]
    return min(in_order[-2:])


def _body(prop: str, properties: list[str], size: int, *filters: dict[str, Any]) -> dict[str, Any]:
    return {
        "filterGroups": search_filters(*filters),
        "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
        "properties": properties,
        "limit": size,
    }


def _remembered(search: Search) -> Search:
    """``search`` answering a body asked twice in a row from the first answer: the check of a
    page's end asks for the next page, which the walk then reads without another call."""
    last: dict[str, Any] = {}

    def remembered(body: dict[str, Any]) -> dict[str, Any]:
        key = json.dumps(body, sort_keys=True)
        if last.get("key") != key:
            last.update(key=key, res=search(body))
        return last["res"]

    return remembered


def checked_end(
    search: Search, prop: str, properties: list[str], size: int, start: dict[str, Any], total: Any, rows: int, end: int
) -> int:
    """``end`` if search holds no more records from ``start`` (the page's filter) to before it
    than the page's ``rows``, by search's ``total``; else the latest time that holds, found
    by halving. A page whose late rows were not told apart (``page_end``) would otherwise
    skip every record between its true end and the time they show. The next page's search
    gives the count, so an end that holds costs no call; one that does not costs one per
    halving (about 31 over a month of milliseconds)."""
    after = search(_body(prop, properties, size, {"propertyName": prop, "operator": "GTE", "value": str(end)}))
    if not isinstance(total, int) or not isinstance(after.get("total"), int) or total - after["total"] <= rows:
        return end

    def fits(t: int) -> bool:
        below = {"propertyName": prop, "operator": "LT", "value": str(t)}
        return int(search(_body(prop, [prop], 1, start, below)).get("total") or 0) <= rows

    lo, hi = int(start["value"]), end  # fits(lo): nothing is before it
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def changed_since(
    search: Search, prop: str, properties: list[str], size: int, mark: Mark
) -> Iterator[tuple[list[dict[str, Any]], Mark]]:
    """Pages of records changed at or after ``mark`` and not read before, each with the mark
    after it; ends after the first page that is not full."""
    cur = mark
    search = _remembered(search)
    while True:
        if cur.tie_after is not None:
            rows = (
                search(
                    {
                        "filterGroups": search_filters(
                            {"propertyName": prop, "operator": "EQ", "value": str(cur.since)},
                            {"propertyName": "hs_object_id", "operator": "GT", "value": str(cur.tie_after)},
                        ),
                        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                        "properties": properties,
                        "limit": size,
                    }
                ).get("results")
                or []
            )
            seen = set(cur.seen)
            fresh = [r for r in rows if str(r.get("id")) not in seen]
            if len(rows) == size:
                nxt = Mark(since=cur.since, seen=cur.seen, tie_after=int(rows[-1]["id"]))
            else:
                nxt = Mark(since=cur.since, exclusive=True)  # every id at `since` is read
            yield fresh, nxt
            cur = nxt
            continue
        start = {"propertyName": prop, "operator": "GT" if cur.exclusive else "GTE", "value": str(cur.since)}
        res = search(_body(prop, properties, size, start))
        rows = res.get("results") or []
        seen = set(cur.seen)
        stamps = [stamp(r, prop) for r in rows]
        fresh = [r for r, ts in zip(rows, stamps, strict=True) if not (ts == cur.since and str(r.get("id")) in seen)]
        full = len(rows) == size
        if full and all(ts == cur.since for ts in stamps):
            # a crash after this page re-reads it: the walk by id starts at the first id
            yield fresh, Mark(since=cur.since, seen=cur.seen, tie_after=-1)
            cur = Mark(since=cur.since, seen=cur.seen + [str(r["id"]) for r in fresh], tie_after=-1)
            continue
        if not rows:
            return
        end = page_end(stamps) if full else max(stamps)  # a last page has every record indexed
        if full and end > cur.since:
            end = checked_end(search, prop, properties, size, start, res.get("total"), len(rows), end)
        if full and end <= cur.since:
            # the page's end is not past the bookmark: walk the ids at it, then go past it
            yield fresh, Mark(since=cur.since, seen=cur.seen, tie_after=-1)
            cur = Mark(since=cur.since, seen=cur.seen + [str(r["id"]) for r in fresh], tie_after=-1)
            continue
        at_end = {str(r.get("id")) for r, ts in zip(rows, stamps, strict=True) if ts == end}
        nxt = Mark(since=end, seen=sorted(at_end | (seen if end == cur.since else set())))
        yield fresh, nxt
        cur = nxt
        if not full:
            return
