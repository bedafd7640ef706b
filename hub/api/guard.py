"""The door of every request: token first, then a bounded body, then a bounded JSON shape.

An ASGI middleware, so it runs before FastAPI reads or parses anything:

1. A body sent to a bearer-token route (``TOKEN_ROUTES``), or to a Segment route
   (``SEGMENT_ROUTES``, a write key as the HTTP Basic username), is answered 401 from the headers
   alone when the token or key is missing or wrong; a stranger's body is never read. The scope is
   still checked by the route's dependency (hub/api/auth.py); the matched token is left in the
   ASGI scope under ``TOKEN_KEY``.
2. The body is capped per endpoint (``BODY_LIMITS``): a declared ``Content-Length`` over the
   cap is refused at once, and the bytes are counted while they stream in, so a missing or
   lying ``Content-Length`` is refused as soon as the cap is passed (413).
3. A JSON body (any body under ``/v1/`` that is not a form) is refused with 400 when it
   nests deeper than ``MAX_DEPTH`` or holds more than its endpoint's item cap: the check
   is one vectorized pass over the bytes, before any parser recurses into it.
"""

from __future__ import annotations

import json

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.auth import CHALLENGE, match_token
from hub.api.segment_auth import SEGMENT_CHALLENGE, write_key_problem
from hub.segment import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES

#: (path prefix, bytes, JSON items); the first matching prefix wins
BODY_LIMITS: list[tuple[str, int, int]] = [
    ("/v1/webhooks/", 1_000_000, 20_000),
    ("/v1/decisions", 256_000, 2_000),
    ("/v1/events", 256_000, 2_000),
    ("/v1/approvals", 16_000, 100),
    # Segment's own limits (500 KB a batch, 32 KB a message), answered as Segment answers: 400
    ("/v1/batch", MAX_BATCH_BYTES, 60_000),
    ("/v1/import", MAX_BATCH_BYTES, 60_000),
    ("/v1/segment/batch", MAX_BATCH_BYTES, 60_000),
    ("/v1/segment/import", MAX_BATCH_BYTES, 60_000),
    ("/v1/segment/", MAX_MESSAGE_BYTES, 4_000),
    ("/v1/track", MAX_MESSAGE_BYTES, 4_000),
    ("/v1/identify", MAX_MESSAGE_BYTES, 4_000),
    ("/v1/page", MAX_MESSAGE_BYTES, 4_000),
    ("/v1/screen", MAX_MESSAGE_BYTES, 4_000),
    ("/console/", 10_000, 100),
    ("/", 16_000, 100),
]
MAX_DEPTH = 32
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


def limits_for(path: str) -> tuple[int, int]:
    for prefix, size, items in BODY_LIMITS:
        if path.startswith(prefix):
            return size, items
    return BODY_LIMITS[-1][1], BODY_LIMITS[-1][2]


#: routes of Segment's HTTP Tracking API: a write key (HTTP Basic) instead of a token, and
#: Segment's answer (400) to a body over its limit
SEGMENT_ROUTES = ("/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/batch", "/v1/import", "/v1/segment/")

#: routes that take a bearer token; the guard checks it early for requests that carry a body
TOKEN_ROUTES = ("/v1/decisions", "/v1/events", "/v1/approvals", "/v1/contacts/", "/v1/status", "/metrics")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: the scope key under which the guard leaves the token it matched
TOKEN_KEY = "hub.token"


def needs_token(method: str, path: str) -> bool:
    """A body to a token route: check the token first. Anything else (a GET, an unknown path)
    reads at most the small default cap and gets the router's own 401, 404 or 405."""
    return method in _BODY_METHODS and path.startswith(TOKEN_ROUTES)


