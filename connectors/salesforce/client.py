"""The Salesforce session: login, re-login, transient retries, API usage, and error translation.

simple-salesforce raises its own exceptions; they are turned into hub errors here and never
escape. A 401 INVALID_SESSION_ID is answered by one fresh login and one retry (a bare session
id cannot be renewed, so that is fatal).

403 REQUEST_LIMIT_EXCEEDED means two things. "TotalRequests Limit exceeded." is the rolling 24 h
allocation: a :class:`DailyLimitReached`, sleeping does not help, the caller stops and keeps its
cursor. Any other message (``ConcurrentPerOrgLongTxn``, concurrent request limits) is a
short-lived limit: back off a few seconds and retry, then give up as a :class:`ConcurrencyLimited`
with a short retry-after. A refused request ran nothing, so even creates are retried.

A request over Salesforce's 16,384 bytes of URI and headers (help 000386264) is refused with 414
or 431 every time: fatal at once, never retried. Queries are built to fit (:func:`query_bytes`).

A 400 QUERY_TIMEOUT (or OPERATION_TOO_LARGE) says the query was too big, not wrong: it is a
:class:`QueryTooBig` and the reader narrows its window.

Bulk API 2.0 query jobs go through simple-salesforce's own client (``sf.bulk2``): create, poll
(waits from ``bulk_poll_seconds`` doubling up to 30 s), then CSV pages by ``Sforce-Locator``.
Each of those requests is one :meth:`call` (retries, re-login, counting). A job that ends
Failed or Aborted is a :class:`BulkJobFailed`; a job Salesforce will not create is a
:class:`BulkRefused` (the reader falls back to REST).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote_plus, urlsplit

import requests
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import Operation
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)
from simple_salesforce.login import SalesforceLogin

from connectors.salesforce.config import SalesforceSettings
from hub.errors import FatalConnectorError, RetryableError
from hub.unreachable import RETRY_SECONDS as UNREACHABLE_RETRY_SECONDS
from hub.unreachable import UNTRUSTED, cause, unreachable, what_to_do

log = logging.getLogger(__name__)
T = TypeVar("T")
TRANSIENT_RETRIES = 2
CONCURRENCY_RETRIES = 4  # waits of 2, 4, 8, 16 s
CONCURRENCY_RETRY_AFTER = 30.0  # then the task is retried this much later (not an hour)
BULK_MAX_WAIT = 30.0  # seconds between two polls of a Bulk job, at most
DAILY_LIMIT_MARK = "TotalRequests"
QUERY_TOO_BIG = frozenset({"QUERY_TIMEOUT", "OPERATION_TOO_LARGE"})
#: Salesforce's refusal of a field the object does not have, or that field-level security hides
#: ("No such column 'Hub_Reason__c' on sobject of type Contact", INVALID_FIELD)
NO_SUCH_COLUMN = re.compile(r"No such column '([^']+)'")
#: seconds a describe is trusted: fields an admin adds (`hub connectors setup` run from another
#: process) or hides reach a long-lived worker's reads within this, for one call per object
DESCRIBE_TTL = 900.0
TOO_LONG = frozenset({414, 431})  # URI, or URI and headers, over 16,384 bytes
#: the longest SOQL we send, in bytes as ``?q=`` carries it: the limit less room for the path
#: and headers (session id, user agent, query options), which take well under 2,000
MAX_QUERY_BYTES = 14_000


class DailyLimitReached(FatalConnectorError):
    """The org's rolling 24 h API allocation is spent; stop now and resume later."""


class ConcurrencyLimited(RetryableError):
    """A short-lived limit (too many long-running requests at once); try again in seconds."""


class QueryTooBig(RetryableError):
    """QUERY_TIMEOUT / OPERATION_TOO_LARGE: the same query over a narrower window will do."""


class BulkJobFailed(RetryableError):
    """A Bulk API 2.0 query job ended Failed or Aborted; nothing of it was read."""


class BulkRefused(FatalConnectorError):
    """Salesforce would not create the Bulk query job (an object or field Bulk does not serve)."""


class FieldRefused(FatalConnectorError):
    """A request refused as a whole for one field the object lacks or field-level security hides
    (400 INVALID_FIELD "No such column 'X' on sobject of type T"): sObject Collections read every
    record before writing any, so no record was written; the caller may drop ``field`` and send
    the rest again."""

    def __init__(self, message: str, field: str):
        super().__init__(f"INVALID_FIELD: {message}")
        self.field, self.said = field, message  # ``said``: Salesforce's own words


