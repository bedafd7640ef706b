"""HubSpot transport: auth, the shared rate limit, retries, and vendor errors -> hub errors.

Everything goes through ``hubspot-api-client``. Responses are read raw
(``_preload_content=False``) and parsed as JSON here, so no generated model class leaves
this module. The client's urllib3 retry does not retry POST or PATCH (search and every batch
call), so this module retries 429s, 5xx and dropped connections itself: by the 429 body's
``policyName`` (ten-second window: wait out the window; search: about a second; DAILY: give up
until the reset), else exponential backoff with jitter.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import urllib3
from hubspot import HubSpot

from connectors.hubspot.config import HubSpotSettings
from hub.connector import Runtime
from hub.errors import FatalConnectorError, RetryableError
from hub.ratelimit import Limit

log = logging.getLogger(__name__)
RETRY_STATUSES = {423, 429, 477, 500, 502, 503, 504, 524}


def _is_api_exception(exc: Exception) -> bool:
    return hasattr(exc, "status") and hasattr(exc, "body") and type(exc).__module__.startswith("hubspot")


class HubSpotClient:
    """One HubSpot portal, shared-limit aware. ``calls`` counts requests by operation."""

    def __init__(
        self, name: str, settings: HubSpotSettings, runtime: Runtime, sleep: Callable[[float], None] = time.sleep
    ):
        self.s = settings
        self.sleep = sleep
        self.calls: dict[str, int] = {}
        self.rate_limit_waits = 0.0
        self._token_lock = threading.Lock()
        self._token: str | None = settings.access_token.get_secret_value() if settings.access_token else None
        self._token_expires = float("inf") if settings.access_token else 0.0
        self._refresh_token = settings.oauth.refresh_token.get_secret_value() if settings.oauth else None
        self._api = HubSpot(access_token=self._token or "", host=settings.base_url, base_url=settings.base_url)
        key = f"hubspot:{name}"
        self.general = runtime.rate_limiter(key, [Limit("ten_secondly", settings.requests_per_ten_seconds, 10.0)])
        self.search_limit = runtime.rate_limiter(
            key,
            [
                Limit("ten_secondly", settings.requests_per_ten_seconds, 10.0),
                Limit("search_secondly", settings.search_requests_per_second, 1.0),
            ],
        )

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
            o = self.s.oauth
            resp = self._api.api_request(
                {
                    "method": "POST",
                    "path": "/oauth/v1/token",
                    "body": f"grant_type=refresh_token&client_id={o.client_id}&client_secret={o.client_secret.get_secret_value()}&refresh_token={self._refresh_token}",
                    "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                    "default_json": False,
                    "auth_type": "none",
                }
            )
            if resp.status_code == 429 or resp.status_code >= 500:
                # the token endpoint is rate limited too (PostHog's sync failed on exactly this)
                raise RetryableError(
                    f"HubSpot OAuth refresh answered HTTP {resp.status_code}; retrying later",
                    status=resp.status_code,
                    retry_after=10.0,
                )
            if resp.status_code != 200:
                raise FatalConnectorError(
                    f"HubSpot OAuth refresh failed with HTTP {resp.status_code}; re-authorize the app"
                )
            body = resp.json()
            self._token = body["access_token"]
            self._refresh_token = body.get("refresh_token", self._refresh_token)  # rotation
            self._token_expires = time.time() + float(body.get("expires_in", 1800))
            self._api.access_token = self._token

    # -- calls ------------------------------------------------------------------------------
    def call(self, op: str, fn: Callable[..., Any], *args: Any, search: bool = False, **kwargs: Any) -> Any:
        """Run one SDK call with limits and retries; return its parsed JSON body (or None)."""

        def send() -> Any:
            try:
                resp = fn(*args, _preload_content=False, _request_timeout=self.s.timeout_seconds, **kwargs)
            except urllib3.exceptions.HTTPError as exc:
                raise _Failed(None, None, f"connection problem ({type(exc).__name__})") from None
            except Exception as exc:
                if not _is_api_exception(exc):
                    raise
                body = _json(exc.body)
                raise _Failed(
                    exc.status, body, f"HTTP {exc.status}: {(body or {}).get('message', '')}".strip()
                ) from None
            return json.loads(resp.data) if resp.data else None

        return self._with_retries(op, send, search)

    def _with_retries(self, op: str, send: Callable[[], Any], search: bool = False) -> Any:
        """One request under the shared limit, retried: 429s by their policy (their own count),
        5xx and dropped connections with exponential backoff (another count). One count for both
        let a few 5xx turn the next 429's wait into most of a minute (seen in the chaos run)."""
        limiter = self.search_limit if search else self.general
        errors = throttled = 0
        while True:
            self.rate_limit_waits += limiter.acquire()
            self.calls[op] = self.calls.get(op, 0) + 1
            try:
                return send()
            except _Failed as failed:
                status, body, reason = failed.status, failed.body, failed.reason
            if status in (401, 403):
                raise FatalConnectorError(f"HubSpot refused {op} ({reason}); check the token and its scopes")
            if status is not None and status not in RETRY_STATUSES:
                raise HubSpotRequestError(status, body, reason)
            if status == 429:
                wait, throttled = self._throttle_wait(body, search), throttled + 1
                tries = throttled
            else:
                wait, errors = (2.0 if status == 423 else self._backoff(errors)), errors + 1
                tries = errors
            if tries > self.s.max_retries:
                raise RetryableError(
                    f"HubSpot {op} still failing after {tries} tries: {reason}", status=status, retry_after=wait
                )
            log.info("HubSpot %s: %s; retrying in %.1fs", op, reason, wait)
            self.sleep(wait)

    @staticmethod
    def _throttle_wait(body: dict | None, search: bool) -> float:
        """How long a 429 says to wait, by its ``policyName``. The ten-second window is rolling:
        after 10 s every call that filled it has aged out, so the wait is a constant 10 s (plus
        jitter so workers do not come back together), not growing per try: tap-hubspot moved to
        a constant 10 s after exponential waits turned 429s into retry storms."""
        policy = (body or {}).get("policyName")
        if policy == "DAILY":
            raise RetryableError(
                "HubSpot daily API limit reached; resuming after it resets", status=429, retry_after=3600
            )
        message = str((body or {}).get("message", "")).lower()
        if (
            search
            or policy == "SECONDLY"
            or (policy is None and "ten_secondly" not in message and "secondly" in message)
        ):
            return 1.0 + random.uniform(0, 0.5)
        return 10.0 + random.uniform(0, 2.0)

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
                res = self.raw("token.info", "GET", f"/oauth/v1/access-tokens/{self._token}")
        except HubSpotRequestError:
            return None
        return set((res or {}).get("scopes") or [])

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
                raise _Failed(None, None, f"connection problem ({type(exc).__name__})") from None
            if resp.status_code >= 300:
                raise _Failed(resp.status_code, _json(resp.content), f"HTTP {resp.status_code}")
            return resp.json() if resp.content else None

        return self._with_retries(op, send)


class _Failed(Exception):
    """One try that did not get an answer worth returning: its status (None: no answer)."""

    def __init__(self, status: int | None, body: dict | None, reason: str):
        super().__init__(reason)
        self.status, self.body, self.reason = status, body, reason


class HubSpotRequestError(Exception):
    """A 4xx HubSpot will answer the same way again: the caller decides what it means."""

    def __init__(self, status: int, body: dict | None, reason: str):
        super().__init__(reason)
        self.status = status
        self.body = body or {}


def _json(raw: Any) -> dict | None:
    if not raw:
        return None
    try:
        out = json.loads(raw)
        return out if isinstance(out, dict) else None
    except (ValueError, TypeError):
        return None
