"""A HubSpot look-alike, close enough for the unmodified ``hubspot-api-client``.

CRM v3 contacts (list, get, search with the 10k cap, batch read/update/upsert/create/archive,
merge), properties and groups, owners, Lists v3 memberships, meetings and calls, legacy email
events and form submissions. Private-app bearer auth, HubSpot's rate-limit headers and 429
bodies; every refusal for a limit is counted in the world's write log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.sandbox import hubspot_search as hsq
from hub.sandbox.clock import iso_ms
from hub.sandbox.httpkit import App, Faults, HttpError, Request, Response
from hub.sandbox.hubspot_batch import HubSpotBatchRoutes
from hub.sandbox.hubspot_errors import err as _err
from hub.sandbox.hubspot_errors import missing_scopes, required_scope
from hub.sandbox.hubspot_oauth import TOKEN_LIFETIME_S, HubSpotOAuthRoutes, _any_secret
from hub.sandbox.hubspot_routes import HubSpotExtraRoutes
from hub.sandbox.hubspot_stamps import indexed_stamp
from hub.sandbox.hubspot_state import ENGAGEMENT_TYPES, OWNER_IDS
from hub.sandbox.ratelimit import DailyQuota, RollingWindow
from hub.sandbox.world import World
from hub.secrets import same_secret

SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.deals.read",
    "crm.objects.contacts.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.lists.read",
    "crm.lists.write",
    "crm.objects.owners.read",
    "content",
    "forms",
    "sales-email-read",
)
DEFAULT_PROPS = ["email", "firstname", "lastname"]
# The longest request-target (path and query) we answer; longer gets 414 URI Too Long, as a long
# ``?properties=`` list does at HubSpot (dlt-hub/verified-sources#305, airbytehq/airbyte#13691).
# HubSpot documents no number: reports put it between ~8 KB and ~16,200 characters (PostHog
# PR #31617 measured the latter); this is the conservative end, our choice, not HubSpot's.
MAX_URI_BYTES = 8_192
CONTACT_TYPES = ("contacts", "contact", "0-1")
# what every answer carries, asked for or not: HubSpot's search guide lists them among each
# object's defaults (contacts: createdate, lastmodifieddate, hs_object_id; deals: createdate,
# hs_lastmodifieddate; engagements: hs_createdate, hs_lastmodifieddate, hs_object_id)
ALWAYS = {
    "contacts": ["createdate", "lastmodifieddate", "hs_object_id"],
    "deals": ["createdate", "hs_lastmodifieddate", "hs_object_id"],
    "meetings": ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
    "calls": ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
}
# what list and search return when no properties are asked for (the guide's tables; engagements
# return only the keys above, so ``hs_timestamp`` has to be asked for)
DEFAULT_OBJECT_PROPS = {
    "contacts": DEFAULT_PROPS,
    "meetings": [],
    "calls": [],
    "deals": ["dealname", "amount", "dealstage", "pipeline", "closedate"],
}


@dataclass
class HubSpotLimits:
    """Quotas; defaults are a Professional private app's."""

    per_ten_seconds: int = 190
    per_day: int = 650_000
    search_per_second: int = 5
    # how far search's index is behind: records made since are not found, records changed since
    # are found under their earlier stamp (hubspot_stamps.py). HubSpot says "a few moments";
    # callers report seconds (HubSpot/hubspot-api-php#59; highlight/highlight PR #5183 polls a
    # new contact every 5 s). Never 0 by default: an instant index hides write-then-search bugs.
    search_lag_ms: int = 5_000
    # the account's time zone: the daily limit resets at midnight there, not in UTC (usage
    # guidelines; integration-anchors.md section A)
    time_zone: str = "America/New_York"
    # associations a v4 batch read returns per record before that record's own ``paging.next``
    # (batch read reference: "The 'after' field in a returned paging object can be added
    # alongside the 'id' to retrieve the next page"). HubSpot does not document the page size
    # (the v3 association reads paged at 500; a v4 read was seen returning 600+ in one result):
    # 500 is the stricter side, and tests set it small to make a reader page.
    association_page: int = 500

    @classmethod
    def tier(cls, name: str) -> HubSpotLimits:
        """HubSpot's burst and daily limits by app type and account tier (usage guidelines;
        changelog "Increasing our API limits"): Free/Starter 100 per 10 s and 250,000 a day,
        Professional 190 and 650,000, Enterprise 190 and 1,000,000; a public OAuth app 110 per
        10 s per account."""
        tiers = {
            "free": (100, 250_000),
            "starter": (100, 250_000),
            "professional": (190, 650_000),
            "enterprise": (190, 1_000_000),
            "oauth_public": (110, 250_000),
        }
        burst, daily = tiers[name]
        return cls(per_ten_seconds=burst, per_day=daily)


