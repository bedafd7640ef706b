"""How each HubSpot object type is read: key, cursor field and paging, declared once.

Contacts: the first sync walks the list endpoint by id (no 10,000 cap); later syncs search on
``lastmodifieddate`` ascending from a bookmark. Search never pages with ``after`` here: each
call starts again at the bookmark (``GTE`` it, skipping the ids already seen at exactly that
time), so the 10,000-result cap is never reached. When a whole page shares one timestamp
(bulk writes, including our own), the stream walks that timestamp by ``hs_object_id`` and
then moves strictly past it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.mapping import parse_ms, to_ms

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


def _filters(*filters: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"filters": list(filters)}]


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
        if self.lookback_ms and cur.tie_after is None:
            cur.since, cur.seen, cur.exclusive = max(0, cur.since - self.lookback_ms), [], False
        yield from self._incremental(cur)

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
        while True:
            kwargs: dict[str, Any] = {"limit": self.page_size, "properties": self.properties}
            if cur.after:
                kwargs["after"] = cur.after
            res = self.client.call("contacts.list", contacts.get_page, **kwargs) or {}
            rows = res.get("results") or []
            nxt = ((res.get("paging") or {}).get("next") or {}).get("after")
            # ids already read at exactly the resume time are not read again by search
            seen = cur.seen + [str(r["id"]) for r in rows if _stamp(r) == cur.since]
            cur = ContactCursor(phase="full" if nxt else "inc", after=nxt, since=cur.since, seen=seen)
            yield rows, cur
            if not nxt:
                return

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        api = self.client.api.crm.contacts.search_api
        return self.client.call("contacts.search", api.do_search, public_object_search_request=body, search=True) or {}

    def _incremental(self, cur: ContactCursor) -> Iterator[tuple[list[dict[str, Any]], ContactCursor]]:
        while True:
            if cur.tie_after is not None:
                body = {
                    "filterGroups": _filters(
                        {"propertyName": "lastmodifieddate", "operator": "EQ", "value": str(cur.since)},
                        {"propertyName": "hs_object_id", "operator": "GT", "value": str(cur.tie_after)},
                    ),
                    "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                    "properties": self.properties,
                    "limit": self.search_size,
                }
                rows = self._search(body).get("results") or []
                fresh = [r for r in rows if str(r.get("id")) not in set(cur.seen)]
                full = len(rows) == self.search_size
                nxt = ContactCursor(phase="inc", since=cur.since)
                if full:
                    nxt.tie_after = int(rows[-1]["id"])
                    nxt.seen = cur.seen
                else:
                    nxt.exclusive = True  # every id at `since` is read
                yield fresh, nxt
                cur = nxt
                continue
            op = "GT" if cur.exclusive else "GTE"
            body = {
                "filterGroups": _filters({"propertyName": "lastmodifieddate", "operator": op, "value": str(cur.since)}),
                "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                "properties": self.properties,
                "limit": self.search_size,
            }
            rows = self._search(body).get("results") or []
            seen = set(cur.seen)
            stamps = [_stamp(r) for r in rows]
            fresh = [
                r for r, ts in zip(rows, stamps, strict=True) if not (ts == cur.since and str(r.get("id")) in seen)
            ]
            full = len(rows) == self.search_size
            if full and all(ts == cur.since for ts in stamps):
                yield fresh, ContactCursor(phase="inc", since=cur.since, seen=cur.seen, tie_after=-1)
                cur = ContactCursor(
                    phase="inc", since=cur.since, seen=cur.seen + [str(r["id"]) for r in fresh], tie_after=-1
                )
                continue
            if not rows:
                return
            top = max(stamps)
            at_top = [str(r.get("id")) for r, ts in zip(rows, stamps, strict=True) if ts == top]
            nxt = ContactCursor(
                phase="inc", since=top, seen=sorted(set(at_top) | (seen if top == cur.since else set()))
            )
            yield fresh, nxt
            cur = nxt
            if not full:
                return


def _stamp(record: dict[str, Any]) -> int:
    ts = parse_ms((record.get("properties") or {}).get("lastmodifieddate") or record.get("updatedAt"))
    return to_ms(ts) if ts else 0


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


@dataclass
class ActivityCursor:
    email_start: int = 0
    email_offset: str | None = None
    forms: dict[str, Any] = field(default_factory=dict)  # form id -> {since, seen[, top, top_seen, after]}
    meetings: str | None = None  # old cursors' id walk; unused
    calls: str | None = None
    meetings_since: int = 0  # newest hs_lastmodifieddate read (epoch ms)
    calls_since: int = 0

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | None) -> ActivityCursor:
        return cls(**json.loads(raw)) if raw else cls()


ENGAGEMENT_PROPERTIES = {
    "meetings": ["hs_timestamp", "hs_meeting_start_time", "hs_meeting_outcome"],
    "calls": ["hs_timestamp", "hs_call_status", "hs_call_direction"],
}


def email_event_pages(
    client: HubSpotClient, cur: ActivityCursor
) -> Iterator[tuple[list[dict[str, Any]], ActivityCursor]]:
    """Legacy email events API (not in the SDK): by start time, then the offset token."""
    while True:
        qs: dict[str, Any] = {"startTimestamp": cur.email_start, "limit": 1000}
        if cur.email_offset:
            qs["offset"] = cur.email_offset
        res = client.raw("email.events", "GET", "/email/public/v1/events", qs) or {}
        events = res.get("events") or []
        nxt = ActivityCursor(**{**asdict(cur)})
        if res.get("hasMore"):
            nxt.email_offset = str(res.get("offset"))
        else:
            nxt.email_offset = None
            stamps = [
                int(e["created"])
                for e in events
                if str(e.get("created", "")).isdigit() or isinstance(e.get("created"), int)
            ]
            nxt.email_start = max([cur.email_start, *stamps])
        yield events, nxt
        cur = nxt
        if not res.get("hasMore"):
            return


def _form_ids(client: HubSpotClient) -> list[str]:
    """Every form, through all pages of the forms list."""
    out: list[str] = []
    after = None
    while True:
        qs: dict[str, Any] = {"limit": 100}
        if after:
            qs["after"] = after
        res = client.raw("forms.list", "GET", "/marketing/v3/forms", qs) or {}
        out += [str(f["id"]) for f in res.get("results") or [] if f.get("id")]
        after = ((res.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return out


def form_pages(
    client: HubSpotClient, cur: ActivityCursor
) -> Iterator[tuple[str, list[dict[str, Any]], ActivityCursor]]:
    """Form submissions come newest first and ``after`` is opaque, so each form keeps the
    newest ``submittedAt`` read (``since``, with the ids read at exactly that ms) and every
    sync pages from the newest down to it. While a walk is under way the cursor holds its
    page token and the newest time it started from (``top``); ``since`` moves only when the
    walk reaches it, so a walk cut short resumes instead of skipping what it had not read."""
    for fid in _form_ids(client):
        state = cur.forms.get(fid)
        st = dict(state) if isinstance(state, dict) else {"since": -1, "seen": []}  # old cursors: start over
        while True:
            qs: dict[str, Any] = {"limit": 50}
            if st.get("after"):
                qs["after"] = st["after"]
            res = client.raw("forms.submissions", "GET", f"/form-integrations/v1/submissions/forms/{fid}", qs) or {}
            rows = res.get("results") or []
            after = ((res.get("paging") or {}).get("next") or {}).get("after")
            if "top" not in st:  # the first page of a walk: its newest row is the new mark
                stamps = [_sub_ms(r) for r in rows]
                top = max(stamps, default=st["since"])
                st["top"] = max(top, st["since"])
                st["top_seen"] = [str(r.get("conversionId")) for r, t in zip(rows, stamps, strict=True) if t == top]
            fresh, reached = [], False
            for r in rows:
                t = _sub_ms(r)
                if t < st["since"] or (t == st["since"] and str(r.get("conversionId")) in st["seen"]):
                    reached = True
                    continue
                fresh.append(r)
            if after and not reached:
                st["after"] = str(after)
            else:  # the walk is done: the newest row it started from is the new mark
                seen = st["top_seen"] + (st["seen"] if st["top"] == st["since"] else [])
                st = {"since": st["top"], "seen": sorted(set(seen))}
            nxt = ActivityCursor(**{**asdict(cur), "forms": {**cur.forms, fid: dict(st)}})
            yield fid, fresh, nxt
            cur = nxt
            if "top" not in st:
                break


def _sub_ms(sub: dict[str, Any]) -> int:
    ts = parse_ms(sub.get("submittedAt"))
    return to_ms(ts) if ts else 0


def engagement_pages(
    client: HubSpotClient, kind: str, cur: ActivityCursor, page_size: int, lookback_ms: int
) -> Iterator[tuple[list[dict[str, Any]], ActivityCursor]]:
    """Meetings and calls changed since the bookmark (less the lookback), by a search on
    ``hs_lastmodifieddate``: an outcome set after creation moves that stamp, so the record is
    read again (a walk by id never came back to it). Search returns no associations, so the
    contacts come from one associations v4 batch read per page. Past ~9,800 results the search
    restarts from the last stamp read (the 10,000 cap)."""
    attr = f"{kind}_since"
    since = max(0, getattr(cur, attr) - lookback_ms)
    search = client.api.crm.objects.search_api
    after: str | None = None
    while True:
        body: dict[str, Any] = {
            "filterGroups": _filters({"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(since)}),
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ENGAGEMENT_PROPERTIES[kind] + ["hs_lastmodifieddate"],
            "limit": min(200, max(page_size, 1)),
        }
        if after:
            body["after"] = after
        res = (
            client.call(
                f"{kind}.search", search.do_search, object_type=kind, public_object_search_request=body, search=True
            )
            or {}
        )
        rows = res.get("results") or []
        _attach_contacts(client, kind, rows)
        stamps = [_engagement_ms(r) for r in rows]
        nxt = ActivityCursor(**{**asdict(cur), "forms": dict(cur.forms)})
        setattr(nxt, attr, max([getattr(cur, attr), *stamps]))
        yield rows, nxt
        cur = nxt
        after = ((res.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return
        if int(after) >= 9_800 and stamps:  # restart the slice before the cap
            since, after = max(stamps), None


def _engagement_ms(record: dict[str, Any]) -> int:
    ts = parse_ms((record.get("properties") or {}).get("hs_lastmodifieddate") or record.get("updatedAt"))
    return to_ms(ts) if ts else 0


def _attach_contacts(client: HubSpotClient, kind: str, rows: list[dict[str, Any]]) -> None:
    """Fill each row's ``associations.contacts`` as the list endpoint would, from one batch read."""
    if not rows:
        return
    api = client.api.crm.associations.v4.batch_api
    res = (
        client.call(
            f"{kind}.associations",
            api.get_page,
            from_object_type=kind,
            to_object_type="contacts",
            batch_input_public_fetch_associations_batch_request={"inputs": [{"id": str(r["id"])} for r in rows]},
        )
        or {}
    )
    by_id = {
        str((x.get("from") or {}).get("id")): [{"id": str(t["toObjectId"])} for t in x.get("to") or []]
        for x in res.get("results") or []
    }
    for r in rows:
        r["associations"] = {"contacts": {"results": by_id.get(str(r["id"]), [])}}
