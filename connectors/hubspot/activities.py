"""How HubSpot activities are read: email events, form submissions, meetings, calls and deals.

One cursor (``ActivityCursor``) holds each source's bookmark; each reader yields pages of raw
records with the cursor after them, and the connector maps and commits them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.mapping import parse_ms, to_ms
from connectors.hubspot.search_walk import Mark, changed_since


@dataclass
class ActivityCursor:
    email_start: int = 0
    email_offset: str | None = None
    forms: dict[str, Any] = field(default_factory=dict)  # form id -> {since, seen[, top, top_seen, after]}
    meetings: str | None = None  # old cursors' id walk; unused
    calls: str | None = None
    meetings_since: int = 0  # newest hs_lastmodifieddate read (epoch ms)
    calls_since: int = 0
    deals_since: int = 0
    walks: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> the rest of its search_walk.Mark

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | None) -> ActivityCursor:
        return cls(**json.loads(raw)) if raw else cls()


ENGAGEMENT_PROPERTIES = {
    "meetings": ["hs_timestamp", "hs_meeting_start_time", "hs_meeting_outcome"],
    "calls": ["hs_timestamp", "hs_call_status", "hs_call_direction"],
    "deals": ["createdate", "closedate", "amount", "dealstage", "hs_is_closed", "hs_is_closed_won"],
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
    """Meetings, calls and deals changed since the bookmark (less the lookback), by a search on
    ``hs_lastmodifieddate``: an outcome set after creation (a meeting's, a deal's close)
    moves that stamp, so the record is read again (a walk by id never came back to it). The
    search restarts at the bookmark on every call and walks a stamp shared by a whole page by
    id (search_walk.py), so a bulk edit of 10,000+ records never pages into the 10,000 cap.
    Search returns no associations, so the contacts come from one associations v4 batch read
    per page."""
    attr = f"{kind}_since"
    mark = Mark(since=getattr(cur, attr), **cur.walks.get(kind, {}))
    api = client.api.crm.objects.search_api

    def search(body: dict[str, Any]) -> dict[str, Any]:
        return (
            client.call(
                f"{kind}.search", api.do_search, object_type=kind, public_object_search_request=body, search=True
            )
            or {}
        )

    properties = ENGAGEMENT_PROPERTIES[kind] + ["hs_lastmodifieddate"]
    size = min(200, max(page_size, 1))
    for rows, m in changed_since(search, "hs_lastmodifieddate", properties, size, mark.looked_back(lookback_ms)):
        _attach_contacts(client, kind, rows)
        nxt = ActivityCursor(**asdict(cur))
        setattr(nxt, attr, m.since)
        nxt.walks[kind] = {"seen": m.seen, "exclusive": m.exclusive, "tie_after": m.tie_after}
        yield rows, nxt
        cur = nxt


def associated_ids(res: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """A v4 batch association read as ``{from id: [{"id": to id}, ...]}``, ids as text: the
    API sends ``toObjectId`` as a number though its spec says string."""
    out: dict[str, list[dict[str, str]]] = {}
    for x in res.get("results") or []:
        if isinstance(x, dict):  # one record may come back in more than one result: merge them
            out.setdefault(str((x.get("from") or {}).get("id")), []).extend(
                {"id": str(t["toObjectId"])} for t in x.get("to") or [] if isinstance(t, dict)
            )
    return out


def next_pages(res: dict[str, Any]) -> list[dict[str, str]]:
    """The inputs that read the next page of each record a v4 batch read paged: HubSpot pages
    every result on its own, ``paging.next.after`` present only while more remain (batch read
    reference: the 'after' "can be added alongside the 'id' to retrieve the next page")."""
    out = []
    for x in res.get("results") or []:
        after = ((x.get("paging") or {}).get("next") or {}).get("after") if isinstance(x, dict) else None
        if after:
            out.append({"id": str((x.get("from") or {}).get("id")), "after": str(after)})
    return out


def _attach_contacts(client: HubSpotClient, kind: str, rows: list[dict[str, Any]]) -> None:
    """Fill each row's ``associations.contacts`` as the list endpoint would, from batch reads:
    one for the page, then one more for every record still paged (its ``after``), until none is."""
    if not rows:
        return
    api = client.api.crm.associations.v4.batch_api
    by_id: dict[str, list[dict[str, str]]] = {}
    inputs: list[dict[str, str]] = [{"id": str(r["id"])} for r in rows]
    asked: set[tuple[str, str]] = set()
    while inputs:
        res = (
            client.call(
                f"{kind}.associations",
                api.get_page,
                from_object_type=kind,
                to_object_type="contacts",
                batch_input_public_fetch_associations_batch_request={"inputs": inputs},
            )
            or {}
        )
        for fid, to in associated_ids(res).items():
            by_id.setdefault(fid, []).extend(to)
        # a token already sent would read the same page again: never loop on one
        inputs = [i for i in next_pages(res) if (i["id"], i["after"]) not in asked]
        asked.update((i["id"], i["after"]) for i in inputs)
    for r in rows:
        r["associations"] = {"contacts": {"results": by_id.get(str(r["id"]), [])}}
