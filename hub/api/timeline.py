"""A contact as the API and the console show it: profile, identities, activities, decisions, pushes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from hub.api.problems import Problem
from hub.api.state import ApiState
from hub.store import contacts as contact_store
from hub.store import timeline


class IdentityOut(BaseModel):
    connector: str
    object_type: str
    external_id: str
    synced_at: datetime | None
    source_updated_at: datetime | None


class ActivityOut(BaseModel):
    id: int
    type: str
    channel: str | None
    occurred_at: datetime
    source: str
    external_id: str
    properties: dict[str, Any]


class PushOut(BaseModel):
    id: int
    connector: str
    external_id: str
    kind: str
    state: str
    attempts: int
    last_error: str | None
    updated_at: datetime | None


class TimelineDecision(BaseModel):
    id: int
    created_at: datetime
    policy: str
    policy_version: str
    arm: str
    propensity: float
    explanation: str
    actions: list[dict[str, Any]]
    pushes: list[PushOut]


class ContactOut(BaseModel):
    id: int
    profile: dict[str, Any]
    identities: list[IdentityOut]
    activities: list[ActivityOut]
    decisions: list[TimelineDecision]


def contact_timeline(state: ApiState, contact_id: int, limit: int = 50) -> ContactOut:
    """Everything the hub knows and did about one contact; shared with the console."""
    with state.ctx.store.connect() as conn:
        loaded = contact_store.load_contacts(conn, [contact_id])
        if not loaded:
            raise Problem(404, "Contact not found", f"no contact with id {contact_id}")
        idents = timeline.identities_of(conn, contact_id)
        acts = timeline.activities_of(conn, contact_id, limit)
        decs = timeline.decisions_with_pushes(conn, contact_id=contact_id, limit=limit)
    c = loaded[0]
    return ContactOut(
        id=contact_id,
        profile=c.model_dump(mode="json", exclude={"id", "identities", "crm_fields", "lists", "merged_into"}),
        identities=[IdentityOut(**vars(i)) for i in idents],
        activities=[ActivityOut(**vars(a)) for a in acts],
        decisions=[
            TimelineDecision(
                id=v.decision.id,
                created_at=v.decision.created_at,
                policy=v.decision.policy,
                policy_version=v.decision.policy_version,
                arm=v.decision.arm,
                propensity=v.decision.propensity,
                explanation=v.decision.explanation,
                actions=[a.model_dump(mode="json") for a in v.decision.actions],
                pushes=[PushOut(**vars(p)) for p in v.pushes],
            )
            for v in decs
        ],
    )
