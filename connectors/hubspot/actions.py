"""Push writers: fields and owner through batch update (100 records per call), list
membership through Lists v3 (one add-and-remove call per list). One result per request."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from connectors.hubspot.client import HubSpotClient, HubSpotRequestError
from connectors.hubspot.mapping import field_value, property_name
from hub.errors import RetryableError
from hub.models import ActionKind, PushRequest, PushResult

OWNER_PROPERTY = "hubspot_owner_id"
BATCH = 100


class Writers:
    def __init__(self, client: HubSpotClient, mapping: dict[str, str], list_prefix: str, zone: str = "UTC"):
        self.client = client
        self.zone = zone
        self.mapping = mapping
        self.list_prefix = list_prefix
        self._owners: set[str] | None = None
        self._lists: dict[str, str] = {}

    # -- lookups ----------------------------------------------------------------------------
    def owners(self) -> set[str]:
        """Active owner ids (``hubspot_owner_id`` takes the owner id, never the user id)."""
        if self._owners is None:
            api = self.client.api.crm.owners.owners_api
            ids: set[str] = set()
            after = None
            while True:
                kwargs: dict[str, Any] = {"limit": 100, "archived": False}
                if after:
                    kwargs["after"] = after
                res = self.client.call("owners.list", api.get_page, **kwargs) or {}
                ids |= {str(o["id"]) for o in res.get("results") or [] if o.get("id")}
                after = ((res.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
            self._owners = ids
        return self._owners

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
            res = self.client.call(
                "lists.create",
                api.create,
                list_create_request={"name": full, "objectTypeId": "0-1", "processingType": "MANUAL"},
            )
        self._lists[full] = str(res["list"]["listId"])
        return self._lists[full]

    # -- writing ----------------------------------------------------------------------------
    def push(self, requests: list[PushRequest]) -> list[PushResult]:
        results: dict[int, PushResult] = {}
        props: dict[str, list[PushRequest]] = defaultdict(list)
        lists: dict[str, list[PushRequest]] = defaultdict(list)
        for req in requests:
            kind = req.action.kind
            if kind is ActionKind.ASSIGN_OWNER and str(req.action.payload.get("owner")) not in self.owners():
                results[req.push_id] = PushResult(
                    push_id=req.push_id,
                    status="failed",
                    reason=f"owner {req.action.payload.get('owner')!r} is not an active HubSpot owner",
                )
            elif kind in (ActionKind.SET_FIELDS, ActionKind.ASSIGN_OWNER):
                props[req.identity.external_id].append(req)
            else:
                lists[str(req.action.payload["list"])].append(req)
        ids = list(props)
        for i in range(0, len(ids), BATCH):
            results.update(self._update([props[r] for r in ids[i : i + BATCH]]))
        for name, reqs in lists.items():
            results.update(self._memberships(name, reqs))
        return [results[r.push_id] for r in requests]

    def _properties(self, reqs: list[PushRequest]) -> dict[str, str]:
        out: dict[str, str] = {}
        for req in reqs:
            if req.action.kind is ActionKind.ASSIGN_OWNER:
                out[OWNER_PROPERTY] = str(req.action.payload["owner"])
            else:
                for f, v in req.action.payload.get("fields", {}).items():
                    out[property_name(f, self.mapping)] = field_value(f, v, self.zone)
        return out

    def _update(self, groups: list[list[PushRequest]]) -> dict[int, PushResult]:
        out: dict[int, PushResult] = {}
        ready: list[tuple[list[PushRequest], dict[str, str]]] = []
        for g in groups:
            try:
                ready.append((g, self._properties(g)))
            except ValueError as exc:  # a value no HubSpot property takes: this record only
                out.update({r.push_id: PushResult(push_id=r.push_id, status="failed", reason=str(exc)) for r in g})
        if ready:
            out.update(self._send([g for g, _ in ready], [p for _, p in ready]))
        return out

    def _send(self, groups: list[list[PushRequest]], props: list[dict[str, str]]) -> dict[int, PushResult]:
        inputs = [{"id": g[0].identity.external_id, "properties": p} for g, p in zip(groups, props, strict=True)]
        api = self.client.api.crm.contacts.batch_api
        try:
            res = (
                self.client.call(
                    "contacts.batch_update", api.update, batch_input_simple_public_object_batch_input={"inputs": inputs}
                )
                or {}
            )
        except HubSpotRequestError as exc:
            if exc.status == 400 and len(groups) > 1:
                # HubSpot refuses the whole batch for one invalid value (400 VALIDATION_ERROR, naming
                # the property but not the record): split it until the bad record stands alone,
                # as Hightouch's split retries do; a clean half costs one call
                half = len(groups) // 2
                return {
                    **self._send(groups[:half], props[:half]),
                    **self._send(groups[half:], props[half:]),
                }
            reason = f"HubSpot refused {'the record' if len(groups) == 1 else 'the batch'}: {_message(exc)}"
            return {r.push_id: PushResult(push_id=r.push_id, status="failed", reason=reason) for g in groups for r in g}
        ok = {str(r.get("id")) for r in res.get("results") or []}
        errors: dict[str, str] = {}
        for err in res.get("errors") or []:
            for rid in (err.get("context") or {}).get("ids") or []:
                errors[str(rid)] = f"{err.get('category', 'ERROR')}: {err.get('message', '')}"
        out = {}
        for g in groups:
            rid = g[0].identity.external_id
            for r in g:
                if rid in errors:
                    out[r.push_id] = PushResult(push_id=r.push_id, status="failed", reason=errors[rid])
                elif rid in ok:
                    out[r.push_id] = PushResult(push_id=r.push_id, status="ok")
                else:
                    out[r.push_id] = PushResult(
                        push_id=r.push_id, status="retryable", reason="HubSpot returned no result for this record"
                    )
        return out

    def _memberships(self, name: str, reqs: list[PushRequest]) -> dict[int, PushResult]:
        try:
            list_id = self.list_id(name)
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
            return {
                r.push_id: PushResult(push_id=r.push_id, status="failed", reason=f"list {name!r}: {exc}") for r in reqs
            }
        missing = {str(x) for x in res.get("recordIdsMissing") or []}
        return {
            r.push_id: PushResult(push_id=r.push_id, status="failed", reason="record not found in HubSpot")
            if r.identity.external_id in missing
            else PushResult(push_id=r.push_id, status="ok")
            for r in reqs
        }


def _message(exc: HubSpotRequestError) -> str:
    """HubSpot's reason, with the category and the failing property where it names them."""
    body = exc.body
    parts = [str(body.get("category") or f"HTTP {exc.status}"), str(body.get("message") or exc)]
    return ": ".join(parts)
