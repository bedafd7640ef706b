"""Monitoring from the store: the numbers :mod:`decision.monitoring` turns into alerts.

Every comparison is between windows that can be compared:

- drift: the engine's declared columns (decision.features) of today's newest contacts against
  the rows they were fitted on; lead-scoring features of the contacts decided in the current
  monitoring window (as of now) against those decided in the window before (as of its end),
  so record fields and new arrivals can drift too; the responses to the hub's own emails
  and calls are left out, since they move whenever the policy does; their *rates* per email
  sent (opens, clicks) are watched instead, which a broken tracking pixel or feed collapses; A feature is watched only once the
  store's history covers its look-back at the reference time: in a young store (a sandbox, a
  new install) "days since last activity" or "opportunities in 365 days" grow with the
  history itself, which is not drift (a PSI of 10 on a two-week-old store was exactly that);
- quality: the live model on the latest fully labelled window (cut at ``now - horizon``),
  against the Brier score it had when it was registered;
- reward rate: reward per decision (hub.yaml's ``decision.objective`` over the outcomes that
  occurred within ``reward_horizon_days`` of the decision, so every decision compared had the
  same time to earn), for decisions made one horizon ago over ``window_days`` against the
  window before: the baseline arm over time, the engine against the baseline now, and per
  action and segment (industry, company size band, role, lifecycle stage) against the rest;
- exploration share: decisions whose action had less than even odds;
- sync health: per connector, a last sync that failed; its symptoms in the same run (rates,
  rewards) are named in its alert instead of raised on their own;
- model: a promoted lead-score version that cannot score (will not load, other features), which
  the registry passes over for an older version or the points score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select

from decision.declared.spec import DeclaredSpec
from decision.monitoring import (
    Alert,
    Thresholds,
    check,
    declared_drift_alerts,
    feed_rate_alerts,
    group_by_cause,
    sync_alerts,
)
from decision.objective import components
from decision.scoring import FEATURE_NAMES, build_training_set, features_at
from decision.scoring.settings import ScoringSettings
from hub.config import ObjectiveWeights
from hub.models import utcnow
from hub.outcomes_spec import DeclaredOutcome
from hub.pipeline.features import declared_matrix
from hub.pipeline.scoring import load_history, registry_for
from hub.store import Store
from hub.store.contacts import aware
from hub.store.schema import activities, contacts, decisions, outcomes
from hub.store.sync_state import all_states as stream_states
from hub.store.sync_state import shown

#: responses to the hub's own actions (its emails, its calls, the opt-outs its emails cause): they
#: move whenever the policy does, so they are the reward check's business, not evidence that the
#: world changed
HUB_DRIVEN = ("email_open_", "email_click_", "call_", "unsubscribe_", "email_opt_out")
DRIFT_FEATURES = tuple(n for n in FEATURE_NAMES if not n.startswith(HUB_DRIVEN))
#: newest contacts whose declared columns are compared with the fitted reference
DECLARED_DRIFT_ROWS = 5_000


def lookback_days(name: str) -> int:
    """How much history a lead-scoring feature reads: ``*_7d`` 7 days, ``*_365``/``*_365d`` a
    year, ``days_since_*`` a year (the history loaded); record fields (size, consent) none.

    >>> lookback_days("email_open_30d"), lookback_days("days_since_last_activity"), lookback_days("log_employees")
    (30, 365, 0)
    """
    m = re.search(r"_(\d+)d?$", name)
    if m:
        return int(m.group(1))
    return 365 if name.startswith("days_since_") else 0


def drift_sample(store: Store, now: datetime, window: timedelta) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """Feature rows of the contacts decided in the window before (as of its end, ``now -
    window``) and of those decided in the current window (as of ``now``), on the features the
    store's history covers at the earlier time (None: nothing to compare).

    Two populations, not the same contacts twice: the same contacts one window apart have the
    same record fields (company size, consent) whatever arrives, and never show new arrivals."""
    ref_at = now - window
    with store.connect() as conn:

        def decided(since: datetime, until: datetime) -> set[int]:
            q = select(decisions.c.contact_id).where(decisions.c.created_at >= since, decisions.c.created_at < until)
            return set(conn.execute(q.distinct()).scalars())

        before, current = decided(ref_at - window, ref_at), decided(ref_at, now)
    if not before or not current:
        return None
    contacts_, acts = load_history(store, ref_at - timedelta(days=365))
    if not acts:
        return None
    earliest = min(aware(a.occurred_at) for a in acts)
    names = [n for n in DRIFT_FEATURES if earliest <= ref_at - timedelta(days=lookback_days(n))]
    if not names:
        return None
    cols = [FEATURE_NAMES.index(n) for n in names]
    then = features_at([c for c in contacts_ if c.id in before], acts, ref_at)[:, cols]
    today = features_at([c for c in contacts_ if c.id in current], acts, now)[:, cols]
    return then, today, names


def action_key(actions: list[dict]) -> str:
    for a in actions or []:
        nba = (a.get("payload") or {}).get("fields", {}).get("next_best_action")
        if nba:
            return str(nba)
    return "+".join(sorted({a.get("kind", "?") for a in actions or []})) or "no_action"


SEGMENTS = ("industry", "size", "role", "stage")
#: employee-count bands (upper bounds), the usual SMB / mid-market / enterprise split
SIZE_BANDS = ((50, "1-49"), (250, "50-249"), (1000, "250-999"), (10_000, "1000-9999"))


def size_band(employees: int | None) -> str:
    if employees is None:
        return "unknown"
    return next((name for upper, name in SIZE_BANDS if employees < upper), "10000+")


def decision_rewards(
    store: Store,
    since: datetime,
    until: datetime,
    weights: ObjectiveWeights | None = None,
    horizon: timedelta | None = None,
) -> dict[str, np.ndarray]:
    """Per decision in ``[since, until)``: action key, segments, reward, propensity. The reward
    is the objective (``weights``) over the decision's outcomes that occurred within
    ``horizon`` of it (all of them when None)."""
    w = (weights or ObjectiveWeights()).model_dump()
    with store.connect() as conn:
        rows = conn.execute(
            select(
                decisions.c.id,
                decisions.c.actions,
                decisions.c.propensity,
                decisions.c.arm,
                decisions.c.policy,
                contacts.c.industry,
                contacts.c.employees,
                contacts.c.role,
                contacts.c.lifecycle_stage,
            )
            .join(contacts, contacts.c.id == decisions.c.contact_id)
            .where(decisions.c.created_at >= since, decisions.c.created_at < until)
        ).all()
        ids = [r.id for r in rows]
        reward = dict.fromkeys(ids, 0.0)
        for start in range(0, len(ids), 500):  # SQLite caps bound parameters
            q = (
                select(outcomes.c.decision_id, outcomes.c.reward, activities.c.occurred_at, decisions.c.created_at)
                .join(activities, activities.c.id == outcomes.c.activity_id)
                .join(decisions, decisions.c.id == outcomes.c.decision_id)
                .where(outcomes.c.decision_id.in_(ids[start : start + 500]))
            )
            for did, rew, at, made in conn.execute(q):
                if horizon is not None and aware(at) - aware(made) > horizon:
                    continue
                reward[did] += sum(v * w[k] for k, v in components([rew or {}]).items() if k in w)
    return {
        "action": np.asarray([action_key(r.actions) for r in rows], dtype=str),
        "industry": np.asarray([r.industry or "unknown" for r in rows], dtype=str),
        "size": np.asarray([size_band(r.employees) for r in rows], dtype=str),
        "role": np.asarray([r.role or "unknown" for r in rows], dtype=str),
        "stage": np.asarray([r.lifecycle_stage or "unknown" for r in rows], dtype=str),
        "reward": np.asarray([reward[r.id] for r in rows], dtype=float),
        "propensity": np.asarray([r.propensity for r in rows], dtype=float),
        "arm": np.asarray([r.arm or "" for r in rows], dtype=str),
        "policy": np.asarray([r.policy or "" for r in rows], dtype=str),
    }


def feed_rates(store: Store, now: datetime, window: timedelta) -> dict[str, tuple[int, int, int, int]]:
    """Opens and clicks per email sent, current window against the one before:
    ``{name: (hits, sends, hits_before, sends_before)}``."""
    from sqlalchemy import func

    def counts(since: datetime, until: datetime) -> dict[str, int]:
        with store.connect() as conn:
            q = (
                select(activities.c.type, func.count())
                .where(activities.c.occurred_at >= since, activities.c.occurred_at < until)
                .where(activities.c.type.in_(("email_sent", "email_open", "email_click")))
                .group_by(activities.c.type)
            )
            return dict(conn.execute(q).all())

    cur, ref = counts(now - window, now), counts(now - 2 * window, now - window)
    return {
        f"{kind}_rate": (cur.get(kind, 0), cur.get("email_sent", 0), ref.get(kind, 0), ref.get("email_sent", 0))
        for kind in ("email_open", "email_click")
    }


def failed_syncs(store: Store, lease_seconds: float) -> dict[str, list[tuple[str, str]]]:
    """Per connector that has synced: the streams whose last sync failed, or was interrupted (its
    process killed: shown "running" with no heartbeat for a lease, as `hub status` shows it), with
    the error. Heartbeats are on the wall clock, so this is too, whatever clock decides."""
    with store.connect() as conn:
        states = stream_states(conn)
    now = utcnow()
    out: dict[str, list[tuple[str, str]]] = {}
    for s in states:
        out.setdefault(s.connector, [])
        status, error = shown(s, now, lease_seconds)
        if status in ("failed", "interrupted"):
            out[s.connector].append((s.stream, error or ""))
    return out


def contact_rewards(
    store: Store,
    since: datetime,
    until: datetime,
    weights: ObjectiveWeights | None,
    outcomes: Sequence[DeclaredOutcome] = (),
) -> dict:
    """Per contact first decided before ``since``: its arm and its reward (hub/reports/metrics.py's
    definition, with the declared ``outcomes``) from what it did in ``[since, until)``; the unit
    the experiment randomizes."""
    from hub.reports.data import load_arm_frame
    from hub.reports.metrics import reward_per_event

    with store.connect() as conn:
        frame = load_arm_frame(conn, until=since, history=False, declared=outcomes)
    inside = (frame.ev_at >= since.timestamp()) & (frame.ev_at < until.timestamp())
    points = reward_per_event(frame, weights or ObjectiveWeights())
    reward = np.bincount(frame.ev_row[inside], weights=points[inside], minlength=len(frame.contact_id))
    return {"arm": frame.arm, "reward": reward.astype(float)}


def declared_drift(store: Store, spec: DeclaredSpec, now: datetime, thresholds: Thresholds) -> list[Alert]:
    """Drift of each declared column (decision.features): the newest contacts today against the
    rows the spec was fitted on, by the same test as every other feature."""
    if spec.reference_ is None or len(spec.reference_) == 0:
        return []
    with store.connect() as conn:
        ids = list(
            conn.execute(select(contacts.c.id).order_by(contacts.c.id.desc()).limit(DECLARED_DRIFT_ROWS)).scalars()
        )
    if not ids:
        return []
    X, names, _ = declared_matrix(store, spec, sorted(ids), now)
    return declared_drift_alerts(spec.reference_, X, list(names), thresholds)


def monitor(
    store: Store,
    now: datetime,
    settings: ScoringSettings | None = None,
    thresholds: Thresholds | None = None,
    window_days: int = 7,
    weights: ObjectiveWeights | None = None,
    reward_horizon_days: int = 3,
    declared: DeclaredSpec | None = None,
    connectors: list[str] | None = None,
    outcomes: Sequence[DeclaredOutcome] = (),
    sync_lease_seconds: float = 60.0,
) -> list[Alert]:
    """Every alert; ``declared``: the engine's fitted declared spec, whose columns are watched
    too; ``connectors``: the enabled ones, whose sync health is watched (None: all that synced);
    ``outcomes``: the declared outcomes ``weights`` values; ``sync_lease_seconds``: how long a sync
    may go without a heartbeat before it counts as interrupted (``push.lease_seconds``)."""
    s = settings or ScoringSettings()
    t = thresholds or Thresholds()
    h = timedelta(days=s.horizon_days)
    w = timedelta(days=window_days)
    alerts: list[Alert] = []
    if declared is not None and declared.fitted:
        alerts += declared_drift(store, declared, now, t)
    sample = drift_sample(store, now, w)
    if sample is not None:
        then, today, names = sample
        alerts += check(thresholds=t, train_X=then, recent_X=today, feature_names=names)
    alerts += feed_rate_alerts(feed_rates(store, now, w), t)
    failed = failed_syncs(store, sync_lease_seconds)
    alerts += sync_alerts({n: f for n, f in failed.items() if connectors is None or n in connectors})
    registry = registry_for(store, s)
    served = registry.serving()
    alerts += [
        Alert(
            "model",
            f"{registry.name} v{version}",
            1.0,
            0.0,
            "critical",
            f"{registry.name} v{version} is promoted but cannot score ({why}); "
            f"{f'v{served[0]}' if served else 'the points score'} scores instead. Retrain "
            "(`hub model train scoring`) or roll back to a usable version (`hub model rollback`)",
        )
        for version, why in registry.unusable()
    ]
    if served is not None:
        live_v, model = served
        contacts_, acts = load_history(store, now - 2 * h - timedelta(days=365))
        labelled = build_training_set(contacts_, acts, now - h, horizon_days=s.horizon_days)
        info = next(v for v in registry.versions() if v.version == live_v)
        alerts += check(
            thresholds=t,
            y_recent=labelled.y,
            p_recent=model.predict_proba(labelled.X)[:, 1],
            trained_brier=info.metrics.get("brier"),
        )
    lag = timedelta(days=reward_horizon_days)
    cur = decision_rewards(store, now - lag - w, now - lag, weights, lag)
    ref = decision_rewards(store, now - lag - 2 * w, now - lag - w, weights, lag)
    alerts += check(
        thresholds=t,
        reward_current=cur,
        reward_reference=ref,
        segments=("action", *SEGMENTS),
        contacts_current=contact_rewards(store, now - w, now, weights, outcomes),
        contacts_reference=contact_rewards(store, now - 2 * w, now - w, weights, outcomes),
    )
    recent = decision_rewards(store, now - w, now, weights, lag)
    # holdout, control and rules decide with propensity 1 by design, and so does the engine arm
    # while the kill switch has it on the legacy rules (hub/governance/plan.py)
    treated = (recent["arm"] == "engine") & (recent["policy"] != "rules")
    alerts += check(thresholds=t, propensities=recent["propensity"][treated])
    return sorted(group_by_cause(alerts), key=lambda a: (a.severity != "critical", a.kind, a.subject))


__all__ = ["Alert", "DRIFT_FEATURES", "action_key", "decision_rewards", "monitor"]
