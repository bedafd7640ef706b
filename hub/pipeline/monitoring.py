"""Monitoring from the store: the numbers :mod:`decision.monitoring` turns into alerts.

- drift: lead-scoring features of today's contacts against the same contacts' features at the
  start of the live model's training period (``now - 2 * horizon``); and the engine's declared
  columns (decision.features) of today's newest contacts against the rows they were fitted on;
- quality: the live model on the latest fully labelled window (cut at ``now - horizon``),
  against the Brier score it had when it was registered;
- reward rate per action (the ``next_best_action`` field a decision wrote, else its action
  kinds) and per segment (industry, company size band, role, lifecycle stage), over decisions
  of the last ``window_days``, against the rates of the window before;
- exploration share: decisions logged with a propensity below one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select

from decision.declared.spec import DeclaredSpec
from decision.monitoring import Alert, Thresholds, check, discrete_psi, drift_alerts, psi
from decision.scoring import FEATURE_NAMES, build_training_set, features_at
from decision.scoring.settings import ScoringSettings
from hub.pipeline.features import declared_matrix
from hub.pipeline.scoring import load_history, registry_for
from hub.store import Store
from hub.store.schema import contacts, decisions, outcomes

# Features are windowed (at most a year back), so none grows with the age of the data and
# all of them are watched.
DRIFT_FEATURES = FEATURE_NAMES
_DRIFT_COLS = [FEATURE_NAMES.index(n) for n in DRIFT_FEATURES]
#: newest contacts whose declared columns are compared with the fitted reference
DECLARED_DRIFT_ROWS = 5_000


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


def decision_rewards(store: Store, since: datetime, until: datetime) -> dict[str, np.ndarray]:
    """Per decision in ``[since, until)``: action key, segments, summed reward, propensity."""
    with store.connect() as conn:
        rows = conn.execute(
            select(
                decisions.c.id,
                decisions.c.actions,
                decisions.c.propensity,
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
        if ids:
            for did, rew in conn.execute(
                select(outcomes.c.decision_id, outcomes.c.reward).where(outcomes.c.decision_id.in_(ids))
            ):
                reward[did] += sum(float(v) for v in (rew or {}).values() if isinstance(v, int | float))
    return {
        "action": np.asarray([action_key(r.actions) for r in rows], dtype=str),
        "industry": np.asarray([r.industry or "unknown" for r in rows], dtype=str),
        "size": np.asarray([size_band(r.employees) for r in rows], dtype=str),
        "role": np.asarray([r.role or "unknown" for r in rows], dtype=str),
        "stage": np.asarray([r.lifecycle_stage or "unknown" for r in rows], dtype=str),
        "reward": np.asarray([reward[r.id] for r in rows], dtype=float),
        "propensity": np.asarray([r.propensity for r in rows], dtype=float),
    }


def _rates(keys: np.ndarray, reward: np.ndarray) -> dict[str, float]:
    return {k: float(reward[keys == k].mean()) for k in np.unique(keys)}


def declared_drift(store: Store, spec: DeclaredSpec, now: datetime, thresholds: Thresholds) -> list[Alert]:
    """PSI of each declared column: the newest contacts today against the fitted reference rows."""
    if spec.reference_ is None or len(spec.reference_) == 0:
        return []
    with store.connect() as conn:
        ids = list(
            conn.execute(select(contacts.c.id).order_by(contacts.c.id.desc()).limit(DECLARED_DRIFT_ROWS)).scalars()
        )
    if not ids:
        return []
    X, names, _ = declared_matrix(store, spec, sorted(ids), now)
    ref = spec.reference_
    drift = {
        name: discrete_psi(ref[:, j], X[:, j]) if len(np.unique(ref[:, j])) <= 10 else psi(ref[:, j], X[:, j])
        for j, name in enumerate(names)
    }
    return drift_alerts(drift, thresholds)


def monitor(
    store: Store,
    now: datetime,
    settings: ScoringSettings | None = None,
    thresholds: Thresholds | None = None,
    window_days: int = 7,
    declared: DeclaredSpec | None = None,
) -> list[Alert]:
    """Every alert; ``declared``: the engine's fitted declared spec, whose columns are watched too."""
    s = settings or ScoringSettings()
    t = thresholds or Thresholds()
    h = timedelta(days=s.horizon_days)
    contacts_, acts = load_history(store, now - 2 * h - timedelta(days=365))
    alerts: list[Alert] = []
    if declared is not None and declared.fitted:
        alerts += declared_drift(store, declared, now, t)
    if contacts_:
        then = features_at(contacts_, acts, now - 2 * h)
        today = features_at(contacts_, acts, now)
        alerts += check(
            thresholds=t, train_X=then[:, _DRIFT_COLS], recent_X=today[:, _DRIFT_COLS], feature_names=DRIFT_FEATURES
        )
        registry = registry_for(store, s)
        live_v = registry.live_version()
        if live_v is not None:
            model = registry.load(live_v)
            recent = build_training_set(contacts_, acts, now - h, horizon_days=s.horizon_days)
            info = next(v for v in registry.versions() if v.version == live_v)
            alerts += check(
                thresholds=t,
                y_recent=recent.y,
                p_recent=model.predict_proba(recent.X)[:, 1],
                trained_brier=info.metrics.get("brier"),
            )
    w = timedelta(days=window_days)
    cur = decision_rewards(store, now - w, now)
    ref = decision_rewards(store, now - 2 * w, now - w)
    for key in ("action", *SEGMENTS):
        if len(ref[key]):
            alerts += check(
                thresholds=t,
                reward_keys=np.char.add(f"{key}:", cur[key]) if len(cur[key]) else cur[key],
                rewards=cur["reward"],
                reference_rates={f"{key}:{k}": v for k, v in _rates(ref[key], ref["reward"]).items()},
            )
    alerts += check(thresholds=t, propensities=cur["propensity"])
    return sorted(alerts, key=lambda a: (a.severity != "critical", a.kind, a.subject))


__all__ = ["Alert", "DRIFT_FEATURES", "action_key", "decision_rewards", "declared_drift", "monitor"]
