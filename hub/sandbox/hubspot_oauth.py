"""HubSpot look-alike, OAuth: the token and introspection endpoints of an OAuth app.

A mixin for ``HubSpotApp`` (hubspot_server.py), which routes ``/oauth/...`` here before auth.
Access tokens expire ``token_lifetime_s`` after they are issued, by the wall clock as HubSpot's
do (``expires_in`` 1800), whatever the simulated clock says: the client times its refresh by
the wall clock too.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

from hub.sandbox.clock import iso_ms
from hub.sandbox.httpkit import Request, Response
from hub.sandbox.hubspot_errors import err
from hub.secrets import same_secret

#: seconds an access token lives (HubSpot's ``expires_in``)
TOKEN_LIFETIME_S = 1800


class HubSpotOAuthRoutes:
    """Needs ``oauth_client``, ``refresh_tokens``, ``access_tokens``, the counters and ``scopes``."""

    hs: Any
    oauth_client: tuple[str, str]
    refresh_tokens: set[str]
    access_tokens: dict[str, float]  # token -> when it expires (wall clock, seconds)
    token_lifetime_s: int
    refreshes: int
    v1_token_calls: int
    scopes: set[str]

    def oauth_token(self, req: Request) -> Response:
        """The OAuth token endpoints, refresh_token grant. ``POST /oauth/2026-03/token`` (the
        current one; ``/oauth/v1/token`` is deprecated and goes on February 16, 2027, changelog
        "v1 OAuth API Deprecation") takes every parameter in the form body, never the query
        string, and answers errors in RFC 6749 form (``error``, ``error_description``) next to
        HubSpot's ``status``/``message`` (changelog "New OAuth v3 API Endpoints and Standardized
        Error Responses"). A refresh token does not rotate: the same one comes back, still good."""
        current = req.path != "/oauth/v1/token"
        if current and any(req.arg(k) for k in ("client_id", "client_secret", "refresh_token")):
            return _oauth_err("invalid_request", "parameters belong in the request body", "BAD_REQUEST")
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        client_id, client_secret = self.oauth_client
        if not (same_secret(form.get("client_id"), client_id) & same_secret(form.get("client_secret"), client_secret)):
            return _oauth_err("invalid_client", "missing or unknown client id", "BAD_CLIENT_ID")
        if form.get("grant_type") != "refresh_token" or not _any_secret(form.get("refresh_token"), self.refresh_tokens):
            return _oauth_err("invalid_grant", "refresh token is invalid, expired or revoked", "BAD_REFRESH_TOKEN")
        self.refreshes += 1
        if not current:
            self.v1_token_calls += 1
        access = f"oauth-access-{self.refreshes}"
        self.access_tokens[access] = time.time() + self.token_lifetime_s
        return Response(
            200,
            {
                "token_type": "bearer",
                "access_token": access,
                "refresh_token": form["refresh_token"],
                "expires_in": self.token_lifetime_s,
            },
        )

    def oauth_introspect(self, req: Request) -> Response:
        """``POST /oauth/2026-03/token/introspect``: the token (form body) and its scopes."""
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        client_id, client_secret = self.oauth_client
        if not (same_secret(form.get("client_id"), client_id) & same_secret(form.get("client_secret"), client_secret)):
            return _oauth_err("invalid_client", "missing or unknown client id", "BAD_CLIENT_ID")
        token = _matching(form.get("token"), self.access_tokens)
        left = self.access_tokens[token] - time.time() if token else 0.0
        if left <= 0:
            return Response(200, {"active": False})
        return Response(
            200,
            {
                "active": True,
                "token_type": "access_token",
                "hub_id": self.hs.portal_id,
                "client_id": client_id,
                "scopes": sorted(self.scopes),
                "expires_in": int(left),
            },
        )

    def expired_token(self, presented: str) -> Response | None:
        """HubSpot's 401 for an issued access token past its lifetime, or None. HubSpot words
        the age in seconds, minutes, hours or days ("75 second(s)", "3 minute(s)", "6 hour(s)"
        seen live); where it switches unit is not known: here at 2 minutes, 1 hour and 1 day."""
        token = _matching(presented, self.access_tokens)
        if token is None or time.time() < self.access_tokens[token]:
            return None
        expired_at = self.access_tokens[token]
        ago = int(time.time() - expired_at)
        unit, n = next((u, ago // d) for u, d, top in _AGES if ago < top)
        return err(
            401,
            f"The OAuth token used to make this call expired {n} {unit}(s) ago.",
            "EXPIRED_AUTHENTICATION",
            context={"expire time": [iso_ms(int(expired_at * 1000))]},
        )

    def expire_access_tokens(self, ago_s: float = 0.0) -> None:
        """Let the issued access tokens' lifetime pass: each expired ``ago_s`` seconds ago."""
        for token in self.access_tokens:
            self.access_tokens[token] = time.time() - ago_s


_AGES = (("second", 1, 120), ("minute", 60, 3600), ("hour", 3600, 86_400), ("day", 86_400, float("inf")))


def _any_secret(presented: str | None, known: set[str] | dict[str, Any]) -> bool:
    """Whether ``presented`` is one of ``known``, compared in constant time against each."""
    return _matching(presented, known) is not None


def _matching(presented: str | None, known: set[str] | dict[str, Any]) -> str | None:
    """The one of ``known`` that ``presented`` is, compared in constant time against each."""
    found = None
    for k in list(known):
        if same_secret(presented, k):
            found = k
    return found


def _oauth_err(error: str, description: str, status: str) -> Response:
    """An OAuth error: RFC 6749 fields plus HubSpot's older ``status`` and ``message``."""
    return Response(400, {"error": error, "error_description": description, "status": status, "message": description})
