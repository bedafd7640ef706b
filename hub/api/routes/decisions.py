"""POST /v1/decisions: the next best action for one contact, now."""

from __future__ import annotations

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from hub.api.auth import require
from hub.api.realtime import decide_now
from hub.api.schemas import ActionOut, DecisionOut, DecisionRequest
from hub.api.settings import Scope
from hub.api.state import ApiState

router = APIRouter(tags=["decisions"])
_limiters: dict[int, CapacityLimiter] = {}


def _limiter() -> CapacityLimiter:
    """At most 8 decisions in threads at once (per event loop).

    More threads only contend for the GIL and the store's connection pool (5 + 5 on
    PostgreSQL); waiting on the event loop instead keeps the tail short under bursts.
    """
    import asyncio

    key = id(asyncio.get_running_loop())
    if key not in _limiters:
        _limiters[key] = CapacityLimiter(8)
    return _limiters[key]


@router.post(
    "/v1/decisions",
    response_model=DecisionOut,
    responses={401: {}, 403: {}, 404: {"description": "no such contact"}, 422: {}},
    dependencies=[Depends(require(Scope.DECIDE))],
)
async def post_decision(body: DecisionRequest, request: Request) -> JSONResponse:
    """Decide for one contact from its stored profile plus the session context given."""
    # the hot path: one thread-pool hop for the store and policy work, and the response
    # serialized once here instead of validated again against response_model
    state: ApiState = request.app.state.hub  # read directly: one dependency fewer to solve per call
    d = await to_thread.run_sync(decide_now, state.ctx, body.contact, body.context, limiter=_limiter())
    out = DecisionOut(
        decision_id=d.id,
        contact_id=d.contact_id,
        actions=[ActionOut(kind=a.kind.value, connector=a.connector, payload=a.payload) for a in d.actions],
        policy=d.policy,
        policy_version=d.policy_version,
        arm=d.arm,
        propensity=d.propensity,
        explanation=d.explanation,
        created_at=d.created_at,
    )
    return JSONResponse(out.model_dump(mode="json"))
