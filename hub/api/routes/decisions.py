"""POST /v1/decisions: the next best action for one contact, now.

Valid requests are usually answered by hub/api/hotpath.py before they reach this route; the
route is the contract (OpenAPI, validation errors) and answers exactly as the hot path does.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from hub.api.auth import require
from hub.api.hotpath import decision_json
from hub.api.schemas import DecisionOut, DecisionRequest
from hub.api.settings import Scope
from hub.api.state import ApiState

router = APIRouter(tags=["decisions"])


@router.post(
    "/v1/decisions",
    response_model=DecisionOut,
    responses={401: {}, 403: {}, 404: {"description": "no such contact"}, 422: {}},
    dependencies=[Depends(require(Scope.DECIDE))],
)
async def post_decision(body: DecisionRequest, request: Request) -> Response:
    """Decide for one contact from its stored profile plus the session context given."""
    state: ApiState = request.app.state.hub
    d = await state.batcher.decide((body.contact, body.context))  # hub/api/batcher.py
    return Response(decision_json(d), media_type="application/json")
