"""The HTTP side of the Segment input: write-key auth, bounded body reads, per-message answers.

The write key arrives as the HTTP Basic username with an empty password, as Segment's
libraries send it. Every configured key is compared in constant time (no early exit); the key
is never logged, only its ``name``. A body over the limit is refused from its Content-Length,
or as soon as the bytes read pass the limit, so a large body is never held in memory.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request

from hub.api.problems import Problem
from hub.api.segment_auth import SEGMENT_CHALLENGE, key_from_header
from hub.api.settings import SegmentWriteKey
from hub.api.state import ApiState
from hub.models import utcnow
from hub.segment import BodyError, Message, MessageError, parse_json, parse_message
from hub.segment_store import store_messages

log = logging.getLogger(__name__)


async def require_write_key(request: Request) -> SegmentWriteKey:
    key, why = key_from_header(
        request.headers.get("authorization", ""), request.app.state.hub.settings.api.segment_write_keys
    )
    if key is None:
        raise Problem(401, "Unauthorized", why or "the write key is not valid", headers=SEGMENT_CHALLENGE)
    return key


def _too_large(limit: int) -> Problem:
    return Problem(400, "Payload too large", f"the body is over {limit // 1024} KB, Segment's limit for this call")


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Problem(400, "Bad request", "Content-Length is not a number")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _message_id(msg: Any) -> str | None:
    mid = msg.get("messageId") if isinstance(msg, dict) else None
    return mid[:200] if isinstance(mid, str) else None


def ingest_body(state: ApiState, raw: bytes, kind: str | None) -> dict[str, Any]:
    """One message (``kind`` from the path) or a batch (``kind`` None); Segment's answer shape."""
    try:
        body = parse_json(raw)
    except BodyError as exc:
        raise Problem(400, "Bad request", str(exc), success=False) from None
    now = utcnow()
    if kind is not None:
        try:
            (result,) = store_messages(state.ctx, state.dispatch, [parse_message(body, kind, now)])
        except MessageError as exc:
            result = exc
        if isinstance(result, MessageError):
            raise Problem(400, "Bad request", str(result), success=False, messageId=_message_id(body))
        return {"success": True}
    batch = body.get("batch") if isinstance(body, dict) else None
    if not isinstance(batch, list):
        raise Problem(400, "Bad request", 'a batch body is {"batch": [messages]}', success=False)
    failed: dict[int, MessageError] = {}
    good: list[tuple[int, Message]] = []
    shared = {k: body[k] for k in ("sentAt", "context") if isinstance(body.get(k), str | dict)}
    for i, msg in enumerate(batch):
        try:
            good.append((i, parse_message(msg, None, now, batch=shared)))
        except MessageError as exc:
            failed[i] = exc
    results = store_messages(state.ctx, state.dispatch, [m for _, m in good]) if good else []
    failed |= {i: r for (i, _), r in zip(good, results, strict=True) if isinstance(r, MessageError)}
    errors = []
    for i in sorted(failed):
        mid = _message_id(batch[i])
        log.warning("segment batch: message %d (messageId %r) skipped: %s", i, mid, failed[i])
        errors.append({"index": i, "messageId": mid, "message": str(failed[i])})
    return {"success": True, "errors": errors} if errors else {"success": True}
