"""Request and response bodies of the real-time API.

Inputs are strict (unknown keys are errors) and bounded, and strings may not hold NUL
characters, so anything that validates can be stored by SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from hub.models import reserved_visitor_id

MAX_ID = 2**63 - 1


def _no_nul(v: str) -> str:
    if "\x00" in v:
        raise ValueError("must not contain NUL characters")
    return v


def Text(max_length: int, min_length: int = 0, pattern: str | None = None) -> Any:  # noqa: N802 - reads like a type
    return Annotated[str, Field(min_length=min_length, max_length=max_length, pattern=pattern), AfterValidator(_no_nul)]


Scalar = StrictBool | Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)] | FiniteFloat | Text(1000) | None
Properties = Annotated[dict[Text(100, 1), Scalar], Field(max_length=50)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExternalRef(_In):
    """A record in one connector: the connector's name in hub.yaml and the record's id there."""

    connector: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    id: Text(120, 1)
    object_type: str = Field("contact", pattern=r"^[a-z][a-z0-9_]{0,39}$")


def _email(v: str | None) -> str | None:
    if v is not None and ("@" not in v or v.strip() != v or not v):
        raise ValueError("not an email address")
    return v


Email = Annotated[Text(320, 3), AfterValidator(_email)]


class ContactRef(_In):
    """Exactly one way to name the contact."""

    contact_id: StrictInt | None = Field(None, ge=1, le=MAX_ID)  # not true, "5" or 5.0
    email: Email | None = None
    external: ExternalRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ContactRef:
        given = [k for k in ("contact_id", "email", "external") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of contact_id, email, external")
        return self


class SessionContext(_In):
    """What the visitor is doing now; added to the decision as a transient page view."""

    page: Text(2048) | None = None
    campaign: Text(200) | None = None
    referrer: Text(2048) | None = None
    properties: Properties = Field(default_factory=dict)


class DecisionRequest(_In):
    contact: ContactRef
    context: SessionContext | None = None


class ActionOut(BaseModel):
    kind: str
    connector: str | None
    payload: dict[str, Any]


class DecisionOut(BaseModel):
    decision_id: int
    contact_id: int
    actions: list[ActionOut]
    policy: str
    policy_version: str
    arm: str
    propensity: float
    explanation: str
    created_at: datetime


#: event types every hub accepts; a hub.yaml may add names (``decision.outcomes`` with ``event:``)
BUILTIN_EVENT_TYPES = ("page_view", "form_submit", "content_download", "custom")


class EventIdentity(_In):
    """Who did it: at least one of email, a connector's record id, or an anonymous visitor id.

    An event with an anonymous id and an email or record id is an identify: earlier events
    of that anonymous id are stitched to the contact.
    """

    email: Email | None = None
    external: ExternalRef | None = None
    anonymous_id: Text(120, 1) | None = None

    @field_validator("anonymous_id")
    @classmethod
    def _not_reserved(cls, v: str | None) -> str | None:
        if v is not None and reserved_visitor_id(v):
            raise ValueError("may not begin with 'user:' or 'ref:', which the hub keys held events with")
        return v

    @model_validator(mode="after")
    def _some(self) -> EventIdentity:
        if self.email is None and self.external is None and self.anonymous_id is None:
            raise ValueError("give at least one of email, external, anonymous_id")
        return self


class EventIn(_In):
    event_id: Text(160, 1) = Field(description="your unique id for this event; a resend with it is a no-op")
    type: Text(100, 1) = Field(
        description="page_view, form_submit, content_download, custom (with `name`), or an event name declared"
        " in hub.yaml decision.outcomes (stored as a custom event of that name); others are refused with 422"
    )
    name: Text(100) | None = Field(None, description="what a custom event is called")
    occurred_at: datetime | None = Field(
        None, description="default: when the API received it; from 1970 to a day after now (no offset: UTC)"
    )
    identity: EventIdentity
    properties: Properties = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _plausible(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return v
        # the year first: converting 9999-12-31T23:59:59-14:00 to UTC would overflow
        if not 1970 <= v.year <= 9000:
            raise ValueError("must be a time from 1970 on, not more than a day ahead")
        v = (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC)
        if v.year < 1970 or v > datetime.now(UTC) + timedelta(days=1):
            raise ValueError("must be a time from 1970 on, not more than a day ahead")
        return v


class EventOut(BaseModel):
    event_id: str
    status: Literal["accepted", "stored", "held", "duplicate", "suppressed"] = Field(
        description="accepted (every answer to a token without the admin scope); for admin tokens: stored as an"
        " activity, held until the visitor is identified, already seen, or dropped because the person was"
        " forgotten (hub forget)"
    )
    contact_id: int | None = None
    stitched: int = Field(0, description="earlier anonymous events attached to the contact by this one")
    redecide: Literal["queued", "decided", "not_needed", "unavailable"] | None = Field(
        "not_needed",
        description="queued on Celery, decided inline, not needed, or the broker was unavailable (admin scope;"
        " null otherwise)",
    )


class WebhookOut(BaseModel):
    connector: str
    events: int
    sync: Literal["queued", "started", "not_needed"]
    #: people of privacy-deleted records (HubSpot ``contact.privacyDeletion``): forgotten
    #: (``done``, embedded) or queued for a worker
    forget: Literal["queued", "done", "not_needed"] = "not_needed"
