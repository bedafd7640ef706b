"""A Salesforce REST look-alike, close enough for the unmodified ``simple-salesforce``.

Served over TLS (see tls.py). Logins: OAuth2 password grant and SOAP ``login``, both also
reachable through the ``domain`` trick (``domain="127.0.0.1:PORT/sflogin?d="`` makes
simple-salesforce's ``https://{domain}.salesforce.com/...`` land here). Sessions expire;
SOQL query/queryAll with 2,000-row pages; Bulk API 2.0 query jobs (salesforce_bulk.py); describe;
sObject rows and collections; the ``Sforce-Limit-Info`` header and the daily REQUEST_LIMIT_EXCEEDED 403.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from hub.sandbox import soql
from hub.sandbox.clock import parse_datetime_ms, sf_datetime
from hub.sandbox.httpkit import App, Faults, HttpError, Request, Response
from hub.sandbox.ratelimit import Rolling24h
from hub.sandbox.salesforce_bulk import SalesforceBulkRoutes
from hub.sandbox.salesforce_collections import SalesforceCollectionRoutes
from hub.sandbox.salesforce_duplicates import (
    MATCHED_FIELDS,
    STANDARD_RULES,
    DuplicateRule,
    DuplicatesDetected,
    allow_save,
)
from hub.sandbox.salesforce_duplicates import check as check_duplicates
from hub.sandbox.salesforce_errors import sf_err as _sf_err
from hub.sandbox.salesforce_fields import JsonParserError
from hub.sandbox.salesforce_fls import PERMISSION_OBJECTS, check_permission_create
from hub.sandbox.salesforce_login import SalesforceLoginRoutes
from hub.sandbox.salesforce_metadata import SalesforceMetadataRoutes
from hub.sandbox.salesforce_state import (
    FIELDS,
    REFERENCE,
    REQUIRED,
    SfError,
    check_writable,
    event_problem,
    user_fields,
)
from hub.sandbox.world import World

API_VERSIONS = ("58.0", "59.0", "60.0", "61.0", "62.0")
V = "/services/data/v{version}"
MAX_OPEN_CURSORS = 50
MAX_OFFSET = 2000  # SOQL's documented maximum OFFSET
#: ``/deleted`` and ``/updated`` windows (``SalesforceApp._window``)
REPLICATION_MIN_SPAN_MS = 60_000
REPLICATION_MAX_AGE_MS = 30 * 86_400_000
SYSTEM_FIELDS = ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")
# URI plus headers of one REST call, at most (Salesforce help 000386264): a longer URI gets 414,
# a URI that fits but not with its headers 431. The bodies of those answers are not documented;
# ours are bare HTML pages, as an edge server writes them.
MAX_REQUEST_BYTES = 16_384
# a REST row's body naming its Id, on insert or update (REST API Developer Guide, "Create a
# Record": 400 INVALID_FIELD with this message; the same for a PATCH, as a test suite run
# against an org records it): the record is named by the URL alone
ID_IN_BODY = "The Id field should not be specified in the sobject data."


@dataclass
class SalesforceLimits:
    """Org quotas, session lifetime (real seconds) and settings."""

    daily_api_requests: int = 100_000
    session_ttl_s: float = 7200.0
    query_batch_size: int = 2000
    collection_max: int = 200
    # a query whose result is bigger than this runs "too long" (a big object's wide window):
    # 400 QUERY_TIMEOUT, as Salesforce answers after its 2-minute query timeout; None: never
    query_timeout_rows: int | None = None
    # a Bulk API 2.0 query job answers InProgress to this many status polls before JobComplete
    bulk_polls: int = 2
    # a query locator (nextRecordsUrl) not used for this long, on the sandbox clock, is gone:
    # 400 INVALID_QUERY_LOCATOR (about 15 minutes idle, integration-anchors.md B)
    locator_idle_ms: int = 15 * 60_000
    # the org's default time zone (Organization.TimeZoneSidKey), as the HubSpot sandbox's account
    time_zone: str = "America/New_York"
    # active duplicate rules: a new org's standard Lead and Contact rules (salesforce_duplicates.py)
    duplicate_rules: tuple[DuplicateRule, ...] = STANDARD_RULES
    # records the Recycle Bin holds at most: 5,000 a user license (five here)
    recycle_bin_records: int = 25_000


@dataclass(frozen=True)
class SalesforceCredentials:
    username: str = "hub@sandbox.example.com"
    password: str = "sandbox-password"
    security_token: str = "SANDBOXTOKEN"
    consumer_key: str = "sandbox-consumer-key"
    consumer_secret: str = "sandbox-consumer-secret"
    # PEM certificate or public key uploaded to the connected app; None: JWT bearer logins fail
    jwt_certificate: str | None = None
    # the connected app's "Run As" user for the client-credentials flow; None: that flow is off
    client_credentials_user: str | None = "hub@sandbox.example.com"
    # "Manage Profiles and Permission Sets": may the API user create permission sets and grants
    manage_permissions: bool = True
    # "Customize Application": may the API user create custom fields through the Metadata API
    customize_application: bool = True
    # "View Setup and Configuration": without it the Organization object is not there for the
    # API user (400 INVALID_TYPE "sObject type 'Organization' is not supported.", as a user
    # without it is answered in dxatscale/sfpowerscripts#968 and jsforce/jsforce#423)
    view_setup: bool = True


def _as_inserted(sobject: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields an insert keeps: a CampaignMember sent with both a ContactId and a LeadId is
    made for the Contact alone ("only the ContactId is inserted", Object Reference,
    CampaignMember, Usage)."""
    if sobject == "CampaignMember" and fields.get("ContactId") and fields.get("LeadId"):
        return {k: v for k, v in fields.items() if k != "LeadId"}
    return fields


