"""Lead scoring against the store: retrain-and-maybe-promote, and score a batch of contacts.

The two entry points a task or the decide step calls (thin, like the other pipeline steps):

- :func:`retrain`: build a training set from the store's contacts and activities, fit a
  :class:`LeadScorer`, and let the registry promote it only if it is not worse on the latest
  fully labelled window. Under cold start (too few positives) nothing is registered.
- :func:`retrain_if_due`: the embedded runner's schedule (Celery beat runs ``hub.train_scoring``
  every ``retrain_every_hours`` instead).
- :func:`score_contacts`: score contacts with the live version, or with the legacy points score
  while there is none; the output is 0-100, probability and expected value per contact.

``min_positives`` counts converting contacts, not positive rows: a contact converting inside
several stacked windows is one row per cut-off but one piece of evidence (and one calibration
group).

Cut-offs: the latest window whose 90-day labels are complete starts at ``now - horizon``; it
is the *recent* window promotion is judged on. Training cut-offs go back from
``now - 2 * horizon`` every ``cutoff_step_days``, so no training label overlaps it. A contact
appears once per training cut-off; its rows share one calibration fold (``groups``), so no fold
is calibrated on near-copies of rows its classifier learned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select

from decision.scoring import FEATURE_NAMES, LeadScorer, LeadScores, build_rolling, features_at, time_split
from decision.scoring.registry import ModelRegistry, PromotionDecision, PromotionRule
from decision.scoring.settings import ScoringSettings
from hub.models import Activity, ActivityType, Contact
from hub.store import Store
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store.contacts import aware
from hub.store.schema import contacts as contacts_table


@dataclass(frozen=True)
class RetrainResult:
    rows: int
    #: positive training rows: a contact converting in several stacked windows counts in each
    positives: int
    cold_start: bool
    decision: PromotionDecision | None
    message: str
    #: distinct contacts with a positive row: what ``min_positives`` counts
    converting_contacts: int = 0
    #: distinct opportunities created inside the training label windows
    opportunities: int = 0


def registry_for(store: Store, settings: ScoringSettings) -> ModelRegistry:
    rule = PromotionRule(
        {"roc_auc": settings.tolerance_auc, "brier": settings.tolerance_brier, "ece": settings.tolerance_ece}
    )
    return ModelRegistry(store, settings.model_name, rule, FEATURE_NAMES)


def load_history(store: Store, since: datetime) -> tuple[list[Contact], list[Activity]]:
    """Every contact and its activities since ``since`` (one batch; chunk for very large stores)."""
    with store.connect() as conn:
        ids = list(conn.execute(select(contacts_table.c.id)).scalars())
        contacts = contact_store.load_contacts(conn, ids)
        history = activity_store.recent_activities(conn, ids, since)
    return contacts, [a for acts in history.values() for a in acts]


def retrain(store: Store, now: datetime, settings: ScoringSettings | None = None) -> RetrainResult:
    s = settings or ScoringSettings()
    h = timedelta(days=s.horizon_days)
    recent_at = now - h
    cutoffs = [recent_at - h - timedelta(days=s.cutoff_step_days * k) for k in range(s.training_cutoffs)]
    contacts, acts = load_history(store, min(cutoffs) - timedelta(days=365))
    if not contacts:
        return RetrainResult(0, 0, True, None, "no contacts in the store")
    ts = build_rolling(contacts, acts, [*sorted(cutoffs), recent_at], horizon_days=s.horizon_days)
    train, recent = time_split(ts, recent_at)
    positives = int(train.y.sum())
    converting = len(np.unique(train.contact_ids[train.y == 1]))
    start, end = min(cutoffs), max(cutoffs) + h
    opportunities = sum(1 for a in acts if a.type == ActivityType.OPPORTUNITY_CREATED and start <= a.occurred_at < end)
    counts = {"converting_contacts": converting, "opportunities": opportunities}

    def cold(why: str) -> RetrainResult:
        return RetrainResult(len(train), positives, True, None, f"cold start: {why}; points score stays", **counts)

    if converting < s.min_positives:
        return cold(f"{converting} converting contacts in training windows, {s.min_positives} needed")
    model = LeadScorer(min_positives=s.min_positives, default_deal_value=s.default_deal_value)
    model.fit(train.X, train.y, train.value, order=train.cutoffs, groups=train.contact_ids)
    if model.source_ == "points":  # too few contacts on one side to hold out; never register points
        return cold(f"{converting} converting contacts cannot fill two held-out folds")
    decision = registry_for(store, s).consider(model, recent.X, recent.y, at=now)
    verdict = "promoted" if decision.promoted else "kept as candidate"
    return RetrainResult(len(train), positives, False, decision, f"version {decision.version} {verdict}", **counts)


def last_trained_at(store: Store, settings: ScoringSettings) -> datetime | None:
    """When the newest version (live or candidate) was registered; None before the first."""
    versions = registry_for(store, settings).versions()
    return max((aware(v.created_at) for v in versions), default=None)


def retrain_if_due(
    store: Store, now: datetime, settings: ScoringSettings, last_attempt: datetime | None = None
) -> RetrainResult | None:
    """Retrain when the newest version (or ``last_attempt``, which covers cold-start tries that
    register nothing) is older than ``retrain_every_hours``; None when not due."""
    every = timedelta(hours=settings.retrain_every_hours)
    marks = [t for t in (last_trained_at(store, settings), last_attempt) if t is not None]
    if marks and now - max(marks) < every:
        return None
    return retrain(store, now, settings)


def score_contacts(
    store: Store,
    contacts: Sequence[Contact],
    activities: Sequence[Activity],
    now: datetime,
    settings: ScoringSettings | None = None,
) -> LeadScores:
    """Scores for ``contacts`` from their ``activities`` before ``now`` (live model or points)."""
    s = settings or ScoringSettings()
    X = features_at(contacts, activities, now)
    model = registry_for(store, s).live()
    if model is None:
        model = LeadScorer.cold_start(default_deal_value=s.default_deal_value)
    return model.score_many(X)
