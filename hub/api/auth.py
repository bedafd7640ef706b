"""Bearer tokens with scopes, compared in constant time.

Every configured token is compared (no early exit on the first match), so the time taken
does not tell which token, or how much of one, was right.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.api.problems import Problem
from hub.api.settings import ApiToken, Scope

_bearer = HTTPBearer(auto_error=False, description="An API token from hub.yaml `api.tokens`.")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="decision-hub"'}


def match_token(tokens: list[ApiToken], presented: str) -> ApiToken | None:
    found = None
    given = presented.encode()
    for t in tokens:
        if hmac.compare_digest(t.token.get_secret_value().encode(), given):
            found = t
    return found


def require(scope: Scope) -> Callable[..., ApiToken]:
    """A dependency that lets a request through only with a token holding ``scope`` (or admin)."""

    async def check(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> ApiToken:
        # async: it does no I/O, and a sync dependency would cost a thread-pool hop per request
        if creds is None or not creds.credentials:
            raise Problem(401, "Unauthorized", "send `Authorization: Bearer <token>`", headers=CHALLENGE)
        token = match_token(request.app.state.hub.settings.api.tokens, creds.credentials)
        if token is None:
            raise Problem(401, "Unauthorized", "the API token is not valid", headers=CHALLENGE)
        if scope not in token.scopes and Scope.ADMIN not in token.scopes:
            raise Problem(403, "Forbidden", f"token {token.name!r} lacks the {scope.value!r} scope")
        return token

    return check