class HubSpotApp(HubSpotOAuthRoutes, HubSpotBatchRoutes, HubSpotExtraRoutes, App):
    system = "hubspot"

    def __init__(
        self,
        world: World,
        token: str,
        limits: HubSpotLimits | None = None,
        faults: Faults | None = None,
    ) -> None:
        super().__init__(faults)
        self.world, self.hs, self.log = world, world.hubspot, world.log
        self.token = token
        self.scopes = set(SCOPES)  # what the private app was granted; tests take some away
        # an OAuth app: refresh tokens stay valid (HubSpot does not rotate them), issued access
        # tokens are accepted; calls to the deprecated v1 token endpoint are counted
        self.oauth_client = ("sandbox-client-id", "sandbox-client-secret")
        self.refresh_tokens = {"sandbox-refresh-0"}
        self.access_tokens: dict[str, float] = {}
        self.token_lifetime_s = TOKEN_LIFETIME_S
        self.refreshes = 0
        self.v1_token_calls = 0
        self.limits = limits or HubSpotLimits()
        self.window = RollingWindow(self.limits.per_ten_seconds, 10.0)
        self.search_window = RollingWindow(self.limits.search_per_second, 1.0)
        self.daily = DailyQuota(self.limits.per_day)
        r = self.router.add
        r("GET", "/crm/v3/objects/{objectType}", self.list_objects)
        r("POST", "/crm/v3/objects/{objectType}", self.create_one)
        r("POST", "/crm/v3/objects/{objectType}/search", self.search)
        r("POST", "/crm/v3/objects/{objectType}/merge", self.merge)
        r("POST", "/crm/v3/objects/{objectType}/gdpr-delete", self.gdpr_delete)
        r("POST", "/crm/v3/objects/{objectType}/batch/read", self.batch_read)
        r("POST", "/crm/v3/objects/{objectType}/batch/update", self.batch_update)
        r("POST", "/crm/v3/objects/{objectType}/batch/upsert", self.batch_upsert)
        r("POST", "/crm/v3/objects/{objectType}/batch/create", self.batch_create)
        r("POST", "/crm/v3/objects/{objectType}/batch/archive", self.batch_archive)
        r("GET", "/crm/v3/objects/{objectType}/{objectId}", self.get_one)
        r("PATCH", "/crm/v3/objects/{objectType}/{objectId}", self.update_one)
        r("DELETE", "/crm/v3/objects/{objectType}/{objectId}", self.archive_one)
        r("GET", "/crm/v3/properties/{objectType}", self.list_properties)
        r("POST", "/crm/v3/properties/{objectType}", self.create_property)
        r("GET", "/crm/v3/properties/{objectType}/groups", self.list_groups)
        r("POST", "/crm/v3/properties/{objectType}/groups", self.create_group)
        r("GET", "/crm/v3/properties/{objectType}/groups/{groupName}", self.get_group)
        r("GET", "/crm/v3/properties/{objectType}/{propertyName}", self.get_property)
        r("PATCH", "/crm/v3/properties/{objectType}/{propertyName}", self.update_property)
        r("GET", "/crm/v3/owners", self.owners)
        r("GET", "/crm/v3/owners/{ownerId}", self.owner)
        r("POST", "/crm/v3/lists", self.create_list)
        r("GET", "/crm/v3/lists", self.get_lists)
        r("POST", "/crm/v3/lists/search", self.search_lists)
        r("GET", "/crm/v3/lists/object-type-id/{objectTypeId}/name/{listName}", self.list_by_name)
        r(
            "GET",
            "/crm/v3/lists/records/{objectTypeId}/{recordId}/memberships",
            self.record_memberships,
        )
        r("GET", "/crm/v3/lists/{listId}", self.get_list)
        r("DELETE", "/crm/v3/lists/{listId}", self.delete_list)
        r("GET", "/crm/v3/lists/{listId}/memberships", self.memberships)
        r("PUT", "/crm/v3/lists/{listId}/memberships/add", self.members_add)
        r("PUT", "/crm/v3/lists/{listId}/memberships/remove", self.members_remove)
        r("PUT", "/crm/v3/lists/{listId}/memberships/add-and-remove", self.members_add_remove)
        r("POST", "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read", self.associations_read)
        r("GET", "/email/public/v1/events", self.email_events)
        r("GET", "/form-integrations/v1/submissions/forms/{formGuid}", self.form_submissions)
        r("GET", "/marketing/v3/forms", self.forms)
        r("GET", "/account-info/v3/api-usage/daily/private-apps", self.api_usage)
        r("GET", "/account-info/v3/details", self.account_details)
        r("POST", "/oauth/v2/private-apps/get/access-token-info", self.token_info)

    # ---- plumbing ------------------------------------------------------------------------
    def fault_429(self, req: Request) -> Response:
        return self._limit_response(req.path.endswith("/search"), "TEN_SECONDLY_ROLLING")

    def fault_error(self, status: int) -> Response:
        return _err(
            status,
            "internal error" if status == 500 else "Service unavailable",
            "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
        )

    def fault_status(self, status: int) -> Response:
        """HubSpot's transient answers (error-handling guide, "Common error responses"): 423
        while a lock from a burst of writes lasts (2 s), 477 while the account moves between
        data hosting locations (with Retry-After, "typically up to 24 hours"), 502/504 when
        processing limits are met, 503 while HubSpot is unavailable; 524 is Cloudflare's
        gateway timeout in front of it, an HTML page. Bodies of 423 and 477 are not documented:
        HubSpot's usual error JSON here."""
        if status == 423:
            return _err(423, "The resource is locked: too many writes in a short time; wait 2 seconds.", "LOCKED")
        if status == 477:
            resp = _err(477, "This account is being migrated between data hosting locations.", "MIGRATION_IN_PROGRESS")
            resp.headers["Retry-After"] = str(self.faults.retry_after_s)
            return resp
        if status in (502, 504, 521, 522, 523, 524):
            page = f"<html><head><title>api.hubapi.com | {status}</title></head><body>Error code {status}</body></html>"
            return Response(status, raw=page.encode(), content_type="text/html; charset=UTF-8")
        return self.fault_error(status)

    def _limit_response(self, search: bool, policy: str) -> Response:
        if policy == "DAILY":  # the account's daily limit is one for every endpoint, search too
            msg = "You have reached your daily limit."
        elif search:
            msg, policy = "You have reached your secondly limit.", "SECONDLY"
        else:
            msg = "You have reached your ten_secondly_rolling limit."
        return Response(
            429,
            {
                "status": "error",
                "message": msg,
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": policy,
                "groupName": f"publicapi:private-app:{self.hs.portal_id}",
            },
            self._headers(search),
        )

    def _headers(self, search: bool) -> dict[str, str]:
        if search:
            return {}
        return {
            # the window it enforces (a test may shorten it): HubSpot's own is 10 s
            "X-HubSpot-RateLimit-Max": str(self.window.limit),
            "X-HubSpot-RateLimit-Remaining": str(self.window.remaining()),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(round(self.window.seconds * 1000)),
            "X-HubSpot-RateLimit-Daily": str(self.limits.per_day),
            "X-HubSpot-RateLimit-Daily-Remaining": str(self.daily.remaining()),
        }

    def dispatch(self, req: Request) -> Response:
        if len(req.target.encode()) > MAX_URI_BYTES:  # the edge refuses it before auth or limits
            return Response(
                414, raw=b"<html><body><h1>414 Request-URI Too Large</h1></body></html>", content_type="text/html"
            )
        if req.method == "POST" and req.path in ("/oauth/v1/token", "/oauth/2026-03/token"):
            return self.oauth_token(req)
        if req.method == "POST" and req.path == "/oauth/2026-03/token/introspect":
            return self.oauth_introspect(req)
        auth = req.header("authorization") or ""
        if not same_secret(auth, f"Bearer {self.token}") and not _any_secret(
            auth.removeprefix("Bearer "), self.access_tokens
        ):
            return _err(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        expired = self.expired_token(auth.removeprefix("Bearer "))
        if expired is not None:
            return expired
        scope = required_scope(req.method, req.path.rstrip("/"))
        if scope is not None and scope not in self.scopes and same_secret(auth, f"Bearer {self.token}"):
            return missing_scopes(scope)  # the private app was not granted it
        search = req.method == "POST" and req.path.rstrip("/").endswith("/search") and "/lists/" not in req.path
        if search and not self.search_window.try_acquire():
            self.log.limit("hubspot", "SEARCH_SECONDLY")
            return self._limit_response(True, "SECONDLY")
        if not search and not self.window.try_acquire():
            self.log.limit("hubspot", "TEN_SECONDLY_ROLLING")
            return self._limit_response(False, "TEN_SECONDLY_ROLLING")
        if not self.daily.try_acquire(self.account_day()):
            self.log.limit("hubspot", "DAILY")
            return self._limit_response(search, "DAILY")
        with self.world.lock:
            resp = super().dispatch(req)
        self.log.call("hubspot", f"{req.method} {req.route or req.path}")
        resp.headers.update(self._headers(search))
        return resp

    def account_day(self, ms: int | None = None) -> int:
        """The account's calendar day now (or at ``ms``): what the daily limit counts by."""
        at = self.world.clock.peek_ms() if ms is None else ms  # a quota check takes no stamp
        return datetime.fromtimestamp(at / 1000, ZoneInfo(self.limits.time_zone)).date().toordinal()

    def daily_reset_ms(self) -> int:
        """When the daily count starts again: the next midnight in the account's time zone."""
        zone = ZoneInfo(self.limits.time_zone)
        local = datetime.fromtimestamp(self.world.clock.now_ms() / 1000, zone)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), zone)
        return int(midnight.timestamp() * 1000)

    def bad_request(self, message: str) -> Response:
        return _err(400, f"Invalid input: {message}", "VALIDATION_ERROR")

    def not_found(self, req: Request) -> Response:
        return _err(404, f"Unable to infer object type from: {req.path}", "OBJECT_NOT_FOUND")

    def _kind(self, req: Request) -> str:
        t = req.params.get("objectType", "contacts")
        if t in CONTACT_TYPES:
            return "contacts"
        if t in ENGAGEMENT_TYPES:
            return ENGAGEMENT_TYPES[t]
        raise HttpError(_err(400, f"Unable to infer object type from: {t}", "VALIDATION_ERROR"))

    def _contacts_only(self, req: Request) -> None:
        if self._kind(req) != "contacts":
            raise HttpError(_err(400, "This sandbox supports this call on contacts only.", "VALIDATION_ERROR"))

    def _body(self, req: Request) -> dict[str, Any]:
        try:
            body = req.json()
        except ValueError:
            raise HttpError(_err(400, "Invalid input JSON on line 1", "VALIDATION_ERROR")) from None
        return body if isinstance(body, dict) else {}

    def _render(
        self, rec: dict[str, Any], props: list[str] | None, assoc: list[str] | None = None, kind: str = "contacts"
    ) -> dict[str, Any]:
        names = list(dict.fromkeys((props or DEFAULT_OBJECT_PROPS[kind]) + ALWAYS[kind]))
        p = {k: rec["properties"].get(k) for k in names}
        if self.faults.malformed():
            self.log.fault("hubspot", "malformed")
            p.update(
                {
                    "lastmodifieddate": "not-a-date",
                    "email": "@@not-an-email",
                    "numemployees": "12;34",
                }
            )
        out = {
            "id": rec["id"],
            "properties": p,
            "createdAt": iso_ms(rec["createdAt"]),
            "updatedAt": iso_ms(rec["updatedAt"]),
            "archived": rec["archived"],
        }
        if rec.get("archivedAt"):
            out["archivedAt"] = iso_ms(rec["archivedAt"])
        if assoc and "contacts" in assoc and "contacts" in rec:
            out["associations"] = {
                "contacts": {"results": [{"id": c, "type": rec["assoc_type"]} for c in rec["contacts"]]}
            }
        return out

    def _table(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.hs.records if kind == "contacts" else self.hs.engagements[kind]

    # ---- objects -------------------------------------------------------------------------
    def list_objects(self, req: Request) -> Response:
        kind = self._kind(req)
        limit = int(req.arg("limit", "10") or 10)
        if limit > 100:
            return _err(400, "limit must be at most 100", "VALIDATION_ERROR")
        archived = (req.arg("archived", "false") or "false").lower() == "true"
        after = int(req.arg("after") or 0)
        if kind == "contacts":
            keys, more = self.hs.index().page_after(after, limit, archived)
            page = [self.hs.records[k] for k in keys]
        else:
            rows = sorted(
                (r for r in self._table(kind).values() if r["archived"] == archived and int(r["id"]) > after),
                key=lambda r: int(r["id"]),
            )
            page, more = rows[:limit], len(rows) > limit
        props = req.args("properties") or None
        body: dict[str, Any] = {"results": [self._render(r, props, req.args("associations"), kind) for r in page]}
        if more:
            nxt = str(int(page[-1]["id"]))
            body["paging"] = {"next": {"after": nxt, "link": f"{req.path}?after={nxt}"}}
        return Response(200, body)

    def get_one(self, req: Request) -> Response:
        kind = self._kind(req)
        oid = req.params["objectId"]
        archived = (req.arg("archived", "false") or "false").lower() == "true"
        if kind == "contacts":
            if req.arg("idProperty") == "email":
                rec = self._by_email(oid)
            else:
                rid = self.hs.resolve(oid)
                rec = self.hs.records.get(rid) if rid else None
        else:
            rec = self.hs.engagements[kind].get(oid)
        if rec is None or rec["archived"] != archived:
            return _err(
                404,
                "Object not found.  objectId are usually numeric.",
                "OBJECT_NOT_FOUND",
                context={"id": [oid]},
            )
        props = req.args("properties") or None
        if (
            kind == "contacts"
            and "hs_merged_object_ids" not in (props or [])
            and rec["properties"].get("hs_merged_object_ids")
        ):
            props = (props or DEFAULT_PROPS) + ["hs_merged_object_ids"]
        return Response(200, self._render(rec, props, req.args("associations"), kind))

    def _by_email(self, email: str) -> dict[str, Any] | None:
        e = email.strip().lower()
        for r in self.hs.records.values():
            if not r["archived"] and (r["properties"].get("email") or "").strip().lower() == e:
                return r
        return None

    def update_one(self, req: Request) -> Response:
        self._contacts_only(req)
        props = self._body(req).get("properties") or {}
        rec = self.hs.live(req.params["objectId"])
        if rec is None:
            return _err(404, "resource not found", "OBJECT_NOT_FOUND")
        refused = self._refuse_values([props])
        if refused is not None:
            return refused
        self.hs.set_properties(rec["id"], props, f"PATCH {req.route}")
        return Response(200, self._render(rec, list(props)))

    def create_one(self, req: Request) -> Response:
        self._contacts_only(req)
        props = self._body(req).get("properties") or {}
        refused = self._refuse_values([props])
        if refused is not None:
            return refused
        res, err = self._create(props, f"POST {req.route}")
        if err:
            return Response(409 if err["category"] == "CONFLICT" else 400, err)
        return Response(201, self._render(res, list(props)))

    def _create(self, props: dict[str, Any], endpoint: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        msg = self.hs.validate(props)
        if msg:
            return None, {"status": "error", "category": "VALIDATION_ERROR", "message": msg}
        email = props.get("email")
        if email and self._by_email(str(email)):
            existing = self._by_email(str(email))
            return None, {
                "status": "error",
                "category": "CONFLICT",
                "message": f"Contact already exists. Existing ID: {existing['id']}",
            }
        at = self.world.clock.now_ms()
        rid = self.hs.add_record(props, None, at)
        self.log.record(at, "hubspot", endpoint, "contact", rid, "create", None, None, dict(props))
        return self.hs.records[rid], None

    def archive_one(self, req: Request) -> Response:
        self._contacts_only(req)
        rec = self.hs.live(req.params["objectId"])
        if rec is not None:
            self.hs.archive(rec["id"], f"DELETE {req.route}")
        return Response(204)

    def gdpr_delete(self, req: Request) -> Response:
        """``POST /crm/v3/objects/contacts/gdpr-delete`` with ``objectId`` (a record id, or an
        email with ``idProperty: email``): 204, and the record is gone for good."""
        self._contacts_only(req)
        b = self._body(req)
        key = str(b.get("objectId") or "")
        if b.get("idProperty") == "email":
            key = next((r["id"] for r in self.hs.records.values() if r["properties"].get("email") == key.lower()), "")
        rid = self.hs.resolve(key) if key else None
        if rid is None:
            return _err(404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND")
        self.hs.gdpr_delete(rid, f"POST {req.route}")
        return Response(204)

    def merge(self, req: Request) -> Response:
        self._contacts_only(req)
        b = self._body(req)
        primary = self.hs.live(str(b.get("primaryObjectId")))
        loser = self.hs.live(str(b.get("objectIdToMerge")))
        if primary is None or loser is None or primary is loser:
            return _err(400, "Invalid merge input", "VALIDATION_ERROR")
        rid = self.hs.merge(primary["id"], loser["id"])
        return Response(200, self._render(self.hs.records[rid], DEFAULT_PROPS + ["hs_merged_object_ids"]))

    # ---- search --------------------------------------------------------------------------
    def catch_up_search(self) -> None:
        """Move the world's clock on until search's index (``search_lag_ms`` behind it) holds
        every write so far: for a test that must read back by search what it just wrote."""
        clock = self.world.clock
        clock.skip_until(clock.last_ms + self.limits.search_lag_ms)

    def search(self, req: Request) -> Response:
        kind = self._kind(req)
        body = self._body(req)
        problem = hsq.check_request(body)
        if problem:
            return _err(400, problem, "VALIDATION_ERROR")
        after = _offset(body.get("after"))
        limit = int(body.get("limit") or 10)
        if after >= hsq.SEARCH_CAP:
            return _err(
                400,
                "There was a problem with the request.",
                "VALIDATION_ERROR",
                context={"after": [str(after)]},
                subCategory="SEARCH_RESULT_LIMIT_EXCEEDED",
            )
        types = {k: v["type"] for k, v in self.hs.properties.items()}
        types.update({"hs_timestamp": "datetime", "hs_createdate": "datetime", "hs_lastmodifieddate": "datetime"})
        if kind == "deals":
            types.update({"amount": "number", "closedate": "datetime", "createdate": "datetime"})
        groups = body.get("filterGroups") or []
        lag = self.world.clock.now_ms() - self.limits.search_lag_ms
        q = str(body.get("query") or "").lower()
        name, desc = hsq.sort_key(body.get("sorts") or [], types)
        fast = None if q else self.hs.index(kind).search(groups, name, desc, lag)
        if fast is not None:
            table = self._table(kind)
            rows = [table[k] for k in fast]
        else:
            rows = self._slow_search(kind, groups, types, lag, q, name, desc)
        if self.hs.late_index:  # records the index has not caught up with yet (any order)
            rows = [r for r in rows if r["id"] not in self.hs.late_index]
        page = rows[after : after + limit]
        props = body.get("properties") or None
        out: dict[str, Any] = {
            "total": len(rows),
            "results": [self._render(r, props, None, kind) for r in page],
        }
        if after + limit < len(rows):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return Response(200, out)

    def _slow_search(
        self,
        kind: str,
        groups: list[dict[str, Any]],
        types: dict[str, str],
        lag: int,
        q: str,
        name: str,
        desc: bool,
    ) -> list[dict[str, Any]]:
        """Any property, any operator: a scan (the index handles the cursor fields). A record
        changed after ``lag`` is matched and sorted on the stamp the index still holds."""
        found = []
        for r in self._table(kind).values():
            held = None if r["archived"] else indexed_stamp(r, lag)
            if held is None:
                continue
            props = r["properties"]
            if held != r["updatedAt"]:
                stale = {k: iso_ms(held) for k in ("lastmodifieddate", "hs_lastmodifieddate") if k in props}
                props = {**props, **stale}
            if hsq.matches(props, groups, types) and (
                not q
                or any(q in str(props.get(k) or "").lower() for k in ("email", "firstname", "lastname", "company"))
            ):
                found.append((hsq.sort_value(props, name, types), int(r["id"]), r))
        found.sort(key=lambda x: x[:2], reverse=desc)
        return [r for _, _, r in found]


def _offset(after: Any) -> int:
    """A search ``after`` as HubSpot hands it out: the decimal offset of the next page ("10").
    Anything else is refused with a 400 rather than read as a slice (a negative one would page
    from the end); HubSpot's exact wording for it is not documented, this one is ours."""
    text = str(after or "0").strip()
    if not text.isdigit():
        raise HttpError(
            _err(400, f"after must be a paging token from a previous page, not {after!r}", "VALIDATION_ERROR")
        )
    return int(text)


__all__ = ["HubSpotApp", "HubSpotLimits", "OWNER_IDS"]