class SalesforceApp(
    SalesforceLoginRoutes, SalesforceCollectionRoutes, SalesforceBulkRoutes, SalesforceMetadataRoutes, App
):
    system = "salesforce"

    def __init__(
        self,
        world: World,
        creds: SalesforceCredentials | None = None,
        limits: SalesforceLimits | None = None,
        faults: Faults | None = None,
    ) -> None:
        super().__init__(faults)
        self.world, self.sf, self.log = world, world.salesforce, world.log
        self.creds = creds or SalesforceCredentials()
        # the integration user every API session acts as
        self.sf.api_user = self.sf.create(
            "User", user_fields(self.creds.username, "Hub", "Integration", profile="System Administrator")
        )
        self.limits = limits or SalesforceLimits()
        self.sf.set_time_zone(self.limits.time_zone)
        self.sf.bin.capacity = self.limits.recycle_bin_records
        self.daily = Rolling24h(self.limits.daily_api_requests, world.clock.peek_ms)
        self.sessions: dict[str, float] = {}
        # locator -> (the query's result, batch size, when the locator was handed out)
        self.cursors: dict[str, tuple[tuple[str, list[dict[str, Any]], list[str]], int, int]] = {}
        self.logins = 0
        self.base_url = ""  # set by the server once the port is known
        self._lock = threading.Lock()
        r = self.router.add
        r("POST", "/services/oauth2/token", self.oauth_token)
        r("POST", "/services/Soap/u/{version}", self.soap_login)
        r("POST", "/services/Soap/m/{version}", self.metadata_soap)
        r("POST", "/sflogin", self.domain_login)
        r("GET", "/services/data", self.versions)
        r("GET", V + "/limits", self.get_limits)
        r("GET", V + "/query", self.query)
        r("GET", V + "/queryAll", self.query_all)
        r("GET", V + "/query/{locator}", self.query_more)
        r("GET", V + "/queryAll/{locator}", self.query_more)
        r("GET", V + "/sobjects", self.describe_global)
        r("GET", V + "/sobjects/{sobject}/describe", self.describe)
        r("GET", V + "/sobjects/{sobject}/updated", self.updated)
        r("GET", V + "/sobjects/{sobject}/deleted", self.deleted)
        r("POST", V + "/sobjects/{sobject}", self.create_one)
        r("GET", V + "/sobjects/{sobject}/{id}", self.get_one)
        r("PATCH", V + "/sobjects/{sobject}/{id}", self.update_one)
        r("DELETE", V + "/sobjects/{sobject}/{id}", self.delete_one)
        r("POST", V + "/composite/sobjects", self.collection_create)
        r("PATCH", V + "/composite/sobjects", self.collection_update)
        r("DELETE", V + "/composite/sobjects", self.collection_delete)
        self.add_bulk_routes(r, V)

    # ---- plumbing ------------------------------------------------------------------------
    def fault_429(self, req: Request) -> Response:
        # Salesforce throttles with 403 REQUEST_LIMIT_EXCEEDED, not 429.
        return _sf_err(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")

    def fault_error(self, status: int) -> Response:
        if status == 500:
            return _sf_err(
                500,
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567-89 (-1)",
            )
        return Response(status, raw=b"<html><body>Service Unavailable</body></html>", content_type="text/html")

    def expire_sessions(self) -> None:
        """Invalidate every session now (as an admin's "log out all" would)."""
        with self._lock:
            self.sessions.clear()

    def _valid(self, req: Request) -> bool:
        auth = req.header("authorization") or ""
        token = auth.split(" ", 1)[1] if " " in auth else ""
        with self._lock:
            exp = self.sessions.get(token)
            if exp is None or exp < time.monotonic():
                self.sessions.pop(token, None)
                return False
            return True

    def _too_big(self, req: Request) -> Response | None:
        uri = len(req.target.encode())
        headers = sum(len(k) + len(v) + 4 for k, v in req.headers.items())  # "Name: value\r\n"
        if uri > MAX_REQUEST_BYTES:
            status, reason = 414, "URI Too Long"
        elif uri + headers > MAX_REQUEST_BYTES:
            status, reason = 431, "Request Header Fields Too Large"
        else:
            return None
        page = f"<html><body><h1>{status} {reason}</h1></body></html>".encode()
        return Response(status, raw=page, content_type="text/html")

    def dispatch(self, req: Request) -> Response:
        too_big = self._too_big(req)
        if too_big is not None:
            return too_big
        login = req.path.startswith(("/services/oauth2/", "/services/Soap/", "/sflogin"))
        if not login and req.path.rstrip("/") != "/services/data" and not self._valid(req):
            return _sf_err(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if not login and not self.daily.try_acquire():
            self.log.limit("salesforce", "DAILY")
            return _sf_err(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        with self.world.lock, self.sf.transaction():  # a request is one transaction: one stamp
            self.sf.bin.sweep(self.world.clock.peek_ms())
            resp = super().dispatch(req)
        self.log.call("salesforce", f"{req.method} {req.route or req.path}")
        if not login:
            resp.headers["Sforce-Limit-Info"] = f"api-usage={self.daily.used}/{self.limits.daily_api_requests}"
        return resp

    def bad_request(self, message: str) -> Response:
        return _sf_err(400, "JSON_PARSER_ERROR", message)

    def not_found(self, req: Request) -> Response:
        return _sf_err(404, "NOT_FOUND", "The requested resource does not exist")

    def _supported(self, sobject: str) -> bool:
        """Is ``sobject`` there for the API user? Organization needs "View Setup and Configuration"."""
        return sobject in FIELDS and (sobject != "Organization" or self.creds.view_setup)

    def _type(self, req: Request) -> str:
        t = req.params.get("sobject", "")
        if not self._supported(t):
            raise HttpError(
                _sf_err(
                    404,
                    "NOT_FOUND",
                    f"The requested resource does not exist: sObject type '{t}' is not supported.",
                )
            )
        return t

    def versions(self, req: Request) -> Response:
        return Response(
            200,
            [{"label": "Sandbox", "url": f"/services/data/v{v}", "version": v} for v in API_VERSIONS],
        )

    def get_limits(self, req: Request) -> Response:
        return Response(
            200,
            {
                "DailyApiRequests": {
                    "Max": self.limits.daily_api_requests,
                    "Remaining": self.daily.remaining(),
                }
            },
        )

    # ---- query ---------------------------------------------------------------------------
    def _getter(self, sobject: str, rec: dict[str, Any]):  # noqa: ANN202
        def get(path: str) -> Any:
            if "." not in path:
                if path not in rec:
                    raise soql.SoqlError(f"No such column '{path}' on entity '{sobject}'")
                return rec[path]
            rel, sub = path.split(".", 1)
            ref = rec.get(rel + "Id")
            found = self.sf.find(str(ref)) if ref else None
            return found[1].get(sub) if found else None

        return get

    def _run(self, req: Request, include_deleted: bool) -> Response:
        q = req.arg("q")
        if not q:
            return _sf_err(400, "MALFORMED_QUERY", "A query string is required (q=)")
        selected = self._select(q, include_deleted)
        if isinstance(selected, Response):
            return selected
        parsed, rows = selected
        if parsed.count_only:
            return Response(200, {"totalSize": len(rows), "done": True, "records": []})
        if self.limits.query_timeout_rows is not None and len(rows) > self.limits.query_timeout_rows:
            return _sf_err(400, "QUERY_TIMEOUT", "Your query request was running for too long.")
        # Rows are rendered page by page (a 60,000-row query costs one page of rendering).
        return self._page((parsed.sobject, rows, parsed.fields), 0, self._batch_size(req), include_deleted, req)

    def _select(self, q: str, include_deleted: bool) -> tuple[soql.Query, list[dict[str, Any]]] | Response:
        """Parse and run a SOQL query (REST and Bulk share it): the rows, or Salesforce's refusal."""
        try:
            parsed = soql.parse(q)
        except soql.SoqlError as e:
            return _sf_err(400, "MALFORMED_QUERY", str(e))
        if not self._supported(parsed.sobject):
            return _sf_err(400, "INVALID_TYPE", f"sObject type '{parsed.sobject}' is not supported.")
        hidden, _ = self.sf.field_access(parsed.sobject)
        for f in parsed.fields + parsed.where_fields + [o[0] for o in parsed.order]:
            base = f.split(".")[0]
            if "." in f:
                base += "Id"
            if base in hidden or (base not in FIELDS[parsed.sobject] and base not in SYSTEM_FIELDS):
                return _sf_err(400, "INVALID_FIELD", soql.no_such_column(q, f, parsed.sobject))
        for f, value in parsed.terms:
            problem = soql.literal_problem(f, self._field_type(parsed.sobject, f), value)
            if problem:
                return _sf_err(400, "INVALID_FIELD", problem)
        if parsed.offset > MAX_OFFSET:
            return _sf_err(400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        purged = self.sf.bin.purged  # deleted for good: not even queryAll shows them
        rows = [
            r
            for r in self.sf.objects[parsed.sobject].values()
            if (include_deleted or not r["IsDeleted"]) and r["Id"] not in purged
        ]
        if not include_deleted and parsed.sobject in ("Task", "Event"):
            rows = [r for r in rows if not self.sf.archived(parsed.sobject, r)]  # archived: queryAll only
        try:
            if parsed.where:
                rows = [r for r in rows if parsed.where(self._getter(parsed.sobject, r))]
            for f, desc, nulls_last in reversed(parsed.order):
                rows.sort(
                    key=lambda r, f=f: self._sort_key(parsed.sobject, r, f, nulls_last, desc),
                    reverse=desc,
                )
        except soql.SoqlError as e:
            return _sf_err(400, "INVALID_FIELD", str(e))
        rows = rows[parsed.offset :]
        if parsed.limit is not None:
            rows = rows[: parsed.limit]
        return parsed, rows

    def _field_type(self, sobject: str, path: str) -> str:
        """Describe type of a field or a relationship path (``Account.Industry``)."""
        if "." in path:
            rel, sub = path.split(".", 1)
            target = REFERENCE.get(rel + "Id")
            return self.sf.spec(target, sub).type if target else "string"
        return self.sf.spec(sobject, path).type

    def _sort_key(self, sobject: str, rec: dict[str, Any], f: str, nulls_last: bool, desc: bool) -> tuple[int, Any]:
        v = self._getter(sobject, rec)(f)
        if v is None:
            return (1 if nulls_last != desc else -1, "")
        return (0, v.lower() if isinstance(v, str) else v)

    def _render(self, sobject: str, rec: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out = self.sf.render(sobject, rec, fields)
        if self.faults.malformed():
            self.log.fault("salesforce", "malformed")
            out.update({"Id": None, "LastModifiedDate": "not a date", "SystemModstamp": "not a date"})
            if "Email" in out:
                out["Email"] = 12345
        return out

    def _batch_size(self, req: Request) -> int:
        opt = req.header("sforce-query-options") or ""
        size = self.limits.query_batch_size
        if "batchSize=" in opt:
            size = max(200, min(2000, int(opt.split("batchSize=")[1].split(",")[0])))
        return size

    def _page(
        self,
        result: tuple[str, list[dict[str, Any]], list[str]],
        start: int,
        size: int,
        include_deleted: bool,
        req: Request,
    ) -> Response:
        sobject, rows, fields = result
        chunk = [self._render(sobject, r, fields) for r in rows[start : start + size]]
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": start + size >= len(rows),
            "records": chunk,
        }
        if not body["done"]:
            loc = "01gHb" + secrets.token_hex(6)
            with self._lock:
                self.cursors[loc] = (result, size, self.world.clock.now_ms())
                while len(self.cursors) > MAX_OPEN_CURSORS:  # oldest locators expire first
                    self.cursors.pop(next(iter(self.cursors)))
            endpoint = "queryAll" if include_deleted else "query"
            version = req.params.get("version", "59.0")
            body["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{loc}-{start + size}"
        return Response(200, body)

    def query(self, req: Request) -> Response:
        return self._run(req, False)

    def query_all(self, req: Request) -> Response:
        return self._run(req, True)

    def query_more(self, req: Request) -> Response:
        loc, _, start = req.params["locator"].rpartition("-")
        with self._lock:
            cur = self.cursors.get(loc)
            if cur is not None and self.world.clock.now_ms() - cur[2] > self.limits.locator_idle_ms:
                del self.cursors[loc]  # idle too long: Salesforce has let it go
                cur = None
        if cur is None or not start.isdigit():
            return _sf_err(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cur[0], int(start), cur[1], "/queryAll/" in req.path, req)

    # ---- sobjects ------------------------------------------------------------------------
    def describe_global(self, req: Request) -> Response:
        return Response(
            200,
            {
                "encoding": "UTF-8",
                "maxBatchSize": 200,
                "sobjects": [
                    {k: v for k, v in self.sf.describe(t).items() if k != "fields"}
                    for t in FIELDS
                    if self._supported(t)
                ],
            },
        )

    def describe(self, req: Request) -> Response:
        return Response(200, self.sf.describe(self._type(req)))

    def _window(self, req: Request) -> tuple[int, int]:
        """``start`` and ``end`` of a ``/deleted`` or ``/updated`` read, or Salesforce's 400
        INVALID_REPLICATION_DATE: the start must precede the end by more than one minute (SOAP
        API guide, getDeleted()/getUpdated() "Rules and Guidelines") and be no more than 30
        days ago (as integrations met it: getomnico/omni PR #450). The messages are ours;
        Salesforce's wording for these two is not recorded."""
        try:
            lo, hi = parse_datetime_ms(req.arg("start") or ""), parse_datetime_ms(req.arg("end") or "")
        except ValueError:
            raise HttpError(
                _sf_err(400, "INVALID_REPLICATION_DATE", "start and end must be ISO 8601 datetimes")
            ) from None
        if hi - lo <= REPLICATION_MIN_SPAN_MS:
            raise HttpError(
                _sf_err(400, "INVALID_REPLICATION_DATE", "startDate must precede endDate by more than one minute")
            )
        if lo < self.world.clock.peek_ms() - REPLICATION_MAX_AGE_MS:
            raise HttpError(_sf_err(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago"))
        return lo, hi

    def updated(self, req: Request) -> Response:
        t = self._type(req)
        lo, hi = self._window(req)
        ids = [r["Id"] for r in self.sf.objects[t].values() if not r["IsDeleted"] and lo <= r["SystemModstamp"] <= hi]
        return Response(200, {"ids": ids, "latestDateCovered": sf_datetime(hi)})

    def deleted(self, req: Request) -> Response:
        t = self._type(req)
        lo, hi = self._window(req)
        rows = [
            {"id": r["Id"], "deletedDate": sf_datetime(r["SystemModstamp"])}
            for r in self.sf.objects[t].values()
            if r["IsDeleted"] and lo <= r["SystemModstamp"] <= hi and r["Id"] not in self.sf.bin.purged
        ]
        return Response(
            200,
            {
                "deletedRecords": rows,
                "earliestDateAvailable": sf_datetime(self.sf.bin.earliest_available(t, self.world.clock.start_ms)),
                "latestDateCovered": sf_datetime(hi),
            },
        )

    def get_one(self, req: Request) -> Response:
        t = self._type(req)
        rec = self.sf.objects[t].get(req.params["id"])
        if rec is None or rec["IsDeleted"]:
            return _sf_err(404, "NOT_FOUND", "The requested resource does not exist")
        hidden, _ = self.sf.field_access(t)
        fields = req.args("fields") or [
            "Id",
            "IsDeleted",
            "CreatedDate",
            "LastModifiedDate",
            "SystemModstamp",
            *(f for f in FIELDS[t] if f not in hidden),
        ]
        return Response(200, self._render(t, rec, fields))

    def check_create(
        self,
        t: str,
        fields: dict[str, Any],
        pending: set[tuple[str, str]] | None = None,
        req: Request | None = None,
        fresh: set[str] | None = None,
    ) -> None:
        """Every per-record refusal of a create, shared with the allOrNone pre-pass so that a
        batch is refused whole. ``pending``: campaign memberships created earlier in the batch;
        ``req``: the request (its duplicate rule header); ``fresh``: ids it has created so far,
        which duplicate rules do not compare."""
        fields = _as_inserted(t, fields)
        check_writable(t, "insert")
        self.sf.check_fields(t, fields)
        if t in PERMISSION_OBJECTS:
            check_permission_create(self.sf, t, fields, self.creds.manage_permissions)
        missing = [f for f in REQUIRED.get(t, ()) if fields.get(f) is None]  # "" is saved as null
        if missing:
            raise SfError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
        problem = event_problem(fields) if t == "Event" else None
        if problem:
            raise problem
        if t == "User":
            self.sf.check_username(fields.get("Username"))
        self._check_duplicates(t, fields, req, skip=fresh or set(), editing=False)
        if t == "CampaignMember":
            who = fields.get("LeadId") or fields.get("ContactId")
            if not fields.get("CampaignId") or not who:
                raise SfError(
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [CampaignId, LeadId or ContactId]",
                )
            # inserting a member locks its Campaign (the member counts roll up to it); a Campaign
            # another transaction holds refuses the insert (GK: field reports, not documented)
            self.sf.check_lock(str(fields["CampaignId"]))
            key = (str(fields["CampaignId"]), str(who))
            if pending is not None and key in pending:
                raise SfError("DUPLICATE_VALUE", "Already a campaign member.")
            for m in self.sf.objects["CampaignMember"].values():
                if not m["IsDeleted"] and m["CampaignId"] == key[0] and (m["LeadId"] or m["ContactId"]) == who:
                    raise SfError("DUPLICATE_VALUE", "Already a campaign member.")
            if pending is not None:
                pending.add(key)

    def _check_duplicates(
        self, t: str, rec: dict[str, Any], req: Request | None, skip: set[str], editing: bool
    ) -> None:
        """The org's duplicate rules on the record as it would be saved (salesforce_duplicates)."""
        check_duplicates(
            self.limits.duplicate_rules,
            self.sf.objects,
            t,
            rec,
            editing=editing,
            allowed=allow_save(req.header("sforce-duplicate-rule-header") if req else None),
            skip=skip,
            version=req.params.get("version", "59.0") if req else "59.0",
        )

    def check_edit_duplicates(self, t: str, rid: str, fields: dict[str, Any], req: Request) -> None:
        """Duplicate rules on an edit: they run only when it changes a field the matching rules
        compare (Salesforce help 005237351), so a write of other fields to an existing duplicate
        goes through."""
        rec = self.sf.objects[t].get(rid) or {}
        if any(k in MATCHED_FIELDS and fields[k] != rec.get(k) for k in fields):
            self._check_duplicates(t, {**rec, **fields}, req, skip={rid}, editing=True)

    def _create(
        self, t: str, fields: dict[str, Any], endpoint: str, req: Request | None = None, fresh: set[str] | None = None
    ) -> str:
        fields = _as_inserted(t, {k: v for k, v in fields.items() if k != "attributes"})
        self.check_create(t, fields, req=req, fresh=fresh)
        if t == "CampaignMember":  # none sent, or one the Campaign lacks: its default
            fields["Status"] = self.sf.member_status(str(fields["CampaignId"]), fields.get("Status"))
        rid = self.sf.create(t, fields, endpoint)
        if fresh is not None:
            fresh.add(rid)
        if t == "CampaignMember" and self.sf.on_list_add:
            person = self.sf.person_of.get(str(fields.get("LeadId") or fields.get("ContactId")))
            campaign = self.sf.objects["Campaign"][fields["CampaignId"]]
            if person is not None:
                self.sf.on_list_add("salesforce", person, campaign["Name"] or "")
        return rid

    def _coerced(self, t: str, req: Request) -> dict[str, Any]:
        body = req.json() or {}
        if isinstance(body, dict) and any(k.lower() == "id" for k in body):
            raise HttpError(_sf_err(400, "INVALID_FIELD", ID_IN_BODY))
        try:
            return self.sf.coerce_fields(t, body, req.body or b"")
        except JsonParserError as e:
            raise HttpError(_sf_err(400, "JSON_PARSER_ERROR", str(e))) from None

    def _row(self, t: str, rid: str) -> None:
        """404 for a one-row write to a record that is not there: ENTITY_IS_DELETED for one in the
        recycle bin (as a second DELETE of a record answers, measured in mohanc's sfdx plugin
        notes, v49.0), NOT_FOUND for an id no record has, as a GET of it answers (GK)."""
        rec = self.sf.objects[t].get(rid)
        if rec is None or rid in self.sf.bin.purged:  # deleted for good (salesforce_recycle.py)
            raise HttpError(_sf_err(404, "NOT_FOUND", "The requested resource does not exist"))
        if rec["IsDeleted"]:
            raise HttpError(
                Response(404, [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}])
            )

    def create_one(self, req: Request) -> Response:
        t = self._type(req)
        fields = self._coerced(t, req)
        try:
            rid = self._create(t, fields, f"POST {req.route}", req)
        except DuplicatesDetected as e:
            return Response(400, e.rest_body())
        except SfError as e:
            return Response(400, [{"message": e.message, "errorCode": e.code, "fields": e.fields}])
        return Response(201, {"id": rid, "success": True, "errors": []})

    def update_one(self, req: Request) -> Response:
        t = self._type(req)
        fields = self._coerced(t, req)
        self._row(t, req.params["id"])
        try:
            self.sf.check_update(t, self.sf.objects[t][req.params["id"]], fields)
            self.check_edit_duplicates(t, req.params["id"], fields, req)
            self.sf.update(
                t,
                req.params["id"],
                fields,
                f"PATCH {req.route}",
                auto_assign=req.header("sforce-auto-assign"),
                checked=True,
            )
        except DuplicatesDetected as e:
            return Response(400, e.rest_body())
        except SfError as e:
            return Response(400, [{"message": e.message, "errorCode": e.code, "fields": e.fields}])
        return Response(204)

    def delete_one(self, req: Request) -> Response:
        t = self._type(req)
        self._row(t, req.params["id"])
        try:
            self.sf.delete(t, req.params["id"], f"DELETE {req.route}")
        except SfError as e:
            return Response(400, [{"message": e.message, "errorCode": e.code, "fields": []}])
        return Response(204)


__all__ = ["SalesforceApp", "SalesforceCredentials", "SalesforceLimits"]
