"""HubSpot transport: auth, the shared rate limit, retries, and vendor errors -> hub errors.

Everything goes through ``hubspot-api-client``. Responses are read raw
(``_preload_content=False``) and parsed as JSON here, so no generated model class leaves
this module. The client's urllib3 retry does not retry POST or PATCH (search and every batch
call), so this module retries 429s, 5xx and dropped connections itself: by the 429 body's
``policyName`` (ten-second window: wait out the window; search: about a second; DAILY: give up
until the reset, midnight in the account's time zone), a 502/504 after a pause of a few seconds
(HubSpot's guidance), else exponential backoff with jitter.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import urllib3
from hubspot import HubSpot
from hubspot.utils.requests import http_request_builder

from connectors.hubspot.config import HubSpotSettings
from hub.connector import Runtime
from hub.errors import FatalConnectorError, RetryableError
from hub.ratelimit import Limit
from hub.unreachable import RETRY_SECONDS as UNREACHABLE_RETRY_SECONDS
from hub.unreachable import unreachable, what_to_do

log = logging.getLogger(__name__)


def _sdk_print(*args: object, **_: object) -> None:
    """hubspot-api-client 12's ``api_request`` prints "HTTP error occurred: ..." to stdout before
    it raises (utils/requests/http_request_builder.py), which made `--json` output no JSON. The
    error is raised and handled here all the same, so its line goes to the debug log."""
    log.debug(" ".join(str(a) for a in args))


http_request_builder.print = _sdk_print  # that module's own name only: every other print is untouched
RETRY_STATUSES = {423, 429, 477, 500, 502, 503, 504, 524}
# 100 per 10 s (Free/Starter portals; public OAuth apps get 110) less 5%: safe on every tier
# until HubSpot's own X-HubSpot-RateLimit-Max header says what this app and portal get
STARTING_BURST = 95
# the current OAuth API; /oauth/v1/token is deprecated from February 16, 2027 (HubSpot changelog
# "v1 OAuth API Deprecation", developers.hubspot.com/changelog/v1-oauth-api-deprecation)
TOKEN_PATH = "/oauth/2026-03/token"
INTROSPECT_PATH = "/oauth/2026-03/token/introspect"
MARGIN = 0.95
ACCOUNT_DETAILS = "account.details"
#: the daily limit's reset is midnight in the account's zone; a minute after it, in case the
#: clocks differ. With the zone unknown, an hour.
DAILY_RESET_MARGIN = 60.0
DAILY_UNKNOWN_WAIT = 3600.0
#: a Retry-After longer than this is not slept in a task: the connector is blocked until then
#: (a 477 migration's is "typically up to 24 hours", HubSpot's error-handling guide)
MAX_INLINE_WAIT = 60.0
#: HubSpot's 423 lock "will last for 2 seconds": wait at least that (error-handling guide)
LOCK_WAIT = 2.0
#: 502/504: HubSpot's processing limits were hit; "pause your requests for a few seconds, then
#: retry" (developers.hubspot.com/docs/api/faq). Cloudflare's 524 is the same timeout in front.
GATEWAY_TIMEOUTS = {502, 504, 524}
#: the longest request-target (path and query) a GET we build may take. HubSpot documents no
#: limit; a long ``?properties=`` list is refused with 414 URI Too Long somewhere between ~8 KB and
#: ~16,200 characters (dlt-hub/verified-sources#305; PostHog PR #31617), so we stay under 7,000.
MAX_GET_URI_BYTES = 7_000
TOO_LONG = frozenset({414, 431})  # URI, or headers, too large: the same answer every time


def _required_scopes(body: Any) -> list[str]:
    """The scopes a 403 MISSING_SCOPES names (``errors[].context.requiredGranularScopes``, as
    in HubSpot/hubspot-api-nodejs#268), or []."""
    if not isinstance(body, dict) or body.get("category") != "MISSING_SCOPES":
        return []
    out: list[str] = []
    for e in body.get("errors") or []:
        context = e.get("context") if isinstance(e, dict) else None
        for scope in (context or {}).get("requiredGranularScopes") or []:
            if str(scope) not in out:
                out.append(str(scope))
    return out


def _is_api_exception(exc: Exception) -> bool:
    return hasattr(exc, "status") and hasattr(exc, "body") and type(exc).__module__.startswith("hubspot")


class HubSpotClient:
    """One HubSpot portal, shared-limit aware. ``calls`` counts requests by operation."""

    def __init__(
        self,
        name: str,
        settings: HubSpotSettings,
        runtime: Runtime,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        self.s = settings
        self.sleep = sleep
        self.clock = clock  # epoch seconds: when the daily limit resets is reckoned on it
        # the account's time zone, where its daily limit resets: set, or read from its details
        self.account_zone: str | None = (
            settings.portal_timezone if "portal_timezone" in settings.model_fields_set else None
        )
        self._zone_asked = self.account_zone is not None
        self._zone_lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self.rate_limit_waits = 0.0
        self._token_lock = threading.Lock()
        self._token: str | None = settings.access_token.get_secret_value() if settings.access_token else None
        self._token_expires = float("inf") if settings.access_token else 0.0
        self._refresh_token = settings.oauth.refresh_token.get_secret_value() if settings.oauth else None
        self._api = HubSpot(access_token=self._token or "", host=settings.base_url, base_url=settings.base_url)
        key = f"hubspot:{name}"
        start = min(STARTING_BURST, settings.requests_per_ten_seconds or STARTING_BURST)
        self.burst = Limit("ten_secondly", start, 10.0)
        self.general = runtime.rate_limiter(key, [self.burst])
        self.search_limit = runtime.rate_limiter(
            key, [self.burst, Limit("search_secondly", settings.search_requests_per_second, 1.0)]
        )
        if settings.requests_per_ten_seconds and settings.requests_per_ten_seconds > STARTING_BURST:
            self._set_burst(settings.requests_per_ten_seconds, 10.0)  # the user's figure until HubSpot's arrives

    @property
    def api(self) -> HubSpot:
        self._ensure_token()
        return self._api

    # -- auth -------------------------------------------------------------------------------
    def _ensure_token(self) -> None:
        """OAuth tokens are refreshed by their lifetime (HubSpot: a 401 is no reliable signal)."""
        if self.s.oauth is None or time.time() < self._token_expires - 60:
            return
        with self._token_lock:
            if time.time() < self._token_expires - 60:
                return
            resp = self._oauth_post(TOKEN_PATH, {"grant_type": "refresh_token", "refresh_token": self._refresh_token})
            if resp.status_code == 429 or resp.status_code >= 500:
                # the token endpoint is rate limited too (PostHog's sync failed on exactly this)
                raise RetryableError(
                    f"HubSpot OAuth refresh answered HTTP {resp.status_code}; retrying later",
                    status=resp.status_code,
                    retry_after=10.0,
                )
            if resp.status_code != 200:
                err = _json(resp.content) or {}
                raise FatalConnectorError(
                    f"HubSpot OAuth refresh failed with HTTP {resp.status_code} "
                    f"({err.get('error') or err.get('status') or 'no reason given'}); re-authorize the app"
                )
            body = resp.json()
            self._token = body["access_token"]
            # HubSpot's refresh tokens do not rotate; take a new one only if one is sent
            self._refresh_token = body.get("refresh_token") or self._refresh_token
            self._token_expires = time.time() + float(body.get("expires_in", 1800))
            self._api.access_token = self._token

    def _expired(self, body: Any) -> bool:
        """Is this 401 HubSpot's EXPIRED_AUTHENTICATION for an OAuth access token?"""
        return self.s.oauth is not None and isinstance(body, dict) and body.get("category") == "EXPIRED_AUTHENTICATION"

    def _use_token(self, fn: Callable[..., Any]) -> None:
        """Send ``fn`` with the current token: each generated API object keeps a copy of the
        configuration it was made with, so a call retried after a refresh still holds the old one."""
        config = getattr(getattr(getattr(fn, "__self__", None), "api_client", None), "configuration", None)
        if self._token and config is not None:
            config.access_token = self._token

    def _oauth_post(self, path: str, fields: dict[str, Any]) -> Any:
        """A form POST to an OAuth endpoint, every parameter (secrets too) in the body: the
        current endpoints refuse them in the query string, where they would reach logs."""
        o = self.s.oauth
        assert o is not None
        form = {"client_id": o.client_id, "client_secret": o.client_secret.get_secret_value(), **fields}
        return self._api.api_request(
            {
                "method": "POST",
                "path": path,
                "body": urlencode(form),
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                "default_json": False,
                "auth_type": "none",
            }
        )

    # -- calls ------------------------------------------------------------------------------
    def call(self, op: str, fn: Callable[..., Any], *args: Any, search: bool = False, **kwargs: Any) -> Any:
        """Run one SDK call with limits and retries; return its parsed JSON body (or None)."""

        def send() -> Any:
            self._use_token(fn)
            try:
                resp = fn(*args, _preload_content=False, _request_timeout=self.s.timeout_seconds, **kwargs)
            except urllib3.exceptions.HTTPError as exc:
                raise _Failed(None, None, unreachable(self.s.base_url, exc)) from None
            except Exception as exc:
                if not _is_api_exception(exc):
                    raise
                self.follow_limit(exc.headers)
                body = _json(exc.body)
                raise _Failed(
                    exc.status,
                    body,
                    f"HTTP {exc.status}: {(body or {}).get('message', '')}".strip(),
                    _retry_after(exc.headers),
                ) from None
            self.follow_limit(resp.headers)
            return json.loads(resp.data) if resp.data else None

        return self._with_retries(op, send, search)

    def _with_retries(self, op: str, send: Callable[[], Any], search: bool = False) -> Any:
        """One request under the shared limit, retried: 429s by their policy (their own count),
        5xx and dropped connections with exponential backoff (another count). One count for both
        let a few 5xx turn the next 429's wait into most of a minute (seen in the chaos run)."""
        if op != ACCOUNT_DETAILS:
            self._know_account_zone()
        limiter = self.search_limit if search else self.general
        errors = throttled = 0
        renewed = False
        while True:
            self._ensure_token()  # waits between tries can outlive the token the call began with
            # counted until the answer is back: HubSpot counts it on arrival, maybe well after the grant
            with limiter.held() as waited:
                self.rate_limit_waits += waited
                self.calls[op] = self.calls.get(op, 0) + 1
                try:
                    return send()
                except _Failed as failed:
                    status, body, reason, retry_after = failed.status, failed.body, failed.reason, failed.retry_after
            if status == 401 and not renewed and self._expired(body):
                # HubSpot's clock says the token is over before ours does: renew it, once
                renewed, self._token_expires = True, 0.0
                continue
            if status in (401, 403):
                needs = _required_scopes(body)
                what = f"the token needs the scope {', '.join(needs)}" if needs else "check the token and its scopes"
                if status == 403 and (body or {}).get("category") == "MISSING_SCOPES":
                    raise MissingScopes(f"HubSpot refused {op} ({reason}); {what}", needs)
                raise FatalConnectorError(f"HubSpot refused {op} ({reason}); {what}")
            if status in TOO_LONG:
                raise FatalConnectorError(
                    f"HubSpot refused {op} as too long (HTTP {status}); requests are built to fit "
                    f"{MAX_GET_URI_BYTES:,} bytes of URI, so this is a connector bug: report it"
                )
            if status is not None and status not in RETRY_STATUSES:
                raise HubSpotRequestError(status, body, reason)
            if status == 429:
                wait, throttled = self._throttle_wait(body, search), throttled + 1
                tries = throttled
            else:
                wait, errors = self._transient_wait(op, status, retry_after, errors), errors + 1
                tries = errors
            if tries > self.s.max_retries:
                if status is None:
                    # no answer at all: where to look, and that nothing is lost. The portal as a
                    # whole is out of reach, so no push is at fault and none spends an attempt
                    reason += f"; {what_to_do('base_url')}"
                    raise RetryableError(
                        f"HubSpot {op} still failing after {tries} tries: {reason}",
                        retry_after=max(wait, UNREACHABLE_RETRY_SECONDS),
                        blocked=True,
                    )
                raise RetryableError(
                    f"HubSpot {op} still failing after {tries} tries: {reason}", status=status, retry_after=wait
                )
            log.info("HubSpot %s: %s; retrying in %.1fs", op, reason, wait)
            self.sleep(wait)

    def follow_limit(self, headers: Any) -> None:
        """Take the burst limit HubSpot reports for this app and portal (``X-HubSpot-RateLimit-
        Max`` per ``-Interval-Milliseconds``; not sent on search responses), less 5%, capped by
        ``requests_per_ten_seconds`` if set. It differs by tier and app type (Free/Starter and
        public OAuth apps 100-110 per 10 s, Professional 190, with the limit pack 250)."""
        if not headers:
            return
        try:
            top = int(headers.get("X-HubSpot-RateLimit-Max") or 0)
            interval = int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds") or 10_000) / 1000
        except (TypeError, ValueError):
            return
        if top <= 0 or interval <= 0:
            return
        calls = max(1, int(top * MARGIN))
        if self.s.requests_per_ten_seconds:
            calls = min(calls, self.s.requests_per_ten_seconds)
        if (calls, interval) != (self.burst.calls, self.burst.seconds):
            log.info("HubSpot reports %d calls per %.0f s for this app: pacing at %d", top, interval, calls)
            self._set_burst(calls, interval)

    def _set_burst(self, calls: int, seconds: float) -> None:
        self.burst = Limit("ten_secondly", calls, seconds)
        self.general.limits = [self.burst]
        self.search_limit.limits = [self.burst, *self.search_limit.limits[1:]]

    def _throttle_wait(self, body: dict | None, search: bool) -> float:
        """How long a 429 says to wait, by its ``policyName``. The ten-second window is rolling:
        after 10 s every call that filled it has aged out, so the wait is a constant 10 s (plus
        jitter so workers do not come back together), not growing per try: tap-hubspot moved to
        a constant 10 s after exponential waits turned 429s into retry storms. The daily limit
        is not waited out in a task: the connector is blocked until it resets."""
        policy = (body or {}).get("policyName")
        message = str((body or {}).get("message", "")).lower()
        if policy == "DAILY" or (policy is None and "daily limit" in message):
            wait, when = self.until_daily_reset()
            raise RetryableError(
                f"HubSpot daily API limit reached; resuming after it resets {when}",
                status=429,
                retry_after=wait,
                blocked=True,
            )
        if (
            search
            or policy == "SECONDLY"
            or (policy is None and "ten_secondly" not in message and "secondly" in message)
        ):
            return 1.0 + random.uniform(0, 0.5)
        return 10.0 + random.uniform(0, 2.0)

    def _transient_wait(self, op: str, status: int | None, retry_after: float | None, attempt: int) -> float:
        """How long a 423, 477 or 5xx says to wait: at least the 2 s a lock lasts, at least its
        Retry-After (a 477 always has one), else exponential backoff. A wait longer than
        ``MAX_INLINE_WAIT`` is not slept: the connector is blocked until then."""
        wait = self._backoff(attempt)
        if status in GATEWAY_TIMEOUTS:  # a few seconds at least (jitter only adds)
            wait = max(wait, self.s.gateway_wait_seconds * random.uniform(1.0, 1.5))
        if status == 423:
            wait = max(wait, LOCK_WAIT)
        if retry_after is not None:
            wait = max(wait, retry_after)
        elif status == 477:
            wait = max(wait, MAX_INLINE_WAIT)  # no Retry-After sent: try again in a minute
        if wait > MAX_INLINE_WAIT:
            what = "this HubSpot account is being migrated" if status == 477 else f"HubSpot answered {status}"
            raise RetryableError(
                f"HubSpot {op}: {what}; resuming after the {wait:.0f} s it asked to wait",
                status=status,
                retry_after=wait,
                blocked=True,
            )
        return wait

    def until_daily_reset(self) -> tuple[float, str]:
        """Seconds to the daily limit's reset and when that is, in words. It resets at midnight
        in the account's time zone, not UTC (usage guidelines); with the zone unknown (neither
        ``portal_timezone`` set nor the account's details read) try again in an hour."""
        if self.account_zone is None:
            return DAILY_UNKNOWN_WAIT, "(the account's time zone is unknown: trying again in an hour)"
        zone = ZoneInfo(self.account_zone)
        now = datetime.fromtimestamp(self.clock(), zone)
        midnight = datetime.combine(now.date() + timedelta(days=1), dtime(0), zone)
        wait = (midnight - now).total_seconds() + DAILY_RESET_MARGIN
        return wait, f"at midnight {self.account_zone} ({midnight.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"

    def local_zone(self) -> str:
        """The zone a bare local hour (the engine's "best send hour 9") is read in when written
        to a datetime property: ``portal_timezone`` when set, else the account's own (read from
        its details once per client, as the daily limit's reset is), else UTC (details refused)."""
        self._know_account_zone()
        return self.account_zone or self.s.portal_timezone

    def account_details(self) -> dict[str, Any]:
        """The account's details (``GET /account-info/v3/details``); its time zone is taken."""
        details = self.raw(ACCOUNT_DETAILS, "GET", "/account-info/v3/details") or {}
        self.learn_account(details)
        return details

    def _know_account_zone(self) -> None:
        """Read the account's time zone once per client, before its first call: a worker never
        runs check(), and the daily limit's 429 cannot be answered by asking then (every call is
        refused until the reset). A set ``portal_timezone`` is not asked for. A refusal (no
        such endpoint for this token) leaves the zone unknown; an outage is raised as any
        call's would be, and the next call asks again."""
        if self._zone_asked:
            return
        with self._zone_lock:
            if self._zone_asked:
                return
            try:
                self.account_details()
            except (HubSpotRequestError, FatalConnectorError) as exc:
                log.warning("HubSpot account details unreadable (%s): its daily limit's reset is guessed", exc)
            self._zone_asked = True

    def learn_account(self, details: dict[str, Any]) -> None:
        """Take the account's time zone from its details (``GET /account-info/v3/details``),
        unless ``portal_timezone`` was set."""
        zone = details.get("timeZone")
        if "portal_timezone" in self.s.model_fields_set or not isinstance(zone, str):
            return
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            return
        self.account_zone = zone

    @staticmethod
    def _backoff(attempt: int) -> float:
        return min(30.0, 0.2 * 2**attempt) * random.uniform(0.5, 1.0)

    def token_scopes(self) -> set[str] | None:
        """The scopes the token was granted (private-app or OAuth introspection); None if unknown."""
        try:
            if self.s.oauth is None:
                token = self.s.access_token.get_secret_value() if self.s.access_token else ""
                res = self.raw(
                    "token.info", "POST", "/oauth/v2/private-apps/get/access-token-info", body={"tokenKey": token}
                )
            else:
                self._ensure_token()
                resp = self._oauth_post(INTROSPECT_PATH, {"token": self._token, "token_type_hint": "access_token"})
                res = _json(resp.content) if resp.status_code == 200 else None
        except HubSpotRequestError:
            return None
        if not res:
            return None
        scopes = res.get("scopes") or str(res.get("scope") or "").split()
        return set(scopes)

    def raw(self, op: str, method: str, path: str, qs: dict[str, Any] | None = None, body: Any = None) -> Any:
        """Endpoints the SDK lacks (legacy email events, form submissions), through its own
        ``api_request`` so base URL and auth stay the SDK's."""
        options: dict[str, Any] = {"method": method, "path": path, "qs": qs or {}}
        if body is not None:
            options["body"] = body

        def send() -> Any:
            try:
                resp = self.api.api_request(options)
            except OSError as exc:  # requests' ConnectionError is an OSError
                raise _Failed(None, None, unreachable(self.s.base_url, exc)) from None
            self.follow_limit(resp.headers)
            if resp.status_code >= 300:
                raise _Failed(
                    resp.status_code, _json(resp.content), f"HTTP {resp.status_code}", _retry_after(resp.headers)
                )
            return resp.json() if resp.content else None

        return self._with_retries(op, send)


class _Failed(Exception):
    """One try that did not get an answer worth returning: its status (None: no answer) and the
    seconds its Retry-After header asked for (None: none sent)."""

    def __init__(self, status: int | None, body: dict | None, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.status, self.body, self.reason, self.retry_after = status, body, reason, retry_after


def _retry_after(headers: Any) -> float | None:
    """A Retry-After header in seconds (HubSpot sends seconds: 477, workflow 429s), or None."""
    try:
        value = headers.get("Retry-After") if headers else None
        return max(0.0, float(value)) if value not in (None, "") else None
    except (TypeError, ValueError, AttributeError):
        return None


class MissingScopes(FatalConnectorError):
    """A 403 MISSING_SCOPES: the token works but lacks ``scopes`` for this call. Fatal as any
    permission problem, except where the connector can go on without what the call reads."""

    def __init__(self, message: str, scopes: list[str]):
        super().__init__(message)
        self.scopes = scopes


class HubSpotRequestError(Exception):
    """A 4xx HubSpot will answer the same way again: the caller decides what it means."""

    def __init__(self, status: int, body: dict | None, reason: str):
        super().__init__(reason)
        self.status = status
        self.body = body or {}


def get_uri_bytes(path: str, params: list[tuple[str, Any]]) -> int:
    """Bytes of ``path?query`` as the generated client sends a GET: a list parameter repeated
    once per value (``properties=a&properties=b``, the "multi" collection format)."""
    return len(path) + 1 + len(urlencode([(k, str(v)) for k, v in params]))


def _json(raw: Any) -> dict | None:
    if not raw:
        return None
    try:
        out = json.loads(raw)
        return out if isinstance(out, dict) else None
    except (ValueError, TypeError):
        return None
