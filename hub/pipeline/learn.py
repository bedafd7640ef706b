"""The learning step: close attribution windows, learn from final rewards, save a snapshot.

Runs in one place at a time (a lock, and the single-worker ``learn`` queue): it reads the
newest snapshot, learns from every finalized decision not yet learned from, and appends the
result as the next version in the same transaction that marks those decisions learned, so a
crash never learns a decision twice or loses one. It appends only if the newest version is still
the one it learned on: a ``hub model rollback`` committed meanwhile stays live, and the step's
rows, left unmarked, are learned next step on the rolled-back model. ``decide`` workers call
:func:`ensure_current` (one integer read) and reload when the version moved on, including
after ``hub model rollback``.
"""

from __future__ import annotations

import copy
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection

from decision.experiment import ENGINE_ARMS, ablation_arm
from decision.interface import ContactView
from decision.long_term import HORIZON_DAYS
from decision.objective import components, total, weighted
from hub.errors import DecisionError
from hub.pipeline.context import HubContext
from hub.pipeline.features import bind_stored, ensure_features
from hub.profile import empty_profile
from hub.store import contacts as contact_store
from hub.store import learning as store
from hub.store import models_repo
from hub.store import profiles as profile_store

log = logging.getLogger(__name__)


@dataclass
class LearnReport:
    skipped: bool = False
    finalized: int = 0
    learned: int = 0
    version: int | None = None
    mean_reward: float | None = None
    #: a newer version (a rollback) was saved while the step learned: its work was dropped and
    #: its rows are learned next step, on that version
    superseded: bool = False
    by_action: dict[str, int] = field(default_factory=dict)


def _engine(ctx: HubContext):
    from decision.engine import EnginePolicy

    policy = ctx.policy
    return policy if isinstance(policy, EnginePolicy) else None


_reload_lock = threading.Lock()


def ensure_current(ctx: HubContext, conn: Connection) -> None:
    """Load the newest snapshot into this process's engine if it is not the one in use.

    Thread-safe: the API decides in a thread pool, and one thread reloads while the others
    wait for it instead of loading the same snapshot again."""
    engine = _engine(ctx)
    if engine is None or not engine.features_ready:
        return
    latest = store.latest_version(conn, engine.model_name)
    if latest is None or latest == engine.model_version:
        return
    with _reload_lock:
        if latest == engine.model_version:  # another thread loaded it meanwhile
            return
        snap = store.load_snapshot(conn, engine.model_name, latest)
        if snap is not None:
            engine.load_model(snap[0], snap[1])
            restore_learned(engine, snap[2])
            log.info("engine model %s reloaded at version %s", engine.model_name, latest)


#: policy_in_use's version while decision.features wait for their first fit (no model has that name yet)
NOT_FITTED = "(no model yet: the first decide fits decision.features)"


def policy_in_use(ctx: HubContext) -> tuple[str, str]:
    """The policy's name and the version decisions use now, the newest snapshot loaded first (not
    what this process started with): what `hub status`, /v1/status and the console's Overview and
    Models pages name. Declared features' stored state is bound first (never fitted here), since
    it names the model; the built-in schema's model never decides when features are declared."""
    if not bind_stored(ctx):
        return ctx.policy.name, NOT_FITTED
    with ctx.store.connect() as conn:
        ensure_current(ctx, conn)
    return ctx.policy.name, ctx.policy.version


def learned_state(engine) -> dict[str, Any]:  # noqa: ANN001
    """What the engine learned beside its bandit, as a snapshot's metrics keep it."""
    return {
        "content": engine.extras.content.state(),
        "long_term": engine.long_term.state(),
        "graduation": engine.graduation.state(),
        "segment_values": engine.segment_step.state() if engine.segment_step is not None else None,
        "send_time": engine.extras.send_time_prior,
    }


def restore_learned(engine, metrics: dict[str, Any] | None) -> None:  # noqa: ANN001
    """Put back what a snapshot's metrics kept of the engine's learning beside its bandit (content
    slots, long-term value, graduation evidence, segment values, the send-time prior). Decide,
    the API and ``hub evaluate``'s replay all restore a snapshot through this, so they decide
    alike."""
    metrics = metrics or {}
    engine.extras.send_time_prior = metrics.get("send_time")  # none kept: each batch its own
    if metrics.get("content"):
        engine.extras.content.load_state(metrics["content"])
    if metrics.get("long_term") and engine.settings.engine.long_term_learning:  # off: the prior alone
        engine.long_term.load_state(metrics["long_term"])
    if metrics.get("graduation"):
        engine.graduation.load_state(metrics["graduation"])
    if metrics.get("segment_values") and engine.segment_step is not None:
        engine.segment_step.load_state(metrics["segment_values"])


def close_windows(ctx: HubContext, now: datetime) -> int:
    """Finalize the reward of every decision whose attribution window has closed."""
    weights = ctx.settings.decision.objective
    declared = {o.name for o in ctx.settings.decision.outcomes}
    with ctx.store.begin() as conn:
        due = store.windows_due(conn, now)
        rewards = {}
        for did, rows in due.items():
            parts = components(rows, declared)
            rewards[did] = (weighted(parts, weights), total(parts, weights))
        return store.finalize(conn, rewards, now)


