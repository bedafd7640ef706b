"""HubSpot look-alike, OAuth: the token and introspection endpoints of an OAuth app.

A mixin for ``HubSpotApp`` (hubspot_server.py), which routes ``/oauth/...`` here before auth.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from hub.sandbox.httpkit import Request, Response
from hub.secrets import same_secret


class HubSpotOAuthRoutes:
    """Needs ``oauth_client``, ``refresh_tokens``, ``access_tokens``, the counters and ``scopes``."""

    hs: Any
    oauth_client: tuple[str, str]
    refresh_tokens: set[str]
    access_tokens: set[str]
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
        self.access_tokens.add(access)
        return Response(
            200,
            {
                "token_type": "bearer",
                "access_token": access,
                "refresh_token": form["refresh_token"],
                "expires_in": 1800,
            },
        )

    def oauth_introspect(self, req: Request) -> Response:
        """``POST /oauth/2026-03/token/introspect``: the token (form body) and its scopes."""
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        client_id, client_secret = self.oauth_client
        if not (same_secret(form.get("client_id"), client_id) & same_secret(form.get("client_secret"), client_secret)):
            return _oauth_err("invalid_client", "missing or unknown client id", "BAD_CLIENT_ID")
        if not _any_secret(form.get("token"), self.access_tokens):
            return Response(200, {"active": False})
        return Response(
            200,
            {
                "active": True,
                "token_type": "access_token",
                "hub_id": self.hs.portal_id,
                "client_id": client_id,
                "scopes": sorted(self.scopes),
                "expires_in": 1800,
            },
        )


def _any_secret(presented: str | None, known: set[str]) -> bool:
    """Whether ``presented`` is one of ``known``, compared in constant time against each."""
    found = False
    for k in list(known):
        found |= same_secret(presented, k)
    return found


def _oauth_err(error: str, description: str, status: str) -> Response:
    """An OAuth error: RFC 6749 fields plus HubSpot's older ``status`` and ``message``."""
    return Response(400, {"error": error, "error_description": description, "status": status, "message": description})
