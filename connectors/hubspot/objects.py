"""How HubSpot contacts are read: key, cursor field and paging (activities: activities.py).

Contacts: the first sync walks the list endpoint by id (no 10,000 cap); later syncs search on
``lastmodifieddate`` ascending from a bookmark, as search_walk.py reads any object: never
paging with ``after``, each call starts again at the bookmark, and a timestamp shared by a
whole page (bulk writes, including our own) is walked by ``hs_object_id`` and then passed.
The list endpoint is a GET naming every property in its query string: when they would not fit
(hundreds of declared features; HubSpot answers 414), each page is listed by id and its
properties fetched by batch read, a POST that carries them in its body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from connectors.hubspot.client import MAX_GET_URI_BYTES, HubSpotClient, get_uri_bytes
from connectors.hubspot.mapping import parse_ms, to_ms
from connectors.hubspot.search_walk import Mark, changed_since, stamp

LIST_PATH = "/crm/v3/objects/contacts"
LONGEST_AFTER = "9" * 20  # room for any paging token in the measure
RECENT_MAX = 20_000  # ids remembered for the lookback dedupe; beyond it a re-read is only a duplicate


@dataclass
class ContactCursor:
    phase: str = "full"  # full: list walk by id; inc: search on lastmodifieddate
    after: str | None = None  # full phase: list paging token
    since: int = 0  # inc phase: bookmark in epoch ms
    seen: list[str] = field(default_factory=list)  # ids already read at exactly `since`
    exclusive: bool = False  # inc phase: everything at `since` is read; go strictly past it
    tie_after: int | None = None  # inc phase: walking the ids at `since`
    recent: dict[str, int] = field(default_factory=dict)  # id -> stamp read within the lookback
    archived_mark: int = -1  # newest archivedAt reported as a deletion (epoch ms); -1: none yet
    archived_walked: int = 0  # when the archived list was last walked (epoch ms)
    archived_at_mark: list[str] = field(default_factory=list)  # ids reported at exactly the mark

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | None) -> ContactCursor:
        return cls(**json.loads(raw)) if raw else cls()


class ContactStream:
    """Yields (raw records, cursor after them) pages; the caller maps and commits."""

    def __init__(
        self, client: HubSpotClient, properties: list[str], page_size: int, search_page_size: int, lookback_ms: int
    ):
        self.client = client
        self.properties = properties
        self.page_size = page_size
        self.search_size = search_page_size
        self.lookback_ms = lookback_ms

    def pages(self, cur: ContactCursor) -> Iterator[tuple[list[dict[str, Any]], ContactCursor]]:
        """Pages of records not read before: the lookback re-reads a window before the bookmark
        (search is eventually consistent, so a record indexed late carries an older
        ``lastmodifieddate`` than ones already read; Airbyte's lookback_window, PR #69203),
        and ``recent`` (id -> stamp read in that window) drops the unchanged re-reads."""
        recent = dict(cur.recent)
        for rows, nxt in self._pages(cur):
            fresh = [r for r in rows if recent.get(str(r.get("id"))) != _stamp(r)]
            recent.update({str(r.get("id")): _stamp(r) for r in rows})
            floor = nxt.since - self.lookback_ms
            kept = sorted(((ts, rid) for rid, ts in recent.items() if ts >= floor), reverse=True)[:RECENT_MAX]
            recent = {rid: ts for ts, rid in kept}
            nxt.recent = dict(recent)
            nxt.archived_mark, nxt.archived_walked = cur.archived_mark, cur.archived_walked
            nxt.archived_at_mark = cur.archived_at_mark
            yield fresh, nxt

    def _pages(self, cur: ContactCursor) -> Iterator[tuple[list[dict[str, Any]], ContactCursor]]:
        if cur.phase == "full":
            for rows, nxt in self._full(cur):
                yield rows, nxt
                cur = nxt
        mark = Mark(since=cur.since, seen=cur.seen, exclusive=cur.exclusive, tie_after=cur.tie_after)
        walk = changed_since(
            self._search, "lastmodifieddate", self.properties, self.search_size, mark.looked_back(self.lookback_ms)
        )
        for rows, m in walk:
            yield rows, ContactCursor(phase="inc", **asdict(m))

    def _newest_modification(self) -> int:
        body = {
            "filterGroups": [],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
            "properties": ["lastmodifieddate"],
            "limit": 1,
        }
        res = self._search(body)
        rows = res.get("results") or []
        ts = parse_ms((rows[0].get("properties") or {}).get("lastmodifieddate")) if rows else None
        return to_ms(ts) if ts else 0

    def _full(self, cur: ContactCursor) -> Iterator[tuple[list[dict[str, Any]], ContactCursor]]:
        if cur.after is None and cur.since == 0:
            # where incremental sync must resume: whatever changes during the walk is read again
            cur = ContactCursor(since=self._newest_modification())
        contacts = self.client.api.crm.contacts.basic_api
        params = [("limit", self.page_size), ("after", LONGEST_AFTER)] + [("properties", p) for p in self.properties]
        by_id = get_uri_bytes(LIST_PATH, params) > MAX_GET_URI_BYTES  # list ids, then read them by POST
        while True:
            listed = ["hs_object_id"] if by_id else self.properties
            kwargs: dict[str, Any] = {"limit": self.page_size, "properties": listed}
            if cur.after:
                kwargs["after"] = cur.after
            res = self.client.call("contacts.list", contacts.get_page, **kwargs) or {}
            rows = res.get("results") or []
            if by_id:
                rows = self._read_by_id([str(r["id"]) for r in rows if r.get("id") is not None])
            nxt = ((res.get("paging") or {}).get("next") or {}).get("after")
            # ids already read at exactly the resume time are not read again by search
            seen = cur.seen + [str(r["id"]) for r in rows if _stamp(r) == cur.since]
            cur = ContactCursor(phase="full" if nxt else "inc", after=nxt, since=cur.since, seen=seen)
            yield rows, cur
            if not nxt:
                return

    def _read_by_id(self, ids: list[str]) -> list[dict[str, Any]]:
        """The contacts ``ids`` (at most 100, a list page) with every property, in the list's
        order; one archived since it was listed is left out (the archived walk reports it)."""
        if not ids:
            return []
        body = {"inputs": [{"id": i} for i in ids], "properties": self.properties, "propertiesWithHistory": []}
        api = self.client.api.crm.contacts.batch_api
        res = self.client.call("contacts.read", api.read, batch_read_input_simple_public_object_id=body) or {}
        found = {str(r.get("id")): r for r in res.get("results") or []}
        return [found[i] for i in ids if i in found]

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        api = self.client.api.crm.contacts.search_api
        return self.client.call("contacts.search", api.do_search, public_object_search_request=body, search=True) or {}


def _stamp(record: dict[str, Any]) -> int:
    return stamp(record, "lastmodifieddate")


def archived_ids(
    client: HubSpotClient, page_size: int, cur: ContactCursor, now_ms: int, every_ms: int
) -> tuple[list[str], ContactCursor]:
    """Contacts archived since the last walk: search never returns archived records, so
    deletions are found on the archived list, which has no filter and pages by id. Its cost is
    kept down twice over: it is walked at most once per ``every_ms``, and only records whose
    ``archivedAt`` is past the stored high-water mark are reported (the list is read from the
    database, not the lagging search index, so no lookback), and each deletion is handed over
    once, not on every sync."""
    if cur.archived_walked and now_ms - cur.archived_walked < every_ms:
        return [], cur
    api = client.api.crm.contacts.basic_api
    out: list[str] = []
    stamps: dict[str, int] = {}
    after = None
    while True:
        kwargs: dict[str, Any] = {"limit": page_size, "archived": True, "properties": ["hs_object_id"]}
        if after:
            kwargs["after"] = after
        res = client.call("contacts.archived", api.get_page, **kwargs) or {}
        for r in res.get("results") or []:
            rid, ts = str(r.get("id") or ""), parse_ms(r.get("archivedAt"))
            at = to_ms(ts) if ts else None
            if not rid:
                continue
            if at is None:  # no time to compare: report it (a deletion is idempotent)
                out.append(rid)
                continue
            stamps[rid] = at
            if at > cur.archived_mark or (at == cur.archived_mark and rid not in cur.archived_at_mark):
                out.append(rid)
        after = ((res.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            break
    mark = max([cur.archived_mark, *stamps.values()])
    at_mark = sorted({r for r, t in stamps.items() if t == mark})
    nxt = ContactCursor(
        **{**asdict(cur), "archived_mark": mark, "archived_walked": now_ms, "archived_at_mark": at_mark}
    )
    return out, nxt
