"""Lead scores pushed with each decision: ``lead_score`` (0-100) and ``conversion_probability``.

Wired only when ``decision.scoring`` is set (and ``enabled``), since it reads a year of
activity per batch. The live model of the scoring registry scores; under cold start, or with
the ``scoring`` kill switch on, the legacy points score does (decision/scoring/points.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from decision.scoring import LeadScorer, features_at
from decision.scoring.settings import ScoringSettings
from hub.models import Contact
from hub.pipeline.scoring import registry_for
from hub.store import Store
from hub.store import activities as activity_store

YEAR = timedelta(days=365)


def score_fields(
    store: Store,
    conn: Connection,
    contacts: Sequence[Contact],
    now: datetime,
    settings: ScoringSettings,
    *,
    legacy: bool = False,
) -> dict[int, dict[str, Any]]:
    """``contact id -> {lead_score, conversion_probability}``; ``legacy`` forces the points score."""
    ids = [c.id for c in contacts if c.id is not None]
    if not ids:
        return {}
    history = activity_store.recent_activities(conn, ids, now - YEAR)
    X = features_at(contacts, [a for acts in history.values() for a in acts], now)
    model = None if legacy else registry_for(store, settings).live()
    if model is None:
        model = LeadScorer.cold_start(default_deal_value=settings.default_deal_value)
    scores = model.score_many(X)
    return {
        c.id: {"lead_score": int(s), "conversion_probability": round(float(p), 4)}
        for c, s, p in zip(contacts, scores.score, scores.probability, strict=True)
        if c.id is not None
    }
