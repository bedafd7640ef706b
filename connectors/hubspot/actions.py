"""Push writers: fields and owner through batch update (100 records per call), list
membership through Lists v3 (one add-and-remove call per list). One result per request.

A merge retires both ids for a new record; the old ids still resolve to it. HubSpot refuses a
batch whose inputs land on one record (400 "Duplicate IDs found in batch input") and answers an
old id with the new record's id, so requests are keyed by the id their record lives on now:
merges seen in sync or in answers are remembered, results are matched by ``objectWriteTraceId``,
and a duplicate-ids refusal is resolved with one batch read before the batch is sent again."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from connectors.hubspot.client import HubSpotClient, HubSpotRequestError
from connectors.hubspot.mapping import MERGED_PROPERTY, field_value, merged_ids, property_name
from hub.connector import results_of_error
from hub.errors import ConnectorError, RetryableError
from hub.models import ActionKind, PushRequest, PushResult

OWNER_PROPERTY = "hubspot_owner_id"
BATCH = 100
#: owners are read again after this long (a worker lives for days; owners come and go), and
#: at once when a push names an owner not in the list read (once per push call)
OWNER_CACHE_SECONDS = 600.0
#: owners per page: HubSpot's largest (v2 Owners sunset notice: "up to 500 records at a time")
OWNER_PAGE = 500
#: HubSpot's errors about a property, whatever the value: splitting the batch cannot help
PROPERTY_ERRORS = ("PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE")
#: HubSpot's error for an owner id that is not an active owner (archived since we read owners)
OWNER_ERRORS = ("INVALID_OWNER_ID",)
#: the subCategory of HubSpot's refusal of a second list of one name
DUPLICATE_LIST = "ILS.DUPLICATE_LIST_NAMES"
Ready = tuple[str, list[PushRequest], dict[str, str]]  # record id, its requests, the properties to write


class ListNotManual(Exception):
    """A hub list's name is taken by a list whose members the hub cannot change (an active list,
    or a list of another object type)."""


class Writers:
    def __init__(self, client: HubSpotClient, mapping: dict[str, str], list_prefix: str):
        self.client = client
        self.mapping = mapping
        self.list_prefix = list_prefix
        self._owners: set[str] | None = None
        self._owners_at = 0.0
        self._lists: dict[str, str] = {}
        self.merged: dict[str, str] = {}  # an id a merge retired -> the record that replaced it

    def note_merge(self, old: str, new: str) -> None:
        """Remember that ``old`` now resolves to ``new`` (from a sync page or a batch answer)."""
        if old != new:
            self.merged[old] = new

    def resolve(self, rid: str) -> str:
        """The id ``rid``'s record lives on as, after the merges known so far."""
        for _ in range(10):  # a chain of merges, never a loop
            if rid not in self.merged:
                break
            rid = self.merged[rid]
        return rid

    # -- lookups ----------------------------------------------------------------------------
    def owners(self, fresh: bool = False) -> set[str]:
        """Active owner ids (``hubspot_owner_id`` takes the owner id, never the user id), read
        again every ``OWNER_CACHE_SECONDS`` or when ``fresh`` is asked."""
        stale = fresh or time.monotonic() - self._owners_at > OWNER_CACHE_SECONDS
        if self._owners is None or stale:
            self._owners, self._owners_at = self.read_owners(archived=False), time.monotonic()
        return self._owners

    def read_owners(self, archived: bool) -> set[str]:
        """Owner ids, every page: the active ones, or with ``archived`` only the archived ones
        (HubSpot lists one kind or the other, never both)."""
        api = self.client.api.crm.owners.owners_api
        ids: set[str] = set()
        after = None
        while True:
            kwargs: dict[str, Any] = {"limit": OWNER_PAGE, "archived": archived}
            if after:
                kwargs["after"] = after
            res = self.client.call("owners.list", api.get_page, **kwargs) or {}
            ids |= {str(o["id"]) for o in res.get("results") or [] if o.get("id")}
            after = ((res.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return ids

    def list_id(self, name: str) -> str:
        """The MANUAL list for a hub list name, created on first use."""
        full = f"{self.list_prefix}{name}"
        if full in self._lists:
            return self._lists[full]
        api = self.client.api.crm.lists.lists_api
        try:
            res = self.client.call("lists.get_by_name", api.get_by_name, list_name=full, object_type_id="0-1")
        except HubSpotRequestError as exc:
            if exc.status != 404:
                raise
            try:
                res = self.client.call(
                    "lists.create",
                    api.create,
                    list_create_request={"name": full, "objectTypeId": "0-1", "processingType": "MANUAL"},
                )
            except HubSpotRequestError as create:
                # a create whose answer was lost (a 504 retried) made the list: the retry is
                # refused as a duplicate name, and the list is there to read. The refusal is told
                # by its subCategory (segmentio/action-destinations checks it); the message's
                # wording is not documented
                if create.status != 400 or create.body.get("subCategory") != DUPLICATE_LIST:
                    raise
                res = self._taken(full)
        if res["list"].get("processingType") == "DYNAMIC":  # HubSpot keeps its members by its filters
            raise ListNotManual(
                f"list {full!r} is an active (DYNAMIC) list in HubSpot, whose members HubSpot keeps by its "
                "filters; the hub adds to MANUAL lists only: rename that list in HubSpot or set list_prefix"
            )
        self._lists[full] = str(res["list"]["listId"])
        return self._lists[full]

    def _taken(self, full: str) -> dict[str, Any]:
        """The contact list named ``full`` after a create refused as a duplicate name: one made
        by a create whose answer was lost. A name is unique across the portal but looked up
        within one object type (Lists v3 spec: names are "globally unique relative to all other
        public lists in the portal"), so none found means a list of another object has it."""
        api = self.client.api.crm.lists.lists_api
        try:
            return self.client.call("lists.get_by_name", api.get_by_name, list_name=full, object_type_id="0-1")
        except HubSpotRequestError as exc:
            if exc.status != 404:
                raise
        raise ListNotManual(
            f"list {full!r} cannot be made in HubSpot: a list of another object type (companies, deals...) "
            "has that name, and list names are unique across a portal: rename that list in HubSpot or set "
            "list_prefix"
        )

    # -- writing ----------------------------------------------------------------------------
    def push(self, requests: list[PushRequest]) -> list[PushResult]:
        results: dict[int, PushResult] = {}
        props: dict[str, list[PushRequest]] = defaultdict(list)
        lists: dict[str, list[PushRequest]] = defaultdict(list)
        reread: list[bool] = []  # owners read again in this call already
        for req in requests:
            kind = req.action.kind
            if kind is ActionKind.ASSIGN_OWNER and not self._active_owner(str(req.action.payload.get("owner")), reread):
                results[req.push_id] = PushResult(
                    push_id=req.push_id,
                    status="failed",
                    reason=f"owner {req.action.payload.get('owner')!r} is not an active HubSpot owner",
                )
            elif kind in (ActionKind.SET_FIELDS, ActionKind.ASSIGN_OWNER):
                props[self.resolve(req.identity.external_id)].append(req)
            else:
                lists[str(req.action.payload["list"])].append(req)
        ids = list(props)
        try:
            for i in range(0, len(ids), BATCH):
                results.update(self._update([(r, props[r]) for r in ids[i : i + BATCH]]))
            for name, reqs in lists.items():
                results.update(self._memberships(name, reqs))
        except ConnectorError as exc:  # what landed before the error keeps its result
            results.update(results_of_error([r.push_id for r in requests if r.push_id not in results], exc))
        return [results[r.push_id] for r in requests]

    def _active_owner(self, owner: str, reread: list[bool]) -> bool:
        """Is ``owner`` active? An id not in the owners read may be an owner added since: read
        them again, once per push call, before refusing the push for good."""
        if owner in self.owners():
            return True
        if not reread:
            reread.append(True)
            return owner in self.owners(fresh=True)
        return False

    def _properties(self, reqs: list[PushRequest]) -> dict[str, str]:
        out: dict[str, str] = {}
        for req in reqs:
            if req.action.kind is ActionKind.ASSIGN_OWNER:
                out[OWNER_PROPERTY] = str(req.action.payload["owner"])
            else:
                for f, v in req.action.payload.get("fields", {}).items():
                    out[property_name(f, self.mapping)] = field_value(f, v, self.client.local_zone())
        return out

    def _update(self, groups: list[tuple[str, list[PushRequest]]]) -> dict[int, PushResult]:
        out: dict[int, PushResult] = {}
        ready: list[Ready] = []
        for rid, g in groups:
            try:
                ready.append((rid, g, self._properties(g)))
            except ValueError as exc:  # a value no HubSpot property takes: this record only
                out.update({r.push_id: PushResult(push_id=r.push_id, status="failed", reason=str(exc)) for r in g})
        if ready:
            out.update(self._send(ready))
        return out

    def _send(self, ready: list[Ready], resolved: bool = False) -> dict[int, PushResult]:
        inputs = [{"id": rid, "properties": p, "objectWriteTraceId": str(k)} for k, (rid, _, p) in enumerate(ready)]
        api = self.client.api.crm.contacts.batch_api
        try:
            res = (
                self.client.call(
                    "contacts.batch_update", api.update, batch_input_simple_public_object_batch_input={"inputs": inputs}
                )
                or {}
            )
        except HubSpotRequestError as exc:
            if exc.status == 400 and not resolved and "Duplicate IDs" in str(exc.body.get("message")):
                # two inputs are one record (an id a merge retired beside the new one): learn the
                # merges with one batch read and send each record once
                return self._send(self._regroup(ready), resolved=True)
            if exc.status == 400 and OWNER_PROPERTY in _refused(exc, OWNER_ERRORS):
                retired = self._retire_owners(ready, resolved)
                if retired is not None:
                    return retired
            named = _refused(exc, PROPERTY_ERRORS) if exc.status == 400 else set()
            if named:
                # a property that does not exist or is read-only refuses every input that
                # writes it, whatever its value: fail those at once, send the rest once more
                # (halving to single records cost 199 refused calls for 100 pushes)
                bad = [x for x in ready if named & set(x[2])]
                good = [x for x in ready if not named & set(x[2])]
                if bad:
                    reason = f"HubSpot refused the property: {_message(exc)}"
                    if _refused(exc, ("PROPERTY_DOESNT_EXIST",)):
                        reason += ". Create the hub's properties with `hub connectors setup`, then `hub pushes retry`."
                    out = {
                        r.push_id: PushResult(push_id=r.push_id, status="failed", reason=reason)
                        for _, g, _ in bad
                        for r in g
                    }
                    return {**out, **(self._send(good, resolved) if good else {})}
            if exc.status == 400 and len(ready) > 1:
                # HubSpot refuses the whole batch for one invalid value (400 VALIDATION_ERROR, naming
                # the property but not the record): split it until the bad record stands alone,
                # as Hightouch's split retries do; a clean half costs one call
                half = len(ready) // 2
                return {**self._send(ready[:half], resolved), **self._send(ready[half:], resolved)}
            reason = f"HubSpot refused {'the record' if len(ready) == 1 else 'the batch'}: {_message(exc)}"
            return {
                r.push_id: PushResult(push_id=r.push_id, status="failed", reason=reason) for _, g, _ in ready for r in g
            }
        errors: dict[str, str] = {}
        for err in res.get("errors") or []:
            for rid in (err.get("context") or {}).get("ids") or []:
                errors[str(rid)] = f"{err.get('category', 'ERROR')}: {err.get('message', '')}"
        answered = self._answered(ready, res.get("results") or [])
        out = {}
        for k, (rid, g, _) in enumerate(ready):
            for r in g:
                if rid in errors:
                    out[r.push_id] = PushResult(push_id=r.push_id, status="failed", reason=errors[rid])
                elif k in answered:
                    out[r.push_id] = PushResult(push_id=r.push_id, status="ok")
                else:
                    out[r.push_id] = PushResult(
                        push_id=r.push_id, status="retryable", reason="HubSpot returned no result for this record"
                    )
        return out

    def _retire_owners(self, ready: list[Ready], resolved: bool) -> dict[int, PushResult] | None:
        """HubSpot refused an owner we thought active (archived since we read the owners): read
        them again, fail the assignments to owners gone, and send the rest of the batch, fields
        of the same records included. None when every owner sent is still active."""
        active = self.owners(fresh=True)
        out: dict[int, PushResult] = {}
        rest: list[Ready] = []
        for rid, g, props in ready:
            owner = props.get(OWNER_PROPERTY)
            if owner is None or owner in active:
                rest.append((rid, g, props))
                continue
            reason = f"owner {owner!r} is not an active HubSpot owner (archived in HubSpot)"
            out.update(
                {r.push_id: PushResult(push_id=r.push_id, status="failed", reason=reason) for r in g if _assigns(r)}
            )
            fields = [r for r in g if not _assigns(r)]
            if fields:
                rest.append((rid, fields, self._properties(fields)))
        if not out:
            return None
        return {**out, **(self._send(rest, resolved) if rest else {})}

    def _answered(self, ready: list[Ready], results: list[dict]) -> set[int]:
        """Inputs (by position) with a result, by trace id, else by the id sent. A traced result
        for another id than sent is a merge: HubSpot answers an old id with the new record."""
        got: dict[int, str] = {}
        untraced: list[str] = []
        for r in results:
            trace = str(r.get("objectWriteTraceId"))
            if trace.isdigit() and int(trace) < len(ready):
                got[int(trace)] = str(r.get("id"))
            else:
                untraced.append(str(r.get("id")))
        for k, (rid, _, _) in enumerate(ready):
            if k not in got and rid in untraced:
                got[k] = rid
                untraced.remove(rid)
        for k, new in got.items():
            self.note_merge(ready[k][0], new)
        return set(got)

    def _regroup(self, ready: list[Ready]) -> list[Ready]:
        """The batch with the merges HubSpot knows applied: one input per record, its requests
        in push order (a later push's value wins, as within one record)."""
        api = self.client.api.crm.contacts.batch_api
        try:
            res = (
                self.client.call(
                    "contacts.batch_read",
                    api.read,
                    batch_read_input_simple_public_object_id={
                        "inputs": [{"id": rid} for rid, _, _ in ready],
                        "properties": [MERGED_PROPERTY],
                    },
                )
                or {}
            )
        except HubSpotRequestError:
            return ready  # the split path still gets every record written
        for r in res.get("results") or []:
            for old in merged_ids(r):
                self.note_merge(old, str(r.get("id")))
        groups: dict[str, list[PushRequest]] = defaultdict(list)
        for rid, g, _ in ready:
            groups[self.resolve(rid)] += g
        return [(rid, g, self._properties(sorted(g, key=lambda r: r.push_id))) for rid, g in groups.items()]

    def _memberships(self, name: str, reqs: list[PushRequest], again: bool = True) -> dict[int, PushResult]:
        try:
            list_id = self.list_id(name)
        except ListNotManual as exc:
            return {r.push_id: PushResult(push_id=r.push_id, status="failed", reason=str(exc)) for r in reqs}
        except HubSpotRequestError as exc:
            return {
                r.push_id: PushResult(push_id=r.push_id, status="failed", reason=f"list {name!r}: {exc}") for r in reqs
            }
        add = sorted({r.identity.external_id for r in reqs if r.action.kind is ActionKind.ADD_TO_LIST})
        remove = sorted({r.identity.external_id for r in reqs if r.action.kind is ActionKind.REMOVE_FROM_LIST})
        api = self.client.api.crm.lists.memberships_api
        try:
            res = (
                self.client.call(
                    "lists.add_and_remove",
                    api.add_and_remove,
                    list_id=list_id,
                    membership_change_request={"recordIdsToAdd": add, "recordIdsToRemove": remove},
                )
                or {}
            )
        except RetryableError:
            raise
        except HubSpotRequestError as exc:
            if exc.status == 404 and again:  # the list was deleted in HubSpot: find or make it anew
                self._lists.pop(f"{self.list_prefix}{name}", None)
                return self._memberships(name, reqs, again=False)
            return {
                r.push_id: PushResult(push_id=r.push_id, status="failed", reason=f"list {name!r}: {exc}") for r in reqs
            }
        # ids HubSpot could not find were "not added or removed" (Lists v3 spec,
        # MembershipsUpdateResponse): a removal holds all the same, since a record that is gone
        # is in no list (as the Salesforce writer counts removing a non-member); an add fails
        missing = {str(x) for x in res.get("recordIdsMissing") or []}
        return {
            r.push_id: PushResult(push_id=r.push_id, status="failed", reason="record not found in HubSpot")
            if r.identity.external_id in missing and r.action.kind is ActionKind.ADD_TO_LIST
            else PushResult(push_id=r.push_id, status="ok")
            for r in reqs
        }


def _items(exc: HubSpotRequestError) -> list[dict[str, Any]]:
    """The per-property items of HubSpot's "Property values were not valid: [...]" message (the
    same body on single-record and batch writes), or [] for any other refusal."""
    message = str(exc.body.get("message") or "")
    start = message.find("[")
    if "Property values were not valid" not in message or start < 0:
        return []
    try:
        items = json.loads(message[start:])
    except ValueError:
        return []
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _refused(exc: HubSpotRequestError, codes: tuple[str, ...]) -> set[str]:
    """The properties a 400 refuses with one of ``codes``."""
    return {str(i.get("name")) for i in _items(exc) if i.get("error") in codes}


def _assigns(req: PushRequest) -> bool:
    """Is this push an owner assignment (as opposed to fields written on the same record)?"""
    return req.action.kind is ActionKind.ASSIGN_OWNER


def _said(item: dict) -> object:
    """An item's message, less the address INVALID_EMAIL quotes ("Email address X is invalid")."""
    return "Email address is invalid" if item.get("error") == "INVALID_EMAIL" else item.get("message")


def _message(exc: HubSpotRequestError) -> str:
    """HubSpot's reason with its category. A validation body is cut to each refused property's
    code, name and message once, without the value sent and portal id HubSpot echoes with each
    (one item per input), so pushes refused for one cause share one reason."""
    body = exc.body
    category = str(body.get("category") or f"HTTP {exc.status}")
    items = _items(exc)
    if not items:
        return f"{category}: {body.get('message') or exc}"
    seen = dict.fromkeys(f"{i.get('error')} {str(i.get('name'))!r}: {_said(i)}" for i in items)
    return f"{category}: Property values were not valid: " + "; ".join(seen)
