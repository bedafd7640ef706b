"""Segment HTTP Tracking API: POST /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/batch
(also under /v1/segment/...). The write key is the HTTP Basic username, checked before the
body is read; bodies are read up to Segment's limits and no further."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from hub.api.segment_input import ingest_body, read_limited, require_write_key
from hub.api.state import ApiState, hub_state
from hub.segment import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES

router = APIRouter(tags=["segment"], dependencies=[Depends(require_write_key)])
_RESPONSES = {200: {"description": '{"success": true}, plus `errors` per message of a batch'}, 400: {}, 401: {}}


def _paths(name: str) -> list[str]:
    return [f"/v1/{name}", f"/v1/segment/{name}"]


for _kind in ("track", "identify", "page", "screen"):

    def _single(kind: str):  # noqa: ANN202 - a route factory
        async def post(request: Request, state: ApiState = Depends(hub_state)) -> dict:
            raw = await read_limited(request, MAX_MESSAGE_BYTES)
            return await run_in_threadpool(ingest_body, state, raw, kind)

        post.__name__ = f"segment_{kind}"
        post.__doc__ = f"A Segment `{kind}` message (32 KB at most)."
        return post

    for _path in _paths(_kind):
        router.add_api_route(_path, _single(_kind), methods=["POST"], responses=_RESPONSES)


async def segment_batch(request: Request, state: ApiState = Depends(hub_state)) -> dict:
    """`{"batch": [messages]}` (500 KB at most, 32 KB per message); a bad message is named in
    `errors` by index and messageId while the others are stored."""
    raw = await read_limited(request, MAX_BATCH_BYTES)
    return await run_in_threadpool(ingest_body, state, raw, None)


for _path in _paths("batch") + _paths("import"):
    router.add_api_route(_path, segment_batch, methods=["POST"], responses=_RESPONSES)
