"""Domain models: the only types that cross module boundaries.

Connectors turn vendor payloads into these, the store persists them, the engine reads them
and the push step turns :class:`Action` back into vendor calls. Vendor names never appear here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator


def utcnow() -> datetime:
    return datetime.now(UTC)


#: the prefixes of the keys events held for a record are stored under (hub/store/anonymous.py
#: ``identity_key``): a visitor id a caller sends may not start with one, or an identify event
#: naming it would claim the events held for someone else's record
RESERVED_VISITOR_PREFIXES = ("user:", "ref:")


def readable(value: Any) -> str:
    """A payload as a person reads it, in the CLI and on the console: JSON with its own characters
    (``tojson`` and ``ensure_ascii`` write ' and é as \\u escapes, for scripts)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def reserved_visitor_id(value: str) -> bool:
    return value.lower().startswith(RESERVED_VISITOR_PREFIXES)


def normalize_email(email: str | None) -> str | None:
    """Lower-case and strip an email; None for blanks, so it never matches another blank."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned if cleaned and "@" in cleaned else None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Identity(_Model):
    """Where a contact lives in one connector: the key every sync and push uses."""

    connector: str
    object_type: str = "contact"
    external_id: str

    def key(self) -> tuple[str, str, str]:
        return (self.connector, self.object_type, self.external_id)


class Company(_Model):
    name: str | None = None
    industry: str | None = None
    employees: int | None = None
    annual_revenue: float | None = None
    country: str | None = None
    timezone: str | None = None


class Consent(_Model):
    email_opt_out: bool = False
    do_not_contact: bool = False


class Contact(_Model):
    """A person. ``id`` is None until the store has resolved the record to a hub contact.

    ``crm_fields`` holds the values of the hub-written fields as the CRM has them now (hub
    field names, not vendor names), so pushes can be diffed and echoes of our own writes
    recognised. ``lists`` is the set of hub-managed lists the CRM says the record is on.
    """

    id: int | None = None
    identities: list[Identity] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    first_name: str | None = None
    last_name: str | None = None
    company: Company = Field(default_factory=Company)
    job_title: str | None = None
    role: str | None = None
    lifecycle_stage: str | None = None
    owner: str | None = None
    consent: Consent = Field(default_factory=Consent)
    properties: dict[str, Any] = Field(default_factory=dict)
    crm_fields: dict[str, Any] = Field(default_factory=dict)
    lists: list[str] | None = None
    updated_at: datetime | None = None
    archived: bool = False
    merged_into: str | None = None

    @field_validator("updated_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        # in UTC, as Activity.occurred_at: SQLite keeps only the wall clock of what it is given
        return v if v is None else v.astimezone(UTC) if v.tzinfo else v.replace(tzinfo=UTC)

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def primary_email(self) -> str | None:
        for e in self.emails:
            n = normalize_email(e)
            if n:
                return n
        return None


class ActivityType(StrEnum):
    PAGE_VIEW = "page_view"
    EMAIL_SENT = "email_sent"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    EMAIL_BOUNCE = "email_bounce"
    FORM_SUBMIT = "form_submit"
    CONTENT_DOWNLOAD = "content_download"
    WEBINAR = "webinar"
    MEETING = "meeting"
    CALL = "call"
    OPPORTUNITY_CREATED = "opportunity_created"
    OPPORTUNITY_WON = "opportunity_won"
    OPPORTUNITY_LOST = "opportunity_lost"
    UNSUBSCRIBE = "unsubscribe"
    CUSTOM = "custom"


class Activity(_Model):
    """Something a contact did. ``(source, external_id)`` is the idempotency key.

    A connector fills ``contact_ref`` (its own identity of the person) or, where the vendor
    only knows an address (email events, form fills), ``contact_email``; the store resolves
    either to ``contact_id``.
    """

    contact_id: int | None = None
    contact_ref: Identity | None = None
    contact_email: str | None = None
    type: ActivityType
    channel: str | None = None
    occurred_at: datetime
    properties: dict[str, Any] = Field(default_factory=dict)
    source: str
    external_id: str

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        # in UTC: SQLite keeps a time's wall clock and drops its offset, so 10:30+02:00 read
        # back as 10:30 UTC, two hours late (outside a decision's window it was inside)
        return v.astimezone(UTC) if v.tzinfo else v.replace(tzinfo=UTC)


class ActionKind(StrEnum):
    SET_FIELDS = "set_fields"
    ADD_TO_LIST = "add_to_list"
    REMOVE_FROM_LIST = "remove_from_list"
    ASSIGN_OWNER = "assign_owner"


class Action(_Model):
    """One effect to make in a CRM.

    payload by kind: set_fields ``{"fields": {hub_field: value}}``; add_to_list /
    remove_from_list ``{"list": name}``; assign_owner ``{"owner": owner id}``.
    ``connector`` None means every connector that receives this kind.
    """

    kind: ActionKind
    connector: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    def summary(self) -> str:
        """The action in a few words, as `hub decisions` and the console's Decisions page list it:
        the field that names the action and how many more (the reason has its own column), the
        list joined or left, the owner."""
        p = self.payload
        if self.kind is ActionKind.SET_FIELDS:
            fields = dict(p.get("fields") or {})
            fields.pop("reason", None)
            first = "next_best_action" if "next_best_action" in fields else next(iter(fields), None)
            if first is None:
                return "reason only"
            head = f"{first}={fields.pop(first)}"
            from hub.reports.numbers import counted  # here: hub.reports imports this module

            return head + (f" (+{counted(len(fields), 'field')})" if fields else "")
        if self.kind is ActionKind.ADD_TO_LIST:
            return f"+list {p.get('list')}"
        if self.kind is ActionKind.REMOVE_FROM_LIST:
            return f"-list {p.get('list')}"
        return f"owner {p.get('owner')}"


class Decision(_Model):
    id: int | None = None
    contact_id: int
    actions: list[Action]
    policy: str
    policy_version: str
    propensity: float = 1.0
    arm: str = "engine"
    explanation: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    # the learning engine's log, kept for the delayed reward (None for rules decisions)
    action: str | None = None
    features: list[float] | None = None
    feature_version: str | None = None
    attribution_days: float | None = None
    #: why each catalog action was or was not taken (decision/engine.py ``_trace``), for the console
    trace: dict[str, Any] | None = None


class Outcome(_Model):
    decision_id: int
    activity_id: int
    reward: dict[str, float] = Field(default_factory=dict)


class PushRequest(_Model):
    """What a connector receives to push: one action for one record, keyed by push id."""

    push_id: int
    identity: Identity
    action: Action


#: ``blocked``: the connector cannot write at all now (auth, permissions, a daily limit); the push
#: waits without using an attempt, since no retry of it can help before a person or the clock does
PushStatus = Literal["ok", "failed", "retryable", "blocked"]


class PushResult(_Model):
    push_id: int
    status: PushStatus
    reason: str | None = None
    retry_after: float | None = None


class RecordError(_Model):
    """A record a connector could not map: logged with its id and reason, never fatal."""

    external_id: str
    reason: str


class IdentityMove(_Model):
    """The person behind ``source`` lives on as ``target`` (a converted lead, a merged record):
    the store folds ``source``'s contact, with its history, into ``target``'s."""

    source: Identity
    target: Identity


class LiveSet(_Model):
    """Every record of one object type the CRM holds now. Identities of that type the store
    holds and this set lacks were deleted where the hub could not see it (a Recycle Bin
    emptied while the hub was away), so the store removes them."""

    connector: str
    object_type: str
    external_ids: list[str]


T = TypeVar("T", Contact, Activity)


class Page(_Model, Generic[T]):
    """One page of pulled records and the cursor to store once the page is committed."""

    items: list[T] = Field(default_factory=list)
    cursor: str | None = None
    rejects: list[RecordError] = Field(default_factory=list)
    deleted: list[Identity] = Field(default_factory=list)
    moved: list[IdentityMove] = Field(default_factory=list)
    live: LiveSet | None = None
    #: parts of the stream the connector could not read this sync and went on without (a
    #: permission one optional source lacks), as {part: why, with what to do}; the sync's
    #: status shows them, and the cursor keeps that part where it was
    not_synced: dict[str, str] = Field(default_factory=dict)


class CheckReport(_Model):
    """A connector's health check. ``ok``: it can do its job; ``problems``: what to fix, each
    with what to do (with ``ok`` still true: what it does without, e.g. an optional source)."""

    ok: bool
    details: dict[str, Any] = Field(default_factory=dict)
    problems: list[str] = Field(default_factory=list)


class SchemaReport(_Model):
    created: list[str] = Field(default_factory=list)
    existing: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


class SchemaItem(_Model):
    """One thing the hub needs in a CRM's schema (a property group, a field, field-level
    security, a scope) and its state there, for `hub connectors setup` and its dry run."""

    kind: str  # "group", "property", "field", "field access", "permission set", "scope"...
    name: str  # the vendor's name: hub_lead_score, Contact.Hub_Lead_Score__c
    spec: str = ""  # what it is or will be: "number/number", "Number(18, 4)"
    state: Literal["ok", "missing", "hidden", "mistyped", "read-only", "incomplete"]
    note: str = ""  # what setup does about it, or what an admin must do
    fixable: bool = True  # setup can fix it with the connector's rights (else a person must)
