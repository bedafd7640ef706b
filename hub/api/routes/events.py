"""POST /v1/events: behavioural events stored as activities."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from hub.api.auth import require
from hub.api.events import ingest
from hub.api.schemas import EventIn, EventOut
from hub.api.settings import ApiToken, Scope
from hub.api.state import ApiState, hub_state

router = APIRouter(tags=["events"])


@router.post(
    "/v1/events",
    response_model=EventOut,
    status_code=202,
    responses={200: {"description": "a duplicate: already stored (admin scope only)"}, 401: {}, 403: {}, 422: {}},
)
def post_event(
    body: EventIn,
    response: Response,
    token: ApiToken = Depends(require(Scope.EVENTS)),
    state: ApiState = Depends(hub_state),
) -> EventOut:
    """Store one event (idempotent by event_id); decide again if the event type matters.

    A token without the admin scope (a website's) gets the same answer for every event,
    ``accepted``: stored, held, suppressed (forgotten) or duplicate would tell a website
    visitor who is in the CRM and who was forgotten."""
    out = ingest(state.ctx, state.dispatch, body)
    if Scope.ADMIN not in token.scopes:
        return EventOut(event_id=body.event_id, status="accepted", redecide=None)
    if out.status == "duplicate":
        response.status_code = 200
    return out
