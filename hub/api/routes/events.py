"""POST /v1/events: behavioural events stored as activities."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from hub.api.auth import require
from hub.api.events import ingest
from hub.api.schemas import EventIn, EventOut
from hub.api.settings import Scope
from hub.api.state import ApiState, hub_state

router = APIRouter(tags=["events"])


@router.post(
    "/v1/events",
    response_model=EventOut,
    status_code=202,
    responses={200: {"description": "a duplicate: already stored"}, 401: {}, 403: {}, 422: {}},
    dependencies=[Depends(require(Scope.EVENTS))],
)
def post_event(body: EventIn, response: Response, state: ApiState = Depends(hub_state)) -> EventOut:
    """Store one event (idempotent by event_id); decide again if the event type matters."""
    out = ingest(state.ctx, state.dispatch, body)
    if out.status == "duplicate":
        response.status_code = 200
    return out
