"""Salesforce look-alike, Bulk API 2.0 query jobs: ``/services/data/vXX.X/jobs/query``.

POST creates a job (``operation`` query or queryAll) that answers ``UploadComplete``; each GET
of the job moves it on (InProgress, then JobComplete after ``SalesforceLimits.bulk_polls``
polls, or Failed when a failure was armed with ``fail_next_bulk_jobs``), so a client's polling
is exercised. GET ``/results`` serves CSV pages of at most ``maxRecords`` rows with the
``Sforce-Locator`` (the string ``null`` on the last page) and ``Sforce-NumberOfRecords`` headers.

Refused as Salesforce refuses them ("Create a Query Job", "Understanding Bulk API 2.0 Query",
Bulk API 2.0 Developer Guide): GROUP BY, OFFSET, TYPEOF, aggregate functions such as COUNT(),
FIELDS(), and parent-to-child subqueries. The documents list the refusals, not their bodies; the
code and wording follow what clients meet in the field (``FeatureNotEnabled`` as in
jsforce/jsforce#732 and OpenFn/adaptors#395). CSV as Salesforce writes query results: a header
row of the selected names (``Account.Name`` for a parent field), every value quoted, an empty
value for null, ``true``/``false``, datetimes as ``2026-01-05T10:00:00.000Z``. A mixin for
``SalesforceApp``.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from hub.sandbox.clock import sf_datetime
from hub.sandbox.httpkit import HttpError, Request, Response
from hub.sandbox.salesforce_errors import sf_err
from hub.sandbox.salesforce_state import DATETIME, to_second
from hub.sandbox.soql import Query

OPERATIONS = ("query", "queryAll")
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
DEFAULT_MAX_RECORDS = 50_000  # a client that sends no maxRecords gets pages this big (the size cap in SF)
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'")
_UNSUPPORTED = (
    (re.compile(r"\bGROUP\s+BY\b", re.I), "GROUP BY is not supported by Bulk API 2.0 query"),
    (re.compile(r"\bOFFSET\b", re.I), "OFFSET is not supported by Bulk API 2.0 query"),
    (re.compile(r"\bTYPEOF\b", re.I), "TYPEOF is not supported by Bulk API 2.0 query"),
    (re.compile(r"\bFIELDS\s*\(", re.I), "FIELDS() is not supported by Bulk API 2.0 query"),
    (
        re.compile(r"\b(?:COUNT|COUNT_DISTINCT|SUM|AVG|MIN|MAX)\s*\(", re.I),
        "Aggregate functions are not supported by Bulk API 2.0 query",
    ),
)
_SUBQUERY = re.compile(r"^\s*SELECT\b((?:(?!\bFROM\b).)*)\(\s*SELECT\b", re.I | re.S)
SUBQUERY_MESSAGE = "Aggregate Relationships not supported in Bulk V2 Query with CSV content type."


@dataclass
class BulkJob:
    id: str
    operation: str
    version: str
    query: Query
    rows: list[dict[str, Any]]
    created: str
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    polls: int = 0
    state: str = "UploadComplete"
    fail: str | None = None
    locators: dict[str, int] = field(default_factory=dict)  # locator -> first row it serves

    def info(self, user: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.query.sobject,
            "createdById": user,
            "createdDate": self.created,
            "systemModstamp": self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
        }
        if self.state in ("InProgress", "JobComplete", "Failed"):
            done = self.state == "JobComplete"
            out.update(
                jobType="V2Query",
                numberRecordsProcessed=len(self.rows) if done else 0,
                retries=0,
                totalProcessingTime=40 * self.polls,
                isPkChunkingSupported=True,
            )
        if self.state == "Failed":
            out["errorMessage"] = self.fail
        return out


def bulk_refusal(q: str) -> str | None:
    """Why Bulk API 2.0 refuses the query, or None; string literals are not looked into."""
    bare = _STRINGS.sub("''", q)
    if _SUBQUERY.match(bare):
        return SUBQUERY_MESSAGE
    for rx, message in _UNSUPPORTED:
        if rx.search(bare):
            return message
    return None


def csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class SalesforceBulkRoutes:
    """Handlers that need ``sf``, ``limits``, ``log`` and the REST query's ``_select``."""

    sf: Any
    limits: Any
    log: Any
    bulk_jobs: dict[str, BulkJob]
    fail_next_bulk_jobs: int

    def _select(self, q: str, include_deleted: bool) -> tuple[Query, list[dict[str, Any]]] | Response:
        raise NotImplementedError

    def _getter(self, sobject: str, rec: dict[str, Any]):  # noqa: ANN202
        raise NotImplementedError

    def add_bulk_routes(self, add: Any, prefix: str) -> None:
        self.bulk_jobs = {}
        self.fail_next_bulk_jobs = 0
        add("POST", prefix + "/jobs/query", self.bulk_create)
        add("GET", prefix + "/jobs/query/{job}", self.bulk_info)
        add("GET", prefix + "/jobs/query/{job}/results", self.bulk_results)
        add("DELETE", prefix + "/jobs/query/{job}", self.bulk_delete)

    def _job(self, req: Request) -> BulkJob:
        job = self.bulk_jobs.get(req.params["job"])
        if job is None:
            raise HttpError(sf_err(404, "NOT_FOUND", "The requested resource does not exist"))
        return job

    def bulk_create(self, req: Request) -> Response:
        body = req.json()
        if not isinstance(body, dict):
            return sf_err(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        op = body.get("operation")
        if op not in OPERATIONS:
            return sf_err(
                400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of OperationEnum from VALUE_STRING value {op!r}"
            )
        for key, allowed in (("columnDelimiter", DELIMITERS), ("lineEnding", LINE_ENDINGS), ("contentType", {"CSV"})):
            if key in body and body[key] not in allowed:
                return sf_err(400, "JSON_PARSER_ERROR", f"Cannot deserialize {key} from value {body[key]!r}")
        q = body.get("query")
        if not isinstance(q, str) or not q.strip():
            return sf_err(400, "INVALIDJOB", "The query is required for a query job")
        refusal = bulk_refusal(q)
        if refusal:
            return sf_err(400, "FEATURENOTENABLED", refusal)
        selected = self._select(q, op == "queryAll")
        if isinstance(selected, Response):
            return selected
        parsed, rows = selected
        job = BulkJob(
            id="750Hb" + secrets.token_hex(6).upper() + "AAA",
            operation=op,
            version=req.params.get("version", "59.0"),
            query=parsed,
            rows=rows,
            created=sf_datetime(to_second(self.sf.clock.now_ms())),  # Salesforce keeps seconds
            delimiter=body.get("columnDelimiter", "COMMA"),
            line_ending=body.get("lineEnding", "LF"),
        )
        if self.fail_next_bulk_jobs > 0:
            self.fail_next_bulk_jobs -= 1
            job.fail = "InternalServerError : the query job failed while it ran; retry the job"
        self.bulk_jobs[job.id] = job
        return Response(200, job.info(self.sf.api_user))

    def bulk_info(self, req: Request) -> Response:
        job = self._job(req)
        if job.state in ("UploadComplete", "InProgress"):
            job.polls += 1
            if job.fail is not None and job.polls >= 2:
                job.state = "Failed"
            elif job.polls > self.limits.bulk_polls:
                job.state = "JobComplete"
            else:
                job.state = "InProgress"
        return Response(200, job.info(self.sf.api_user))

    def bulk_delete(self, req: Request) -> Response:
        job = self._job(req)
        del self.bulk_jobs[job.id]
        return Response(204)

    def bulk_results(self, req: Request) -> Response:
        job = self._job(req)
        if job.state != "JobComplete":
            return sf_err(400, "INVALIDJOBSTATE", f"Results are not available while the job is {job.state}")
        raw_max = req.arg("maxRecords")
        size = DEFAULT_MAX_RECORDS
        if raw_max is not None:
            if not raw_max.isdigit() or int(raw_max) < 1:
                return sf_err(400, "INVALIDREQUEST", f"maxRecords must be a positive integer, not {raw_max!r}")
            size = int(raw_max)
        loc = req.arg("locator")
        start = 0
        if loc:
            if loc not in job.locators:
                return sf_err(400, "INVALID_QUERY_LOCATOR", f"Invalid locator: {loc}")
            start = job.locators[loc]
        chunk = job.rows[start : start + size]
        end = start + len(chunk)
        headers = {"Sforce-NumberOfRecords": str(len(chunk)), "Sforce-Locator": "null"}
        if end < len(job.rows):
            nxt = secrets.token_urlsafe(9)
            job.locators[nxt] = end
            headers["Sforce-Locator"] = nxt
        raw = self._csv(job, chunk).encode("utf-8")
        return Response(200, headers=headers, raw=raw, content_type="text/csv")

    def _csv(self, job: BulkJob, rows: list[dict[str, Any]]) -> str:
        buf = io.StringIO()
        out = csv.writer(
            buf,
            delimiter=DELIMITERS[job.delimiter],
            lineterminator=LINE_ENDINGS[job.line_ending],
            quoting=csv.QUOTE_ALL,
        )
        fields = job.query.fields
        out.writerow(fields)
        for rec in rows:
            get = self._getter(job.query.sobject, rec)
            out.writerow([self._bulk_value(f, get(f)) for f in fields])
        return buf.getvalue()

    @staticmethod
    def _bulk_value(name: str, v: Any) -> str:
        if name.split(".")[-1] in DATETIME and isinstance(v, int) and not isinstance(v, bool):
            return sf_datetime(v).replace("+0000", "Z")
        return csv_value(v)
