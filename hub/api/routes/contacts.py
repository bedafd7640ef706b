"""GET /v1/contacts/{id}: profile, identities, recent activities, decisions and push results."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from hub.api.auth import require
from hub.api.schemas import MAX_ID
from hub.api.settings import Scope
from hub.api.state import ApiState, hub_state
from hub.api.timeline import ContactOut, contact_timeline

router = APIRouter(tags=["contacts"])


@router.get(
    "/v1/contacts/{contact_id}",
    response_model=ContactOut,
    responses={401: {}, 403: {}, 404: {}},
    dependencies=[Depends(require(Scope.ADMIN))],
)
def get_contact(contact_id: int = Path(ge=1, le=MAX_ID), state: ApiState = Depends(hub_state)) -> ContactOut:
    """A contact's profile and timeline (admin scope: it holds personal data)."""
    return contact_timeline(state, contact_id)
