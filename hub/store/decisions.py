"""Decisions and outcomes. A decision is written once per (contact, request key)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, literal_column, select

from hub.models import Action, Decision
from hub.store.batch import among, among_keys, insert_rows
from hub.store.contacts import aware
from hub.store.schema import contacts, decision_features, decisions, outcomes


def existing_requests(conn: Connection, contact_ids: Iterable[int], request_key: str) -> set[int]:
    ids = list(contact_ids)
    if not ids:
        return set()
    q = select(decisions.c.contact_id).where(
        decisions.c.request_key == request_key, among(conn, decisions.c.contact_id, ids)
    )
    return set(conn.execute(q).scalars())


#: days of the hub's own decisions a contact's touches count (ordered, perhaps not yet synced
#: back): what decide, the real-time API and the offline replay (hub/reports/evaluate.py) read
DECIDED_DAYS = 7

#: the request key of every real-time decision (``POST /v1/decisions``) begins with this
REALTIME_KEY_PREFIX = "rt-"


def from_batches() -> ColumnElement[bool]:
    """Decisions of decide batches, not of the real-time API. Only they push to the CRMs, so
    only they settle what a contact is owed (a change decided, a periodic re-decide), count as
    touches against the contact policy and use a sales owner's handoffs: a website asking at
    every page view would otherwise fill a visitor's weekly touch cap by browsing. (A literal,
    not a bound value: the real-time path runs its statements on the driver, hub/store/realtime.py.)"""
    return decisions.c.request_key.not_like(literal_column(f"'{REALTIME_KEY_PREFIX}%'"))


def decided_since_change(conn: Connection, contact_ids: Iterable[int]) -> set[int]:
    """Contacts among these with a decide batch's decision made at or after their last change:
    they owe none. A real-time decision does not count: it pushes nothing to the CRMs, so a
    visit between a change and its decide task would have kept the change's fields from them."""
    ids = list(contact_ids)
    if not ids:
        return set()
    q = (
        select(contacts.c.id)
        .join(decisions, decisions.c.contact_id == contacts.c.id)
        .where(
            among(conn, contacts.c.id, ids),
            decisions.c.created_at >= contacts.c.changed_at,
            from_batches(),
        )
        .distinct()
    )
    return set(conn.execute(q).scalars())


def decided_since(conn: Connection, contact_ids: Iterable[int], since: datetime) -> set[int]:
    """Contacts among these with a decide batch's decision made at or after ``since``."""
    ids = list(contact_ids)
    if not ids:
        return set()
    q = (
        select(decisions.c.contact_id)
        .where(among(conn, decisions.c.contact_id, ids), decisions.c.created_at >= since, from_batches())
        .distinct()
    )
    return set(conn.execute(q).scalars())


def decision_row(d: Decision, request_key: str) -> dict[str, Any]:
    """The ``decisions`` row of one decision (the batch insert's and the real-time path's)."""
    return {
        "contact_id": d.contact_id,
        "request_key": request_key,
        "policy": d.policy,
        "policy_version": d.policy_version,
        "propensity": d.propensity,
        "arm": d.arm,
        "explanation": d.explanation,
        "actions": [a.model_dump(mode="json") for a in d.actions],
        "created_at": d.created_at,
    }


def insert_decisions(
    conn: Connection, items: Sequence[Decision], request_key: str, outcome_days: float | None = None
) -> list[int]:
    """Insert decisions; returns their ids in order. Callers skip contacts already decided."""
    if not items:
        return []
    rows = [decision_row(d, request_key) for d in items]
    found = {cid: did for cid, did in insert_rows(conn, decisions, rows, (decisions.c.contact_id, decisions.c.id))}
    if not found:  # SQLite: read the ids back by the request key (a contact has one decision per key)
        q = select(decisions.c.contact_id, decisions.c.id).where(
            decisions.c.request_key == request_key, among(conn, decisions.c.contact_id, [d.contact_id for d in items])
        )
        found = {cid: did for cid, did in conn.execute(q)}
    ids = [found[d.contact_id] for d in items]
    logged = [feature_row(d, i, outcome_days) for d, i in zip(items, ids, strict=True) if learnable(d)]
    insert_rows(conn, decision_features, logged)
    return ids