def learn_step(ctx: HubContext, now: datetime | None = None) -> LearnReport:
    report = LearnReport()
    engine = _engine(ctx)
    now = now or ctx.clock()
    report.finalized = close_windows(ctx, now)
    if engine is None:
        return report
    ensure_features(ctx)
    with ctx.locks.hold("learn", ctx.settings.celery.task_time_limit) as lock:
        if not lock.acquired:
            report.skipped = True
            return report
        before = None
        try:
            with ctx.store.begin() as conn:
                ensure_current(ctx, conn)
                loaded = max(engine.model_version, 0)  # the version learned on (0: none yet)
                rows = store.learnable(conn, engine.feature_version)
                if rows:  # what to put back if the store rolls this step back (below)
                    before = (engine.model_version, engine.snapshot(), copy.deepcopy(learned_state(engine)))
                long_term = _learn_long_term(conn, engine, now)  # its horizon passes whether or not rows close
                if not rows and not long_term:
                    report.version = engine.model_version or None
                    return report
                # None: a snapshot for long-term value alone learned no rewards to average
                n, mean_reward = _learn_rows(conn, engine, rows, now, report) if rows else (0, None)
                _learn_send_time(conn, engine, now)
                metrics = {
                    "learned": n,
                    "mean_reward": mean_reward,
                    "long_term_learned": long_term,
                    "by_action": report.by_action,
                    "observations": engine.model.policy.n_obs_.tolist(),
                    "feature_version": engine.feature_version,
                    **learned_state(engine),
                    "graduated": engine.model.graduated,
                    "graduation_evidence": engine.graduation.report(),
                }
                # saved only if ``loaded`` is still the newest: a rollback committed meanwhile stays live
                version = store.save_snapshot(conn, engine.model_name, engine.snapshot(), metrics, now, expect=loaded)
                if version is not None:
                    store.mark_learned(conn, [r.decision_id for r in rows], version)
        except BaseException:
            _put_back(engine, before)
            raise
        if version is None:
            _put_back(engine, before)
            log.warning(
                "engine model %s moved past v%s during a learn step; its rows are learned next step",
                engine.model_name,
                loaded,
            )
            report.superseded = True
            return report
        engine.model_version = version
        report.learned, report.version, report.mean_reward = n, version, mean_reward
    return report


def _put_back(engine, before: tuple | None) -> None:  # noqa: ANN001
    """Undo a learn step in memory when the store kept none of it (rolled back, or a newer
    version saved meanwhile): put back what the engine held before the step (with no
    snapshot saved yet, a reload has nothing to load, and the rows, still unmarked, were learned
    twice); a newer snapshot is reloaded as usual."""
    if before is not None:
        engine.load_model(before[0], before[1])
        restore_learned(engine, before[2])
    else:  # no rows, but long-term value may have learned: reload whatever is newest
        engine.model_version = -1


def _learn_rows(conn: Connection, engine, rows: list, now: datetime, report: LearnReport) -> tuple[int, float | None]:  # noqa: ANN001
    """The bandit, the apprentice's evidence, segment values and content slots learn the rows
    whose windows closed; returns how many the bandit learned and their mean reward."""
    X = np.array([r.features for r in rows], dtype=float)
    rewards = np.array([r.reward_total or 0.0 for r in rows])
    unsub = np.array([float((r.reward_parts or {}).get("unsubscribe", 0.0)) for r in rows])
    arms = [r.arm for r in rows]
    if engine.measure_graduation(X, [r.action for r in rows], arms, rewards, [r.propensity for r in rows]):
        log.info("engine %s graduated from apprentice mode: %s", engine.model_name, engine.graduation.report())
    n = engine.learn(
        X, [r.action for r in rows], rewards, np.array([r.propensity for r in rows]), unsubscribe_points=unsub
    )
    _learn_segment_values(conn, engine, rows, now)
    for r in rows:
        report.by_action[r.action] = report.by_action.get(r.action, 0) + 1
    # content slots learn from the rows whose variants their bandit chose (not the no_content arm's)
    content_arms = set(ENGINE_ARMS) - {ablation_arm("content")}
    _learn_content(conn, engine, [r.decision_id for r in rows if r.arm in content_arms])
    return n, float(rewards.mean())


def _learn_segment_values(conn: Connection, engine, rows: list, now: datetime) -> int:  # noqa: ANN001
    """Segment values learn the rows' rewards; outcome values learn the opportunities closed
    and the contact-days per stage since the last step (decision/segment_step.py)."""
    step = engine.segment_step
    if step is None:
        return 0
    amounts, employees, step.cursor = store.closed_opportunities(conn, step.cursor)
    step.close(np.array(amounts, dtype=float), np.array(employees, dtype=float))
    step.count_contacts(store.contacts_by_stage(conn), now)
    return engine.learn_segment_values(
        [r.segment for r in rows],
        [r.action for r in rows],
        [r.reward_parts for r in rows],
        [r.stage_now for r in rows],
        np.array([r.reachable_now for r in rows], dtype=bool),
    )


