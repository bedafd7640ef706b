"""The learning log: decision features, closing attribution windows, model snapshots.

A decision's reward is final once its action's attribution window has closed; only then is it
learned from, exactly once (``learned_version`` marks it). Snapshots are append-only: a
rollback appends a copy of an old version, so "newest version" is always the live model and
every worker can tell it is stale by comparing one integer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, exists, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from hub.errors import StoreError
from hub.store.batch import among
from hub.store.contacts import aware
from hub.store.models_repo import RESERVED
from hub.store.schema import activities, contacts, decision_features, decisions, model_snapshots, outcomes, pushes
from hub.store.tail import Position, read_on

#: push states in which a decision's write reached the CRM (``skipped``: the CRM had it already)
CARRIED_OUT = ("done", "skipped")


@dataclass
class LogRow:
    decision_id: int
    action: str
    feature_version: str
    features: list[float]
    propensity: float
    arm: str
    reward_total: float | None
    created_at: datetime
    #: weighted reward components (objective points per component)
    reward_parts: dict[str, float] | None = None
    #: the contact's segment at decision time (decision/segment_value.py; None: not logged)
    segment: int | None = None
    #: the contact as the store shows it now: lifecycle stage and whether e-mail can reach it
    stage_now: str | None = None
    reachable_now: bool = True


def windows_due(conn: Connection, now: datetime, limit: int = 10_000) -> dict[int, list[dict[str, float]]]:
    """Open decisions whose window has closed (and any declared outcome's longer one), with their outcome rows."""
    ids = list(
        conn.execute(
            select(decision_features.c.decision_id)
            .where(
                decision_features.c.finalized_at.is_(None),
                decision_features.c.window_ends_at <= now,
                or_(decision_features.c.final_at.is_(None), decision_features.c.final_at <= now),
            )
            .order_by(decision_features.c.decision_id)
            .limit(limit)
        ).scalars()
    )
    out: dict[int, list[dict[str, float]]] = {i: [] for i in ids}
    if ids:
        for did, reward in conn.execute(
            select(outcomes.c.decision_id, outcomes.c.reward).where(outcomes.c.decision_id.in_(ids))
        ):
            out[did].append(reward)
    return out


def finalize(conn: Connection, rewards: dict[int, tuple[dict[str, float], float]], now: datetime) -> int:
    for did, (parts, total) in rewards.items():
        conn.execute(
            update(decision_features)
            .where(decision_features.c.decision_id == did)
            .values(reward=parts, reward_total=total, finalized_at=now)
        )
    return len(rewards)


@dataclass(frozen=True)
class PriorDecision:
    """A decision as attribution sees it (hub/pipeline/outcomes.py)."""

    id: int
    contact_id: int
    created_at: datetime
    #: the engine's log: the catalog id chosen and its window's end (None: not engine-logged)
    action: str | None
    window_ends_at: datetime | None
    #: it queued writes (a rules decision's action is its writes)
    writes: bool
    #: :func:`carried_out`, as the store shows it now
    carried_out: bool


def decisions_since(conn: Connection, contact_ids: Sequence[int], since: datetime) -> list[PriorDecision]:
    """The decisions on ``contact_ids`` made at or after ``since``, oldest first, with what the
    credit rule reads: the logged action and window, whether it wrote, whether that happened."""
    if not contact_ids:
        return []
    df = decision_features.c
    q = (
        select(
            decisions.c.id,
            decisions.c.contact_id,
            decisions.c.created_at,
            decisions.c.actions,
            df.action,
            df.window_ends_at,
            carried_out().label("carried_out"),
        )
        .select_from(decisions.outerjoin(decision_features, df.decision_id == decisions.c.id))
        .where(among(conn, decisions.c.contact_id, contact_ids), decisions.c.created_at >= since)
        .order_by(decisions.c.created_at, decisions.c.id)
    )
    return [
        PriorDecision(
            r.id,
            r.contact_id,
            aware(r.created_at),
            r.action,
            aware(r.window_ends_at) if r.window_ends_at is not None else None,
            bool(r.actions),
            bool(r.carried_out),
        )
        for r in conn.execute(q)
    ]


def carried_out(by: ColumnElement[datetime] | None = None) -> ColumnElement[bool]:
    """Decisions whose action happened, as far as the hub can tell: one that queued no write (the
    real-time API's, acted on by its caller) or one with a write that reached the CRM. A decision
    whose writes were all rejected by a reviewer, expired, withdrawn or superseded, or failed, did
    nothing: learned, the contact's unprompted behaviour was credited to an action never taken
    (and reviewers reject selectively, so the bias had a direction). One whose write still waits
    (held, queued) is learned once it lands.

    ``by``: the write landed by then (a push's ``updated_at`` once it is done or skipped, stamped
    on the hub's clock by hub/pipeline/push.py)."""
    mine = pushes.c.decision_id == decisions.c.id
    landed = pushes.c.state.in_(CARRIED_OUT)
    if by is not None:
        landed = and_(landed, pushes.c.updated_at <= by)
    return or_(~exists().where(mine), exists().where(mine, landed))


def learnable(conn: Connection, feature_version: str, limit: int = 50_000) -> list[LogRow]:
    q = (
        select(
            decision_features.c.decision_id,
            decision_features.c.action,
            decision_features.c.feature_version,
            decision_features.c.features,
            decision_features.c.reward_total,
            decision_features.c.reward,
            decisions.c.propensity,
            decisions.c.arm,
            decisions.c.created_at,
            decision_features.c.trace["segment"].as_integer().label("segment"),
            contacts.c.lifecycle_stage,
            contacts.c.email_opt_out,
            contacts.c.do_not_contact,
        )
        .join(decisions, decisions.c.id == decision_features.c.decision_id)
        .join(contacts, contacts.c.id == decisions.c.contact_id)
        .where(
            decision_features.c.finalized_at.is_not(None),
            decision_features.c.learned_version.is_(None),
            decision_features.c.feature_version == feature_version,
            # carried out within its window: a write approved or unblocked after the window closed
            # went out when the window's reward was made of what the contact did without it
            carried_out(by=decision_features.c.window_ends_at),
        )
        .order_by(decision_features.c.decision_id)
        .limit(limit)
    )
    return [
        LogRow(
            r.decision_id,
            r.action,
            r.feature_version,
            r.features,
            r.propensity,
            r.arm,
            r.reward_total,
            r.created_at,
            r.reward,
            r.segment,
            r.lifecycle_stage,
            not (r.email_opt_out or r.do_not_contact),
        )
        for r in conn.execute(q)
    ]


@dataclass
class LongTermRow:
    """A decision whose long-term horizon has passed, and whether its contact converted in it."""

    decision_id: int
    action: str
    features: list[float]
    propensity: float
    arm: str
    window_ends_at: datetime
    converted: bool


def long_term_due(
    conn: Connection,
    feature_version: str,
    after: tuple[datetime, int] | None,
    until: datetime,
    horizon: timedelta,
    limit: int = 10_000,
) -> list[LongTermRow]:
    """Decisions of ``feature_version`` whose horizon (attribution window's end + ``horizon``)
    ended by ``until``, after the cursor ``after`` (a window end and a decision id), in that
    order, up to ``limit``; each with whether its contact opened an opportunity after the
    window closed and within the horizon (``opportunity_created`` activities). Only decisions
    carried out within their window, as :func:`learnable` reads them."""
    df = decision_features.c
    q = (
        select(
            df.decision_id,
            df.action,
            df.features,
            df.window_ends_at,
            decisions.c.propensity,
            decisions.c.arm,
            decisions.c.contact_id,
        )
        .join(decisions, decisions.c.id == df.decision_id)
        .where(
            df.feature_version == feature_version,
            df.window_ends_at <= until - horizon,
            # what ``learnable`` reads: an action withheld, rejected, failed or landed late never
            # happened in its window (settled by now: the horizon ends long after the window)
            carried_out(by=df.window_ends_at),
        )
        .order_by(df.window_ends_at, df.decision_id)
        .limit(limit)
    )
    if after is not None:
        at, last_id = after
        q = q.where(or_(df.window_ends_at > at, and_(df.window_ends_at == at, df.decision_id > last_id)))
    rows = conn.execute(q).all()
    if not rows:
        return []
    ends = [aware(r.window_ends_at) for r in rows]
    opened: dict[int, list[datetime]] = {}
    for cid, at in conn.execute(
        select(activities.c.contact_id, activities.c.occurred_at).where(
            among(conn, activities.c.contact_id, list({r.contact_id for r in rows})),
            activities.c.type == "opportunity_created",
            activities.c.occurred_at > min(ends),
            activities.c.occurred_at <= max(ends) + horizon,
        )
    ):
        opened.setdefault(cid, []).append(aware(at))
    return [
        LongTermRow(
            r.decision_id,
            r.action,
            r.features,
            r.propensity,
            r.arm,
            end,
            any(end < at <= end + horizon for at in opened.get(r.contact_id, ())),
        )
        for r, end in zip(rows, ends, strict=True)
    ]


#: closed opportunities, written as literals: the predicate of the partial index ix_activities_tx
#: (migration 0019), which PostgreSQL matches in a prepared, generic plan only so
_CLOSED = text("activities.type IN ('opportunity_won', 'opportunity_lost')")


def closed_opportunities(conn: Connection, after: Position) -> tuple[list[float], list[int | None], Position]:
    """Opportunities closed since the position ``after``: each one's won amount (0 when lost)
    and its contact's company size (employees, None when unknown: what an opportunity of that
    size closes for is learned per size band, decision/deal_value.py), and the position to read
    on from (hub/store/tail.py: one committed late is read next time, not skipped)."""
    q = (
        select(activities.c.type, activities.c.properties, contacts.c.employees)
        .join(contacts, contacts.c.id == activities.c.contact_id)
        .where(_CLOSED)
    )
    rows, last = read_on(conn, q, activities, after)
    amounts, employees = [], []
    for r in rows:
        employees.append(r.employees)
        if r.type == "opportunity_lost":
            amounts.append(0.0)
            continue
        try:
            amounts.append(float((r.properties or {}).get("amount") or 0.0))
        except (TypeError, ValueError):
            amounts.append(0.0)
    return amounts, employees, last


def recently_decided(conn: Connection, limit: int) -> list[int]:
    """Up to ``limit`` distinct contacts of the newest decisions, newest first (a walk down the
    primary key, not a scan of every decision)."""
    seen: dict[int, None] = {}
    q = select(decisions.c.contact_id).order_by(decisions.c.id.desc()).limit(4 * limit)
    for (cid,) in conn.execute(q):
        seen.setdefault(cid, None)
        if len(seen) >= limit:
            break
    return list(seen)


def contacts_by_stage(conn: Connection) -> list[tuple[str | None, bool, int]]:
    """How many contacts the store holds per (lifecycle stage, reachable by e-mail)."""
    reachable = ~(contacts.c.email_opt_out | contacts.c.do_not_contact)
    q = select(contacts.c.lifecycle_stage, reachable.label("reachable"), func.count()).group_by(
        contacts.c.lifecycle_stage, reachable
    )
    return [(r[0], bool(r[1]), int(r[2])) for r in conn.execute(q)]


def mark_learned(conn: Connection, decision_ids: Sequence[int], version: int) -> None:
    if decision_ids:
        conn.execute(
            update(decision_features)
            .where(decision_features.c.decision_id.in_(list(decision_ids)))
            .values(learned_version=version)
        )


def finalized_rewards(conn: Connection) -> list[tuple[datetime, str, str, float]]:
    """(created_at, arm, action, reward_total) of every finalized decision, oldest first."""
    q = (
        select(decisions.c.created_at, decisions.c.arm, decision_features.c.action, decision_features.c.reward_total)
        .join(decisions, decisions.c.id == decision_features.c.decision_id)
        .where(decision_features.c.finalized_at.is_not(None))
        .order_by(decisions.c.created_at)
    )
    return [(aware(r[0]), r[1], r[2], float(r[3])) for r in conn.execute(q)]


# -- snapshots ---------------------------------------------------------------------------------


#: built once: every real-time decision asks (building the statement cost more than running it)
_LATEST = select(func.max(model_snapshots.c.version)).where(model_snapshots.c.name == bindparam("name"))


def latest_version(conn: Connection, name: str) -> int | None:
    return conn.execute(_LATEST, {"name": name}).scalar()


def load_snapshot(conn: Connection, name: str, version: int | None = None) -> tuple[int, bytes, dict] | None:
    q = select(model_snapshots.c.version, model_snapshots.c.blob, model_snapshots.c.metrics).where(
        model_snapshots.c.name == name
    )
    q = q.where(model_snapshots.c.version == version) if version is not None else q
    row = conn.execute(q.order_by(model_snapshots.c.version.desc()).limit(1)).first()
    return (row.version, bytes(row.blob), row.metrics) if row else None


def save_snapshot(
    conn: Connection,
    name: str,
    blob: bytes,
    metrics: dict[str, Any],
    now: datetime,
    expect: int | None = None,
) -> int | None:
    """Append the next version; returns it. The registry's state keys (:mod:`hub.store.models_repo`)
    are refused: a copied ``_status`` or ``_promoted_at`` would make the registry misread the row.

    ``expect``: compare-and-set. Save only if the newest version is still ``expect`` (0: none
    yet), else return None and append nothing: a learn step that learned on version N must not
    follow a rollback committed meanwhile, or it would be live and the rollback never served.
    Saves of one model take turns: PostgreSQL holds a lock on the model's versions until the
    transaction ends (the rollback's save takes it too); SQLite writes one at a time, and a
    rollback committed between the read and the insert below makes the insert fail on
    ``uq_model_version``, which is that same lost race."""
    clash = [k for k in metrics if k in RESERVED]
    if clash:
        raise StoreError(f"metric names {clash} are reserved for the model registry; rename them.")
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"model_snapshots:{name}"))))
    latest = latest_version(conn, name) or 0
    if expect is not None and latest != expect:
        return None
    row = insert(model_snapshots).values(name=name, version=latest + 1, blob=blob, metrics=metrics, created_at=now)
    try:
        conn.execute(row)
    except IntegrityError:
        # SQLite: the failed statement is undone and the transaction goes on (PostgreSQL's would be
        # aborted, and its lock above keeps this from happening there)
        if expect is None or conn.dialect.name == "postgresql" or latest_version(conn, name) == expect:
            raise
        return None
    return latest + 1


def list_snapshots(conn: Connection, name: str | None = None) -> list[dict[str, Any]]:
    q = select(
        model_snapshots.c.name, model_snapshots.c.version, model_snapshots.c.metrics, model_snapshots.c.created_at
    ).order_by(model_snapshots.c.name, model_snapshots.c.version)
    if name is not None:
        q = q.where(model_snapshots.c.name == name)
    return [
        {"name": r.name, "version": r.version, "metrics": r.metrics, "created_at": aware(r.created_at)}
        for r in conn.execute(q)
    ]
