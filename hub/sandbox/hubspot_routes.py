"""HubSpot look-alike, part two: properties and groups, owners, Lists v3, activities.

A mixin of route handlers for ``HubSpotApp`` (hubspot_server.py), which owns routing, auth,
limits and the shared helpers (``_body``, ``_list``...). Split out only to keep modules small.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.sandbox.clock import iso_ms
from hub.sandbox.httpkit import HttpError, Request, Response
from hub.sandbox.hubspot_errors import err as _err
from hub.sandbox.hubspot_schema import refusal
from hub.sandbox.hubspot_state import ASSOCIATION_TYPES, ENGAGEMENT_TYPES

OWNER_PAGE_MAX = 500
#: HubSpot's wording for a second list of one name is not documented; what tells the refusal is
#: its subCategory ILS.DUPLICATE_LIST_NAMES (segmentio/action-destinations checks that), so a
#: caller must not read this message
DUPLICATE_LIST_MESSAGE = "A list named {name} already exists."


def _flag(value: str | None) -> bool:
    """A boolean query parameter as HubSpot reads it: only ``true`` (any case) is true."""
    return (value or "").lower() == "true"


class HubSpotExtraRoutes:
    """Handlers that need only ``self.hs``, ``self.world``, ``self.log`` and ``self.limits``."""

    hs: Any
    world: Any
    log: Any
    limits: Any
    daily: Any

    def daily_reset_ms(self) -> int:
        raise NotImplementedError

    def _body(self, req: Request) -> dict[str, Any]:
        raise NotImplementedError

    def _contacts_only(self, req: Request) -> None:
        raise NotImplementedError

    # ---- properties ----------------------------------------------------------------------
    def list_properties(self, req: Request) -> Response:
        self._contacts_only(req)
        return Response(200, {"results": [self.hs.definition(n) for n in self.hs.properties]})

    def get_property(self, req: Request) -> Response:
        p = self.hs.definition(req.params["propertyName"])
        if p is None:
            return _err(404, f"Unable to find property {req.params['propertyName']}", "OBJECT_NOT_FOUND")
        return Response(200, p)

    def update_property(self, req: Request) -> Response:
        """PATCH a property: ``options`` sent replace the property's options (HubSpot's rule)."""
        self._contacts_only(req)
        p = self.hs.properties.get(req.params["propertyName"])
        if p is None:
            return _err(404, f"Unable to find property {req.params['propertyName']}", "OBJECT_NOT_FOUND")
        b = self._body(req)
        if "options" in b:
            if p["type"] != "enumeration":
                return _err(400, f"options only apply to enumeration properties, not {p['type']}", "VALIDATION_ERROR")
            values = [str(o.get("value")) for o in b["options"]]
            if len(set(values)) != len(values) or not all(o.get("label") for o in b["options"]):
                return _err(400, "options need a label and a unique value each", "VALIDATION_ERROR")
            p["options"] = [dict({"hidden": False, "displayOrder": i}, **o) for i, o in enumerate(b["options"])]
        for key in ("label", "description", "groupName"):
            if key in b:
                p[key] = b[key]
        p["updatedAt"] = iso_ms(self.world.clock.now_ms())
        return Response(200, p)

    def create_property(self, req: Request) -> Response:
        self._contacts_only(req)
        b = self._body(req)
        refused = refusal(b, set(self.hs.properties), set(self.hs.groups))
        if refused is not None:
            return refused
        now = iso_ms(self.world.clock.now_ms())
        p = {
            "name": b["name"],
            "label": b["label"],
            "type": b["type"],
            "fieldType": b["fieldType"],
            "groupName": b["groupName"],
            "description": b.get("description", ""),
            "options": [dict({"hidden": False, "displayOrder": i}, **o) for i, o in enumerate(b.get("options") or [])],
            "hubspotDefined": False,
            "hidden": bool(b.get("hidden", False)),
            "formField": bool(b.get("formField", False)),
            "calculated": False,
            "externalOptions": False,
            "archived": False,
            # a custom property: its definition and value are the portal's to change
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
            "hasUniqueValue": bool(b.get("hasUniqueValue", False)),
            "createdAt": now,
            "updatedAt": now,
        }
        self.hs.properties[p["name"]] = p
        self.log.record(
            self.world.clock.now_ms(),
            "hubspot",
            f"POST {req.route}",
            "property",
            p["name"],
            "create",
            None,
            None,
            p["type"],
        )
        return Response(201, p)

    def list_groups(self, req: Request) -> Response:
        return Response(200, {"results": list(self.hs.groups.values())})

    def get_group(self, req: Request) -> Response:
        g = self.hs.groups.get(req.params["groupName"])
        return Response(200, g) if g else _err(404, "group not found", "OBJECT_NOT_FOUND")

    def create_group(self, req: Request) -> Response:
        b = self._body(req)
        if not b.get("name") or not b.get("label"):
            return _err(400, "name and label are required", "VALIDATION_ERROR")
        if b["name"] in self.hs.groups:
            return _err(
                409,
                f"A property group named '{b['name']}' already exists.",
                "OBJECT_ALREADY_EXISTS",
            )
        g = {
            "name": b["name"],
            "label": b["label"],
            "displayOrder": int(b.get("displayOrder", -1)),
            "archived": False,
        }
        self.hs.groups[g["name"]] = g
        return Response(201, g)

    # ---- owners --------------------------------------------------------------------------
    def owners(self, req: Request) -> Response:
        """``GET /crm/v3/owners``: active owners only unless ``archived=true``, which lists only
        the archived ones (owners guide; the parameter reads "whether to return only results
        that have been archived"); at most 500 a page (v2 sunset notice: "up to 500 records at a
        time"). A larger ``limit`` is refused here as the contacts list refuses one over 100;
        HubSpot does not document its answer to it."""
        limit = int(req.arg("limit") or 100)
        if not 1 <= limit <= OWNER_PAGE_MAX:
            return _err(400, f"limit must be between 1 and {OWNER_PAGE_MAX}, not {limit}", "VALIDATION_ERROR")
        archived = _flag(req.arg("archived"))
        rows = [o for o in self.hs.owners if o["archived"] == archived]
        email = req.arg("email")
        if email:
            rows = [o for o in rows if o["email"] == email]
        after = int(req.arg("after") or 0)
        page = rows[after : after + limit]
        body: dict[str, Any] = {"results": page}
        if after + limit < len(rows):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return Response(200, body)

    def owner(self, req: Request) -> Response:
        """``GET /crm/v3/owners/{ownerId}``: by ``id`` or ``idProperty=userId``; an archived owner
        is found only with ``archived=true``, an active one only without it."""
        archived = _flag(req.arg("archived"))
        by = req.arg("idProperty") or "id"
        if by not in ("id", "userId"):
            return _err(400, f"idProperty must be id or userId, not {by!r}", "VALIDATION_ERROR")
        key = "id" if by == "id" else "userIdIncludingInactive"
        for o in self.hs.owners:
            if str(o[key]) == req.params["ownerId"] and o["archived"] == archived:
                return Response(200, o)
        return _err(404, "Owner not found", "OBJECT_NOT_FOUND")

    # ---- lists ---------------------------------------------------------------------------
    def _list_view(self, lst: dict[str, Any]) -> dict[str, Any]:
        return {
            "listId": lst["listId"],
            "name": lst["name"],
            "processingType": lst["processingType"],
            "objectTypeId": lst["objectTypeId"],
            "processingStatus": lst["processingStatus"],
            "listVersion": lst["listVersion"],
            "size": len(lst["members"]),
            "createdAt": iso_ms(lst["createdAt"]),
            "updatedAt": iso_ms(lst["updatedAt"]),
        }

    def _list(self, req: Request) -> dict[str, Any]:
        lst = self.hs.lists.get(req.params["listId"])
        if lst is None:
            raise HttpError(_err(404, f"List {req.params['listId']} does not exist.", "OBJECT_NOT_FOUND"))
        return lst

    def create_list(self, req: Request) -> Response:
        b = self._body(req)
        if not b.get("name") or not b.get("objectTypeId") or not b.get("processingType"):
            return _err(400, "name, objectTypeId and processingType are required", "VALIDATION_ERROR")
        if b["processingType"] not in ("MANUAL", "SNAPSHOT", "DYNAMIC"):
            return _err(
                400,
                f"processingType {b['processingType']} is not one of MANUAL, SNAPSHOT, DYNAMIC",
                "VALIDATION_ERROR",
            )
        if b["processingType"] == "DYNAMIC" and not b.get("filterBranch"):
            return _err(400, "a DYNAMIC list needs a filterBranch", "VALIDATION_ERROR")
        if any(lst["name"] == b["name"] for lst in self.hs.lists.values()):
            return _err(
                400,
                DUPLICATE_LIST_MESSAGE.format(name=b["name"]),
                "VALIDATION_ERROR",
                subCategory="ILS.DUPLICATE_LIST_NAMES",
            )
        lst = self.hs.create_list(b["name"], b["processingType"], b["objectTypeId"])
        return Response(200, {"list": self._list_view(lst)})

    def get_lists(self, req: Request) -> Response:
        ids = req.args("listIds")
        return Response(200, {"lists": [self._list_view(self.hs.lists[i]) for i in ids if i in self.hs.lists]})

    def get_list(self, req: Request) -> Response:
        return Response(200, {"list": self._list_view(self._list(req))})

    def delete_list(self, req: Request) -> Response:
        lst = self._list(req)
        del self.hs.lists[lst["listId"]]
        return Response(204)

    def list_by_name(self, req: Request) -> Response:
        """A list by name among the lists of ``objectTypeId``; the name "is not case sensitive"
        (HubSpot's Lists v3 reference, Fetch List by Name, path parameter listName)."""
        name, kind = req.params["listName"].casefold(), req.params["objectTypeId"]
        for lst in self.hs.lists.values():
            if lst["name"].casefold() == name and lst["objectTypeId"] == kind:
                return Response(200, {"list": self._list_view(lst)})
        return _err(404, f"List {req.params['listName']} does not exist.", "OBJECT_NOT_FOUND")

    def search_lists(self, req: Request) -> Response:
        b = self._body(req)
        q = str(b.get("query") or "").lower()
        rows = [lst for lst in self.hs.lists.values() if q in lst["name"].lower()]
        off, count = int(b.get("offset") or 0), int(b.get("count") or 20)
        page = rows[off : off + count]
        return Response(
            200,
            {
                "lists": [dict(self._list_view(x), additionalProperties={}) for x in page],
                "total": len(rows),
                "offset": off + len(page),
                "hasMore": off + count < len(rows),
            },
        )

    def memberships(self, req: Request) -> Response:
        lst = self._list(req)
        after = int(req.arg("after") or 0)
        limit = min(int(req.arg("limit") or 100), 250)
        rows = sorted((int(r), ts) for r, ts in lst["members"].items() if int(r) > after)
        page = rows[:limit]
        body: dict[str, Any] = {
            "results": [{"recordId": str(r), "membershipTimestamp": iso_ms(ts)} for r, ts in page],
            "total": len(lst["members"]),
        }
        if len(rows) > limit:
            body["paging"] = {"next": {"after": str(page[-1][0])}}
        return Response(200, body)

    def _ids(self, req: Request) -> list[str]:
        b = req.json()
        if not isinstance(b, list):
            raise HttpError(_err(400, "Body must be a JSON array of record ids", "VALIDATION_ERROR"))
        return [str(x) for x in b]

    def _manual(self, lst: dict) -> Response | None:
        """Memberships change by API only on MANUAL and SNAPSHOT lists; HubSpot keeps a DYNAMIC
        (active) list's members by its filters (developers.hubspot.com: "Add records to a list").
        HubSpot's status and body for the refusal are not recorded anywhere we found; 400
        VALIDATION_ERROR and this message are ours."""
        if lst.get("processingType") == "DYNAMIC":
            return _err(
                400,
                f"List {lst['listId']} has processingType DYNAMIC; memberships can only be changed for "
                "MANUAL or SNAPSHOT lists",
                "VALIDATION_ERROR",
            )
        return None

    def members_add(self, req: Request) -> Response:
        lst = self._list(req)
        if (refused := self._manual(lst)) is not None:
            return refused
        return Response(200, self.hs.change_membership(lst["listId"], self._ids(req), [], f"PUT {req.route}"))

    def members_remove(self, req: Request) -> Response:
        lst = self._list(req)
        if (refused := self._manual(lst)) is not None:
            return refused
        return Response(200, self.hs.change_membership(lst["listId"], [], self._ids(req), f"PUT {req.route}"))

    def members_add_remove(self, req: Request) -> Response:
        lst = self._list(req)
        if (refused := self._manual(lst)) is not None:
            return refused
        b = self._body(req)
        # both lists are required (Lists v3 spec, MembershipChangeRequest); the wording is
        # HubSpot's for an unset required field (its Flows v4 answer, airbytehq/airbyte#83314)
        unset = [k for k in ("recordIdsToAdd", "recordIdsToRemove") if not isinstance(b.get(k), list)]
        if unset:
            return _err(400, f"Some required fields were not set: [{', '.join(unset)}]", "VALIDATION_ERROR")
        return Response(
            200,
            self.hs.change_membership(
                lst["listId"],
                [str(x) for x in b["recordIdsToAdd"]],
                [str(x) for x in b["recordIdsToRemove"]],
                f"PUT {req.route}",
            ),
        )

    def record_memberships(self, req: Request) -> Response:
        rid = self.hs.resolve(req.params["recordId"]) or req.params["recordId"]
        rows = [
            {
                "listId": lst["listId"],
                "listVersion": lst["listVersion"],
                "firstAddedTimestamp": iso_ms(lst["members"][rid]),
                "lastAddedTimestamp": iso_ms(lst["members"][rid]),
            }
            for lst in self.hs.lists.values()
            if rid in lst["members"]
        ]
        return Response(200, {"results": rows, "total": len(rows)})

    # ---- activities ----------------------------------------------------------------------
    def associations_read(self, req: Request) -> Response:
        """Associations v4 batch read, meetings, calls or deals -> contacts (at most 1,000
        inputs). CRM search returns no associations, so a reader that searches needs this call.
        Each record's associations come a page at a time (``limits.association_page``); a
        record with more carries its own ``paging.next.after``, which an input sends back
        beside its ``id`` for the next page."""
        kind = ENGAGEMENT_TYPES.get(req.params["fromObjectType"])
        if kind is None or req.params["toObjectType"] not in ("contacts", "contact", "0-1"):
            return _err(
                400, "This sandbox reads meeting, call and deal associations to contacts only.", "VALIDATION_ERROR"
            )
        inputs = self._body(req).get("inputs")
        if not isinstance(inputs, list):
            return _err(400, "Invalid input JSON: inputs is required", "VALIDATION_ERROR")
        if len(inputs) > 1000:
            return _err(400, f"Batch input size {len(inputs)} exceeds the limit of 1000", "VALIDATION_ERROR")
        type_id = ASSOCIATION_TYPES[kind][1]
        size = max(1, self.limits.association_page)
        results, errors = [], []
        for inp in inputs:
            fid = str((inp or {}).get("id"))
            rec = self.hs.engagements[kind].get(fid)
            if rec is None or rec["archived"] or not rec["contacts"]:
                errors.append(_no_associations(fid, kind))
                continue
            start = 0
            if (inp or {}).get("after"):
                key = _untoken(str(inp["after"]))
                if key is None or key[1] != fid:  # HubSpot's wording for a foreign token is not recorded
                    return _err(400, f"Invalid paging token for object {fid}", "VALIDATION_ERROR")
                start = key[0]
            page = rec["contacts"][start : start + size]
            to = [
                {
                    "toObjectId": int(c),
                    "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}],
                }
                for c in page
            ]
            result: dict[str, Any] = {"from": {"id": rec["id"]}, "to": to}
            if start + size < len(rec["contacts"]):  # paged per record, and only when more remain
                after = _token((start + size, fid))
                result["paging"] = {"next": {"after": after}}  # "link" is deprecated: left out
            results.append(result)
        now = iso_ms(self.world.clock.now_ms())
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now,
            "completedAt": now,
            "links": {},
        }
        if errors:
            body["errors"], body["numErrors"] = errors, len(errors)
            return Response(207, body)
        return Response(200, body)

    def email_events(self, req: Request) -> Response:
        start = int(req.arg("startTimestamp") or 0)
        end = int(req.arg("endTimestamp") or 2**62)
        limit = min(int(req.arg("limit") or 100), 1000)
        offset = int(req.arg("offset") or 0)
        etype = req.arg("eventType")
        recipient = (req.arg("recipient") or "").lower()
        rows = [
            (k, e)
            for k, e in enumerate(self.hs.email_events)
            if k >= offset
            and start <= e["created"] <= end
            and (not etype or e["type"] == etype)
            and (not recipient or e["recipient"].lower() == recipient)
        ]
        page = rows[:limit]
        more = len(rows) > limit
        return Response(
            200,
            {
                "events": [e for _, e in page],
                "hasMore": more,
                "offset": str(page[-1][0] + 1 if page else offset),
            },
        )

    def form_submissions(self, req: Request) -> Response:
        """Newest first ("returned in reverse-chronological order", HubSpot's Forms v1 reference)
        with an opaque ``after``: a page token that resumes strictly after the last row served,
        so submissions arriving meanwhile do not shift the pages. 1 <= limit <= 50."""
        guid = req.params["formGuid"]
        if guid not in {f["id"] for f in self.hs.forms}:
            return _err(404, "Form not found", "OBJECT_NOT_FOUND")
        limit = min(int(req.arg("limit") or 20), 50)
        rows = sorted(
            (s for s in self.hs.form_submissions if s.get("formGuid", guid) == guid),
            key=lambda s: (s["submittedAt"], s["conversionId"]),
            reverse=True,
        )
        raw = req.arg("after")
        if raw:
            key = _untoken(raw)
            if key is None:
                return _err(400, f"Invalid paging token: {raw[:40]}", "VALIDATION_ERROR")
            rows = [s for s in rows if (s["submittedAt"], s["conversionId"]) < key]
        page = rows[:limit]
        body: dict[str, Any] = {"results": [{k: v for k, v in s.items() if k != "formGuid"} for s in page]}
        if len(rows) > limit:
            tok = _token((page[-1]["submittedAt"], page[-1]["conversionId"]))
            body["paging"] = {"next": {"after": tok, "link": f"{req.path}?after={tok}"}}
        return Response(200, body)

    def forms(self, req: Request) -> Response:
        """Marketing v3 forms, paged by an opaque ``after`` (limit at most 100)."""
        limit = min(int(req.arg("limit") or 20), 100)
        start = 0
        if req.arg("after"):
            key = _untoken(req.arg("after") or "")
            if key is None:
                return _err(400, "Invalid paging token", "VALIDATION_ERROR")
            start = int(key[0])
        # the FormDefinitionBase fields HubSpot's spec requires at the top (hubspot-api-client's
        # model); field groups and display options are left out, the hub reads none of them
        stamp = "2025-06-01T00:00:00Z"
        page = [
            {"formType": "hubspot", "createdAt": stamp, "updatedAt": stamp, "archived": False, **f}
            for f in self.hs.forms[start : start + limit]
        ]
        body: dict[str, Any] = {"results": page}
        if start + limit < len(self.hs.forms):
            tok = _token((start + limit, ""))
            body["paging"] = {"next": {"after": tok, "link": f"{req.path}?after={tok}"}}
        return Response(200, body)

    def api_usage(self, req: Request) -> Response:
        return Response(
            200,
            [
                {
                    "name": "private-apps-api-calls-daily",
                    "usageLimit": self.limits.per_day,
                    "currentUsage": self.daily.used,
                    "collectedAt": iso_ms(self.world.clock.now_ms()),
                    "fetchStatus": "SUCCESS",
                    "resetsAt": iso_ms(self.daily_reset_ms()),  # midnight in the account's zone
                }
            ],
        )

    def account_details(self, req: Request) -> Response:
        return Response(
            200,
            {
                "portalId": self.hs.portal_id,
                "timeZone": self.limits.time_zone,
                "companyCurrency": "USD",
                "utcOffset": _utc_offset(self.limits.time_zone, self.world.clock.peek_ms()),  # no stamp taken
                "accountType": "STANDARD",
                "dataHostingLocation": "na1",
            },
        )

    def token_info(self, req: Request) -> Response:
        """Private-app token introspection: which scopes the token was granted."""
        body = self._body(req)
        if body.get("tokenKey") != self.token:
            return _err(404, "Token not found", "OBJECT_NOT_FOUND")
        return Response(200, {"userId": 1, "hubId": self.hs.portal_id, "appId": 113, "scopes": sorted(self.scopes)})


def _no_associations(from_id: str, kind: str) -> dict[str, Any]:
    """HubSpot's error for a record with no association to contacts, one per record, as
    integrations reading v4 batch associations recorded it ("No company is associated with
    deal 515690208449.", subCategory crm.associations.NO_ASSOCIATIONS_FOUND). A record that
    does not exist gets the same answer (HubSpot's for it is not recorded apart)."""
    singular = kind.removesuffix("s")
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
        "message": f"No contact is associated with {singular} {from_id}.",
        "context": {"fromObjectId": [from_id], "fromObjectType": [singular], "toObjectType": ["contact"]},
    }


def _token(key: tuple[int, str]) -> str:
    """An opaque paging token (clients must not read or make one up)."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _untoken(raw: str) -> tuple[int, str] | None:
    try:
        key = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return int(key[0]), str(key[1])
    except (ValueError, TypeError, IndexError, KeyError):
        return None


def _utc_offset(zone: str, ms: int) -> str:
    """The zone's offset at ``ms`` as HubSpot writes it in account details: "-05:00"."""
    text = datetime.fromtimestamp(ms / 1000, ZoneInfo(zone)).strftime("%z")
    return f"{text[:3]}:{text[3:]}"