#: how many recently decided contacts the send-time prior is fitted on: enough for every
#: segment's hours, few enough that a learn step at a million contacts reads them in a blink
SEND_TIME_SAMPLE = 5_000


def _learn_long_term(conn: Connection, engine, now: datetime) -> int:  # noqa: ANN001
    """Teach long-term value the decisions whose horizon has passed since the last step (the
    cursor travels with the snapshot, so each decision is learned once); returns how many."""
    if not engine.settings.engine.long_term_learning:
        return 0  # the cursor stays: switched on, it learns every decision since the first
    horizon = timedelta(days=HORIZON_DAYS)
    lt, learned = engine.long_term, 0
    while True:
        rows = store.long_term_due(conn, engine.feature_version, lt.learned_through, now, horizon)
        if not rows:
            return learned
        X = np.array([r.features for r in rows], dtype=float)
        engine.learn_long_term(
            X,
            [r.action for r in rows],
            [r.arm for r in rows],
            np.array([r.propensity for r in rows]),
            np.array([float(r.converted) for r in rows]),
        )
        learned += len(rows)
        lt.learned_through = (rows[-1].window_ends_at, rows[-1].decision_id)


def _learn_send_time(conn: Connection, engine, now: datetime) -> int:  # noqa: ANN001
    """Refit the send-time prior on the profiles of the contacts decided most recently."""
    ids = store.recently_decided(conn, SEND_TIME_SAMPLE)
    contacts = contact_store.load_contacts(conn, ids)
    profiles = profile_store.load_profiles(conn, ids)
    views = [ContactView(contact=c, profile=profiles.get(c.id, empty_profile())) for c in contacts]
    return engine.learn_send_time(views, now)


def _learn_content(conn: Connection, engine, decision_ids: list[int]) -> int:  # noqa: ANN001
    """Content slots learn from the opens and clicks attributed to the decisions that carried
    their variants (decision/content.py): whether each happened, read from the outcomes'
    counts, not from the weighted reward, where an objective weight of 0 (``open: 0``, say
    for machine opens) had read every send as unopened."""
    if not decision_ids:
        return 0
    from sqlalchemy import select

    from hub.store.schema import decisions, outcomes

    found, facts = [], {}
    for start in range(0, len(decision_ids), 500):  # SQLite caps bound parameters
        part = decision_ids[start : start + 500]
        found.extend(conn.execute(select(decisions.c.id, decisions.c.actions).where(decisions.c.id.in_(part))).all())
        for did, reward in conn.execute(
            select(outcomes.c.decision_id, outcomes.c.reward).where(outcomes.c.decision_id.in_(part))
        ):
            facts.setdefault(did, []).append(reward)
    pushed, opened, clicked = [], [], []
    for did, actions in found:
        fields = next((a["payload"].get("fields", {}) for a in actions or [] if a.get("kind") == "set_fields"), {})
        if not any(k.startswith("content_") for k in fields):
            continue
        counts = components(facts.get(did, []))  # raw counts per component, unweighted
        pushed.append(fields)
        opened.append(counts.get("open", 0) > 0)
        clicked.append(counts.get("click", 0) > 0)
    return engine.extras.content.learn_outcomes(pushed, opened, clicked) if pushed else 0


def list_models(ctx: HubContext) -> list[dict]:
    with ctx.store.connect() as conn:
        return store.list_snapshots(conn)


def model_name(ctx: HubContext, name: str | None) -> str:
    """The model a rollback names: ``name``, else the learning engine's (its declared features'
    stored state bound first: it names the model)."""
    bind_stored(ctx)
    engine = _engine(ctx)
    name = name or (engine.model_name if engine else None)
    if name is None:
        raise DecisionError("the configured policy is not the learning engine; name the model to roll back.")
    return name


def rollback(ctx: HubContext, version: int, name: str | None = None, conn: Connection | None = None) -> int:
    """Make ``version`` live again by appending a copy of it as the newest version.

    The engine serves its newest version; a registry model (lead scoring, whose rows carry a
    ``_status``) serves its newest *promoted* one, so its copy is promoted in the same
    transaction (:func:`hub.store.models_repo.restore`). ``conn``: run inside the caller's
    transaction (the audited rollback logs it there).
    """
    name = model_name(ctx, name)
    if conn is None:
        with ctx.store.begin() as own:
            return rollback(ctx, version, name, own)
    snap = store.load_snapshot(conn, name, version)
    if snap is None:
        raise DecisionError(f"model {name} has no version {version}; see `hub model list`.")
    if "_status" in (snap[2] or {}):
        return models_repo.restore(conn, name, version, ctx.clock(), rollback_of=version)
    metrics = {**snap[2], "rollback_of": version}
    return store.save_snapshot(conn, name, snap[1], metrics, ctx.clock())