def json_shape_problem(body: bytes, max_items: int, max_depth: int = MAX_DEPTH) -> str | None:
    """Why ``body`` is too deep or too big to parse, or None; strings are skipped, not parsed.

    >>> json_shape_problem(b'[[["x]]]]"]]]', 10, max_depth=3) is None
    True
    >>> json_shape_problem(b'[[[[1]]]]', 10, max_depth=3)
    'the JSON is nested 4 levels deep; the limit is 3'
    """
    if not body:
        return None
    # upper bounds from four counts (quotes only lower the true figures): most bodies pass here
    # without the exact scan, which costs more than the rest of a small request's checks
    if body.count(b"{") + body.count(b"[") <= max_depth and body.count(b",") + 1 <= max_items:
        return None
    raw = np.frombuffer(body, dtype=np.uint8)
    quote = raw == ord('"')
    if quote.any():
        # a quote after an odd run of backslashes is escaped and does not open or close a string
        idx = np.arange(len(raw))
        last_plain = np.maximum.accumulate(np.where(raw != ord("\\"), idx, -1))
        at = np.flatnonzero(quote)
        before = np.where(at > 0, at - 1 - last_plain[np.maximum(at - 1, 0)], 0)
        real = at[before % 2 == 0]
        opened = np.cumsum(np.bincount(real + 1, minlength=len(raw) + 1)[:-1])
        in_string = (opened % 2 == 1) | quote
    else:
        in_string = np.zeros(len(raw), dtype=bool)
    delta = np.where(in_string, 0, _OPEN[raw])
    depth = int(np.cumsum(delta, dtype=np.int64).max(initial=0))
    if depth > max_depth:
        return f"the JSON is nested {depth} levels deep; the limit is {max_depth}"
    items = int(np.count_nonzero((raw == ord(",")) & ~in_string)) + 1
    if items > max_items:
        return f"the JSON holds about {items} items; this endpoint takes at most {max_items}"
    return None


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> list[Message]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    hdrs = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    hdrs += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if status == 413:
        hdrs.append((b"connection", b"close"))
    return [
        {"type": "http.response.start", "status": status, "headers": hdrs},
        {"type": "http.response.body", "body": body},
    ]


def _too_large(path: str, size: int) -> list[Message]:
    if path.startswith(SEGMENT_ROUTES):
        return _problem(400, "Payload too large", f"the body is over {size // 1024} KB, Segment's limit for this call")
    return _problem(413, "Too large", f"bodies sent to {path} are limited to {size} bytes")


class RequestGuard:
    """ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self._refuse_early(scope)
        if refused is None:
            body, refused = await self._read(scope, receive)
        if refused is not None:
            for msg in refused:
                await send(msg)
            return
        if body is None:  # the client went away
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _refuse_early(self, scope: Scope) -> list[Message] | None:
        path = scope["path"]
        headers = dict(scope["headers"])
        if "\x00" in path or b"%00" in scope.get("query_string", b""):
            # PostgreSQL refuses NUL in text: a 400 here, not a 500 from a query
            return _problem(400, "Bad request", "the URL holds a NUL character (%00)")
        if needs_token(scope["method"], path):
            auth = headers.get(b"authorization", b"").decode("latin-1")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return _problem(401, "Unauthorized", "send `Authorization: Bearer <token>`", CHALLENGE)
            matched = match_token(scope["app"].state.hub.settings.api.tokens, token.strip())
            if matched is None:
                return _problem(401, "Unauthorized", "the API token is not valid", CHALLENGE)
            scope[TOKEN_KEY] = matched  # the hot path checks its scope without matching again
        elif scope["method"] in _BODY_METHODS and path.startswith(SEGMENT_ROUTES):
            why = write_key_problem(
                headers.get(b"authorization", b"").decode("latin-1"),
                scope["app"].state.hub.settings.api.segment_write_keys,
            )
            if why is not None:
                return _problem(401, "Unauthorized", why, SEGMENT_CHALLENGE)
        size, _ = limits_for(path)
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return _problem(400, "Bad request", "Content-Length is not a number")
            if int(declared) > size:
                return _too_large(path, size)
        return None

    async def _read(self, scope: Scope, receive: Receive) -> tuple[bytes | None, list[Message] | None]:
        path = scope["path"]
        size, items = limits_for(path)
        chunks: list[bytes] = []
        total = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return None, None
            chunk = msg.get("body", b"")
            total += len(chunk)
            if total > size:
                return None, _too_large(path, size)
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        body = b"".join(chunks)
        # every /v1/ route reads JSON whatever the Content-Type claims, so the scan does not ask
        # it; webhooks are scanned by their route once the signature holds (routes/webhooks.py):
        # scanned here, an unsigned megabyte cost the event loop a tenth of a second
        if path.startswith("/v1/") and not path.startswith("/v1/webhooks/"):
            why = json_shape_problem(body, items)
            if why is not None:
                return None, _problem(400, "Bad payload", why)
        return body, None
