"""Reading what changed since a bookmark with HubSpot's CRM search, without ``after`` paging.

Search refuses to page past its 10,000th result (HTTP 400; anchors: CRM search), so every
call starts again at the bookmark: ``GTE`` it, sorted ascending on the modification stamp,
dropping the ids already read at exactly that stamp. A full page that all shares one stamp (a
bulk write: an import, a workflow, our own writebacks) could never get past it that way, so
that stamp is walked by id (``EQ`` the stamp and ``GT`` the last id, sorted by
``hs_object_id``), and then the search goes strictly past it (``GT``). Every body stays
within search's limits: one filter group of at most two filters, one sort, ``limit`` <= 200.
Contacts (``lastmodifieddate``) and meetings, calls and deals (``hs_lastmodifieddate``) use it.
"""

from __future__ import annotations

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


def changed_since(
    search: Search, prop: str, properties: list[str], size: int, mark: Mark
) -> Iterator[tuple[list[dict[str, Any]], Mark]]:
    """Pages of records changed at or after ``mark`` and not read before, each with the mark
    after it; ends after the first page that is not full."""
    cur = mark
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
        rows = (
            search(
                {
                    "filterGroups": search_filters(
                        {"propertyName": prop, "operator": "GT" if cur.exclusive else "GTE", "value": str(cur.since)}
                    ),
                    "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
                    "properties": properties,
                    "limit": size,
                }
            ).get("results")
            or []
        )
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
        top = max(stamps)
        at_top = {str(r.get("id")) for r, ts in zip(rows, stamps, strict=True) if ts == top}
        nxt = Mark(since=top, seen=sorted(at_top | (seen if top == cur.since else set())))
        yield fresh, nxt
        cur = nxt
        if not full:
            return
