"""Read views of one contact and of recent decisions, for the API and the console."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from hub.models import Action, Decision
from hub.store.contacts import aware
from hub.store.schema import activities, contacts, decisions, identities, pushes


@dataclass
class IdentityView:
    connector: str
    object_type: str
    external_id: str
    synced_at: datetime | None
    source_updated_at: datetime | None


@dataclass
class ActivityView:
    id: int
    type: str
    channel: str | None
    occurred_at: datetime
    source: str
    external_id: str
    properties: dict[str, Any]


NONE = "none"  # no actions, no pushes: the one word `hub decisions` and the console's pages use


def action_lines(actions: list[Action]) -> list[str]:
    """Each action in a few words (:meth:`Action.summary`), or :data:`NONE`."""
    return [a.summary() for a in actions] or [NONE]


@dataclass
class PushResultView:
    id: int
    connector: str
    external_id: str
    kind: str
    state: str
    attempts: int
    last_error: str | None
    updated_at: datetime | None

    def line(self) -> str:
        """The push in a few words, as `hub decisions` and the console's Decisions page list it."""
        return f"{self.connector}: {self.state}"


@dataclass
class DecisionView:
    decision: Decision
    contact_email: str | None = None
    pushes: list[PushResultView] = field(default_factory=list)

    def action_lines(self) -> list[str]:
        return action_lines(self.decision.actions)

    def push_lines(self) -> list[str]:
        """Each push as ``connector: state``, or :data:`NONE`."""
        return [p.line() for p in self.pushes] or [NONE]


def identities_of(conn: Connection, contact_id: int) -> list[IdentityView]:
    q = select(identities).where(identities.c.contact_id == contact_id).order_by(identities.c.id)
    return [
        IdentityView(r.connector, r.object_type, r.external_id, aware(r.synced_at), aware(r.source_updated_at))
        for r in conn.execute(q)
    ]


def activities_of(conn: Connection, contact_id: int, limit: int = 50) -> list[ActivityView]:
    q = (
        select(activities)
        .where(activities.c.contact_id == contact_id)
        .order_by(activities.c.occurred_at.desc(), activities.c.id.desc())
        .limit(limit)
    )
    return [
        ActivityView(r.id, r.type, r.channel, aware(r.occurred_at), r.source, r.external_id, r.properties or {})
        for r in conn.execute(q)
    ]


def _decision(r: Any) -> Decision:
    return Decision(
        id=r.id,
        contact_id=r.contact_id,
        actions=[Action.model_validate(a) for a in r.actions],
        policy=r.policy,
        policy_version=r.policy_version,
        propensity=r.propensity,
        arm=r.arm,
        explanation=r.explanation,
        created_at=aware(r.created_at),
    )


def decisions_with_pushes(
    conn: Connection,
    *,
    contact_id: int | None = None,
    arm: str | None = None,
    policy: str | None = None,
    limit: int = 50,
    contact_ids: list[int] | None = None,
    before_id: int | None = None,
) -> list[DecisionView]:
    """Newest decisions first, each with the contact's email and its pushes' outcomes.
    ``before_id`` pages by keyset: the decisions older than that id."""
    q = (
        select(decisions, contacts.c.primary_email)
        .join(contacts, contacts.c.id == decisions.c.contact_id)
        .order_by(decisions.c.id.desc())
        .limit(limit)
    )
    if contact_id is not None:
        q = q.where(decisions.c.contact_id == contact_id)
    if contact_ids is not None:
        q = q.where(decisions.c.contact_id.in_(contact_ids))
    if before_id is not None:
        q = q.where(decisions.c.id < before_id)
    if arm:
        q = q.where(decisions.c.arm == arm)
    if policy:
        q = q.where(decisions.c.policy == policy)
    views = [DecisionView(decision=_decision(r), contact_email=r.primary_email) for r in conn.execute(q)]
    by_id = {v.decision.id: v for v in views}
    if by_id:
        pq = select(pushes).where(pushes.c.decision_id.in_(list(by_id))).order_by(pushes.c.id)
        for p in conn.execute(pq):
            by_id[p.decision_id].pushes.append(
                PushResultView(
                    p.id, p.connector, p.external_id, p.kind, p.state, p.attempts, p.last_error, aware(p.updated_at)
                )
            )
    return views


def distinct_arms(conn: Connection) -> list[str]:
    return sorted(conn.execute(select(decisions.c.arm).distinct()).scalars())