class QueryLocatorExpired(RetryableError):
    """A ``nextRecordsUrl`` expired (idle ~15 min, or too many open cursors); query again."""


def query_bytes(soql: str) -> int:
    """How many bytes ``soql`` takes in ``GET /query?q=`` (requests form-encodes it)."""
    return len(quote_plus(soql))


def _error_code(exc: SalesforceError) -> tuple[str, str]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    return "", str(content)[:200]


class SalesforceClient:
    """One logged-in session. ``calls`` counts API requests sent (logins excluded)."""

    def __init__(
        self,
        settings: SalesforceSettings,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings
        self.sleep = sleep
        self.clock = clock
        self.calls = 0
        self.logins = 0
        self.api_used: int | None = None
        self.api_limit: int | None = None
        self._sf: Salesforce | None = None
        self._describes: dict[str, tuple[float, dict[str, Any]]] = {}  # sobject -> (fetched at, describe)
        self.http = requests.Session()
        self.http.trust_env = False  # REQUESTS_CA_BUNDLE must not override ca_bundle (psf/requests#3829)
        if settings.ca_bundle:
            self.http.verify = settings.ca_bundle

    # -- session ------------------------------------------------------------------------------
    @property
    def sf(self) -> Salesforce:
        if self._sf is None:
            self._check_ca_bundle()
            self._sf = self._login()
        return self._sf

    def _check_ca_bundle(self) -> None:
        """requests raises a bare OSError on every call when the CA file is gone (a demo's
        sandbox stopped): say so once, naming the setting."""
        bundle = self.settings.ca_bundle
        if bundle and not os.path.isfile(bundle):
            raise FatalConnectorError(
                f"Salesforce ca_bundle {bundle!r} is not a file: fix or remove settings.ca_bundle "
                "(a sandbox's CA file is gone once the sandbox stops)."
            )

    def _login(self) -> Salesforce:
        s = self.settings
        mode = s.auth_mode()
        common = {"session": self.http, "version": s.api_version}
        if mode == "session":
            assert s.session_id is not None
            return Salesforce(session_id=s.session_id.get_secret_value(), instance_url=s.instance_url, **common)
        kwargs: dict[str, Any] = {"username": s.username, "domain": s.domain, "sf_version": s.api_version}
        if mode == "client_credentials":
            assert s.consumer_secret is not None
            # no username: simple-salesforce would take username + key + secret for the password grant
            kwargs = {"domain": s.domain, "sf_version": s.api_version, "consumer_key": s.consumer_key}
            kwargs["consumer_secret"] = s.consumer_secret.get_secret_value()
        elif mode == "jwt":
            kwargs["consumer_key"] = s.consumer_key
            if s.privatekey:
                kwargs["privatekey"] = s.privatekey.get_secret_value()
            else:
                kwargs["privatekey_file"] = s.privatekey_file
        else:
            if self.logins == 0:
                log.warning(
                    "Salesforce password (SOAP) login is deprecated: it is off by default in orgs created from "
                    "Winter '26 and retired in Summer '27. Switch to the JWT bearer flow (consumer_key + privatekey)."
                )
            assert s.password is not None and s.security_token is not None
            kwargs["password"] = s.password.get_secret_value()
            kwargs["security_token"] = s.security_token.get_secret_value()
        try:
            session_id, instance = SalesforceLogin(session=self.http, **kwargs)
        except SalesforceAuthenticationFailed as exc:
            raise FatalConnectorError(
                f"Salesforce login ({mode}) failed for {s.username or s.consumer_key!r}: {exc.code} {getattr(exc, 'auth_message', '')}. "
                "Check the credentials and the connected app's policies."
            ) from None
        except requests.RequestException as exc:
            raise RetryableError(
                f"Salesforce login: {_unreachable(exc, s.domain)}", retry_after=UNREACHABLE_RETRY_SECONDS, blocked=True
            ) from None
        self.logins += 1
        return Salesforce(session_id=session_id, instance=instance, **common)

    def close(self) -> None:
        self.http.close()

    # -- calls --------------------------------------------------------------------------------
    def call(self, fn: Callable[[Salesforce], T], retry: bool = True) -> T:
        """Run one API request; re-login once on an expired session, retry transient failures.

        ``retry=False`` for creates: a lost answer may hide a write, so the caller re-reads first.
        """
        relogged = False
        attempt = 0
        limited = 0
        while True:
            sf = self.sf
            self.calls += 1
            try:
                result = fn(sf)
            except SalesforceExpiredSession:
                if relogged or self.settings.auth_mode() == "session":
                    raise FatalConnectorError(
                        "Salesforce session expired or was revoked and cannot be renewed from a bare session id; "
                        "configure the JWT bearer flow (username + consumer_key + privatekey) or client credentials."
                    ) from None
                log.info("Salesforce session expired; logging in again")
                self._sf = None
                relogged = True
                continue
            except SalesforceRefusedRequest as exc:
                code, message = _error_code(exc)
                if code == "REQUEST_LIMIT_EXCEEDED" and DAILY_LIMIT_MARK in message:
                    self._note_usage(sf)
                    raise DailyLimitReached(
                        f"Salesforce API limit reached ({message}); the sync stops here and resumes from its cursor."
                    ) from None
                if code == "REQUEST_LIMIT_EXCEEDED":
                    if limited < CONCURRENCY_RETRIES:
                        limited += 1
                        log.info("Salesforce short-lived limit (%s); retrying in %.0f s", message, 2.0**limited)
                        self.sleep(2.0**limited)
                        continue
                    raise ConcurrencyLimited(
                        f"Salesforce is refusing requests for now ({message}); retrying in "
                        f"{CONCURRENCY_RETRY_AFTER:.0f} s.",
                        status=403,
                        retry_after=CONCURRENCY_RETRY_AFTER,
                    ) from None
                raise FatalConnectorError(f"Salesforce refused {exc.resource_name}: {code} {message}") from None
            except SalesforceGeneralError as exc:
                code, message = _error_code(exc)
                if exc.status in TOO_LONG:
                    raise FatalConnectorError(
                        f"Salesforce refused {exc.resource_name} as too long ({exc.status}): a request "
                        "holds at most 16,384 bytes of URI and headers. This is a connector bug; report it."
                    ) from None
                if retry and attempt < TRANSIENT_RETRIES:
                    attempt += 1
                    self.sleep(0.5 * 2**attempt)
                    continue
                raise RetryableError(f"Salesforce answered {exc.status}: {code} {message}", status=exc.status) from None
            except SalesforceError as exc:
                code, message = _error_code(exc)
                if code == "INVALID_QUERY_LOCATOR":
                    raise QueryLocatorExpired(f"Salesforce query locator expired: {message}") from None
                if code in QUERY_TOO_BIG:
                    raise QueryTooBig(f"Salesforce query too big: {code} {message}", status=exc.status) from None
                column = NO_SUCH_COLUMN.search(message) if code == "INVALID_FIELD" else None
                if column is not None:
                    raise FieldRefused(message, column.group(1)) from None
                raise FatalConnectorError(f"Salesforce rejected {exc.resource_name}: {code} {message}") from None
            except requests.RequestException as exc:
                if retry and attempt < TRANSIENT_RETRIES:
                    attempt += 1
                    self.sleep(0.5 * 2**attempt)
                    continue
                # the org gave no answer: no write is at fault, none spends an attempt (hub/unreachable.py)
                raise RetryableError(
                    f"Salesforce: {_unreachable(exc, 'the instance')}",
                    retry_after=UNREACHABLE_RETRY_SECONDS,
                    blocked=True,
                ) from None
            self._note_usage(sf)
            return result

    def _note_usage(self, sf: Salesforce) -> None:
        usage = sf.api_usage.get("api-usage")
        if usage is not None:
            self.api_used, self.api_limit = int(usage.used), int(usage.total)

    def refresh_usage(self) -> None:
        """Read the org's API usage now (``GET /limits``, its ``Sforce-Limit-Info``): the
        allocation is a rolling 24 hours, so usage falls as old calls age out, and a writer
        paused on the usage it last saw makes no call that would tell it."""
        self.call(lambda sf: sf.limits())

    def usage_share(self) -> float | None:
        if self.api_used is None or not self.api_limit:
            return None
        return self.api_used / self.api_limit

    # -- helpers ------------------------------------------------------------------------------
    def query_pages(self, soql: str, include_deleted: bool = False) -> Iterator[list[dict[str, Any]]]:
        """Yield each batch of a query (≤ batch_size rows), following ``nextRecordsUrl``."""
        headers = {"Sforce-Query-Options": f"batchSize={self.settings.batch_size}"}
        res = self.call(lambda sf: sf.query(soql, include_deleted=include_deleted, headers=headers))
        while True:
            yield res["records"]
            if res.get("done", True) or not res.get("nextRecordsUrl"):
                return
            url = res["nextRecordsUrl"]
            res = self.call(lambda sf, url=url: sf.query_more(url, identifier_is_url=True, headers=headers))

    def count(self, soql: str, include_deleted: bool = False) -> int:
        """``totalSize`` of a ``SELECT COUNT() ...`` query."""
        return int(self.call(lambda sf: sf.query(soql, include_deleted=include_deleted))["totalSize"])

    def bulk_query_pages(self, sobject: str, soql: str, include_deleted: bool = False) -> Iterator[str]:
        """Run ``soql`` as a Bulk API 2.0 query job and yield each page of results as CSV text."""
        op = Operation.query_all if include_deleted else Operation.query

        def bulk(sf: Salesforce) -> Any:
            return getattr(sf.bulk2, sobject)._client  # the library's Bulk 2.0 HTTP client

        try:
            job_id = str(self.call(lambda sf: bulk(sf).create_job(op, soql))["id"])
        except DailyLimitReached:
            raise
        except FatalConnectorError as exc:
            raise BulkRefused(str(exc)) from None
        wait, waited = self.settings.bulk_poll_seconds, 0.0
        while True:
            info = self.call(lambda sf: bulk(sf).get_job(job_id, True))
            state = info.get("state")
            if state == "JobComplete":
                break
            if state in ("Failed", "Aborted"):
                raise BulkJobFailed(
                    f"Salesforce Bulk API 2.0 query job {job_id} on {sobject} ended {state}: "
                    f"{info.get('errorMessage') or 'no reason given'}"
                )
            if waited >= self.settings.bulk_timeout_seconds:
                raise BulkJobFailed(
                    f"Salesforce Bulk API 2.0 query job {job_id} on {sobject} is still {state} after {waited:.0f} s; "
                    "the next sync starts a new one"
                )
            self.sleep(wait)
            waited += wait
            wait = min(BULK_MAX_WAIT, max(wait * 2, 0.01))
        locator = ""
        while True:
            page = self.call(
                lambda sf, loc=locator: bulk(sf).get_query_results(job_id, loc, self.settings.bulk_page_records)
            )
            yield page["records"]
            locator = page["locator"]
            if not locator:
                return

    def describe(self, sobject: str) -> dict[str, Any]:
        """The object's describe, fetched again after ``DESCRIBE_TTL`` seconds."""
        hit = self._describes.get(sobject)
        if hit is None or self.clock() - hit[0] > DESCRIBE_TTL:
            hit = self._describes[sobject] = (
                self.clock(),
                self.call(lambda sf: sf.restful(f"sobjects/{sobject}/describe")),
            )
        return hit[1]

    def forget_describe(self, sobject: str) -> None:
        self._describes.pop(sobject, None)

    def rest(self, path: str, method: str = "GET", retry: bool = True, **kwargs: Any) -> Any:
        return self.call(lambda sf: sf.restful(path, method=method, **kwargs), retry=retry)


def _unreachable(exc: requests.RequestException, fallback: str) -> str:
    """Where the request went (scheme and host of its URL, else ``fallback``), why it got no
    answer, and what to do; the caller's error is retried, so nothing queued is lost."""
    url = getattr(getattr(exc, "request", None), "url", None)
    where = "{0.scheme}://{0.netloc}".format(urlsplit(url)) if url else fallback
    if cause(exc) == UNTRUSTED:
        return (
            f"{unreachable(where, exc)}; set ca_bundle to the file of the CA that signed it (`hub sandbox "
            "serve` makes a new one each time it starts: copy its ca_bundle line again), or leave ca_bundle "
            "out for an org with a public certificate"
        )
    return f"{unreachable(where, exc)}; {what_to_do('the domain setting')}"
