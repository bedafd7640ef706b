"""POST /v1/decisions answered below the framework: the real-time path's CPU is the engine's.

FastAPI's layers (exception and telemetry middleware, routing, dependency solving, the
response model) cost 0.4-0.7 ms of CPU a request around a decision of 2-3 ms (measured in
process through the ASGI app, 2026-12-03, load 3-9). This ASGI middleware sits
just inside :class:`~hub.api.guard.RequestGuard`, which has already checked the token, read
the whole body and bounded its JSON shape, and answers a well-formed request itself: the
same parse (``json.loads``) and validation (:class:`DecisionRequest`) as the route, the same
call (:class:`~hub.api.batcher.DecisionBatcher`), the same bytes out (:func:`decision_json`).

Anything else goes on to the FastAPI route, which stays the contract (OpenAPI) and the one
place errors are worded: a token without the ``decide`` scope (403), a body that is not JSON
or does not validate (422), another content type. So the fast path never answers differently
from the route; it only skips work for requests the route would accept.
"""

from __future__ import annotations

import json

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.guard import TOKEN_KEY
from hub.api.problems import known
from hub.api.schemas import DecisionRequest
from hub.api.settings import Scope as TokenScope
from hub.models import Decision

PATH = "/v1/decisions"
_JSON_TYPES = (b"application/json", b"application/json; charset=utf-8")
_HEADERS = [(b"content-type", b"application/json")]


def decision_json(d: Decision) -> bytes:
    """The answer's body (schema ``DecisionOut``): the route and the fast path send these bytes.

    orjson with ``Z`` for UTC writes what pydantic's JSON mode writes for these fields, at a
    tenth of the cost of building and dumping the response model."""
    return orjson.dumps(
        {
            "decision_id": d.id,
            "contact_id": d.contact_id,
            "actions": [{"kind": a.kind.value, "connector": a.connector, "payload": a.payload} for a in d.actions],
            "policy": d.policy,
            "policy_version": d.policy_version,
            "arm": d.arm,
            "propensity": d.propensity,
            "explanation": d.explanation,
            "created_at": d.created_at,
        },
        option=orjson.OPT_UTC_Z,
    )


def _may_decide(scope: Scope) -> bool:
    """The token the guard matched holds ``decide`` or ``admin``."""
    token = scope.get(TOKEN_KEY)
    return token is not None and (TokenScope.DECIDE in token.scopes or TokenScope.ADMIN in token.scopes)


def _parse(scope: Scope, body: bytes) -> DecisionRequest | None:
    """The request as the route would validate it, or None to let the route answer."""
    if dict(scope["headers"]).get(b"content-type", b"").lower() not in _JSON_TYPES:
        return None
    try:
        return DecisionRequest.model_validate(json.loads(body))
    except (ValueError, ValidationError):  # json.JSONDecodeError is a ValueError
        return None


class DecisionFastPath:
    """ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        first = await receive()  # the guard hands the whole body over as one message
        req = _parse(scope, first.get("body", b"")) if not first.get("more_body") and _may_decide(scope) else None
        if req is None:
            await self.app(scope, _replay(first, receive), send)
            return
        try:
            state = scope["app"].state.hub
            d = await state.batcher.decide((req.contact, req.context))  # hub/api/batcher.py
        except Exception as exc:
            answer = known(exc)  # worded as the route's exception handlers word it
            if answer is None:
                raise
            await answer(scope, receive, send)
            return
        body = decision_json(d)
        headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replay(first: Message, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()

    return replay