def learnable(d: Decision) -> bool:
    """Whether a decision is logged for learning: a model's choice with its features."""
    return d.features is not None and d.action is not None


def feature_row(d: Decision, decision_id: int, outcome_days: float | None) -> dict[str, Any]:
    """The ``decision_features`` row of a learnable decision (the batch insert's and the
    real-time path's): what the model saw, why each action was or was not taken, and when its
    reward is final (the action's window, or a declared outcome's longer ``outcome_days``)."""
    days = d.attribution_days or 7.0
    return {
        "decision_id": decision_id,
        "action": d.action,
        "feature_version": d.feature_version or "",
        "features": d.features,
        "trace": d.trace,
        "window_ends_at": d.created_at + timedelta(days=days),
        "final_at": d.created_at + timedelta(days=outcome_days) if outcome_days and outcome_days > days else None,
    }


def recent_decisions(conn: Connection, limit: int = 50, contact_id: int | None = None) -> list[Decision]:
    q = select(decisions).order_by(decisions.c.id.desc()).limit(limit)
    if contact_id is not None:
        q = q.where(decisions.c.contact_id == contact_id)
    return [
        Decision(
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
        for r in conn.execute(q)
    ]


def insert_outcomes(conn: Connection, rows: list[dict]) -> int:
    if not rows:
        return 0
    keys = [(r["decision_id"], r["activity_id"]) for r in rows]
    q = select(outcomes.c.decision_id, outcomes.c.activity_id).where(
        among_keys(conn, (outcomes.c.decision_id, outcomes.c.activity_id), keys)
    )
    seen = {(d, a) for d, a in conn.execute(q)}
    new = [r for r in rows if (r["decision_id"], r["activity_id"]) not in seen]
    if new:
        conn.execute(insert(outcomes), new)
    return len(new)


def handoffs_since(conn: Connection, actions: Sequence[str], since, arms: Sequence[str]) -> dict[str, int]:
    """Decide-batch decisions in ``arms`` (those the engine's budgets apply to) since ``since``
    whose action is one of ``actions``, per contact owner.

    Read through ix_decision_features_action_window: a decision since ``since`` has its window
    end (created_at plus a positive window) after ``since`` too, so the rows read are the
    handoffs with an open window, not every decision made since ``since`` (which grows all day)."""
    from hub.store.schema import contacts

    if not actions:
        return {}
    q = (
        select(contacts.c.owner, func.count())
        .select_from(decision_features.join(decisions, decisions.c.id == decision_features.c.decision_id))
        .join(contacts, contacts.c.id == decisions.c.contact_id)
        .where(
            decision_features.c.action.in_(list(actions)),
            decision_features.c.window_ends_at >= since,
            decisions.c.created_at >= since,
            decisions.c.arm.in_(list(arms)),
            from_batches(),
        )
        .group_by(contacts.c.owner)
    )
    return {owner or "unassigned": int(n) for owner, n in conn.execute(q)}


def recent_actions(conn: Connection, contact_ids: Sequence[int], since) -> dict[int, list[tuple]]:
    """``(created_at, action)`` of each contact's engine-logged decide-batch decisions since
    ``since`` (control and real-time decisions pushed nothing and are left out)."""
    out: dict[int, list[tuple]] = {}
    if not contact_ids:
        return out
    q = (
        select(decisions.c.contact_id, decisions.c.created_at, decision_features.c.action)
        .join(decision_features, decision_features.c.decision_id == decisions.c.id)
        .where(
            among(conn, decisions.c.contact_id, contact_ids),
            decisions.c.created_at >= since,
            decisions.c.arm != "control",
            from_batches(),
        )
        .order_by(decisions.c.created_at)
    )
    for cid, at, action in conn.execute(q):
        out.setdefault(cid, []).append((aware(at), action))
    return out
