"""Model registry: every lead-scoring version with its metrics, and a guarded promotion rule.

A retrained model goes live only if, on the *latest labelled window* (rows the candidate
was not trained on), it is not worse than the live model beyond a tolerance on each guarded
metric. Both are scored on the same window, so a harder or easier period cannot make a
worse model look better. Every candidate is stored, promoted or not, with both sets of
metrics and the reasons, so a refusal is explainable and a rollback has somewhere to go.

Storage is :mod:`hub.store.models_repo` (the ``model_snapshots`` table); the model's bytes
are :meth:`LeadScorer.to_bytes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from decision.scoring.metrics import HIGHER_IS_BETTER, ScoreMetrics, score_metrics
from decision.scoring.model import LeadScorer
from hub.store import Store
from hub.store import models_repo as repo

DEFAULT_TOLERANCES: dict[str, float] = {"roc_auc": 0.01, "brier": 0.002, "ece": 0.02}


@dataclass(frozen=True)
class PromotionRule:
    """Metric -> the most the candidate may be worse by (absolute), and still be promoted."""

    tolerances: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TOLERANCES))

    def check(self, candidate: ScoreMetrics, current: ScoreMetrics | None) -> tuple[bool, list[str]]:
        """(promote?, one reason per guarded metric). No live model: promote."""
        if current is None:
            return True, ["no live model"]
        ok, reasons = True, []
        for metric, tol in self.tolerances.items():
            new, old = getattr(candidate, metric), getattr(current, metric)
            if math.isnan(old):
                reasons.append(f"{metric}: live value undefined on this window, not compared")
                continue
            if math.isnan(new):
                ok = False
                reasons.append(f"{metric}: candidate undefined on this window")
                continue
            worse_by = (old - new) if HIGHER_IS_BETTER[metric] else (new - old)
            passed = worse_by <= tol
            ok &= passed
            verdict = "ok" if passed else "worse"
            reasons.append(f"{metric}: {new:.4f} vs live {old:.4f} ({verdict}, tolerance {tol})")
        return ok, reasons


@dataclass(frozen=True)
class PromotionDecision:
    version: int
    promoted: bool
    reasons: list[str]
    candidate: ScoreMetrics
    live: ScoreMetrics | None
    live_version: int | None


class ModelRegistry:
    """Versions of one named model in the store.

    >>> import numpy as np, tempfile, os
    >>> from hub.store import Store
    >>> store = Store("sqlite:///" + os.path.join(tempfile.mkdtemp(), "r.db"))
    >>> rng = np.random.default_rng(0); X = rng.normal(size=(2000, 2))
    >>> y = (rng.random(2000) < 1 / (1 + np.exp(-(X[:, 0] - 1.5)))).astype(int)
    >>> reg = ModelRegistry(store, "demo")
    >>> m = LeadScorer(estimator="logistic").fit(X[:1500], y[:1500], feature_names=("a", "b"))
    >>> d = reg.consider(m, X[1500:], y[1500:])
    >>> d.promoted, reg.live_version()
    (True, 1)
    """

    def __init__(self, store: Store, name: str = "lead_score", rule: PromotionRule | None = None) -> None:
        self.store = store
        self.name = name
        self.rule = rule or PromotionRule()

    def register(self, model: LeadScorer, metrics: ScoreMetrics, *, extra: dict | None = None) -> int:
        """Store a version as a candidate; returns its number."""
        with self.store.begin() as conn:
            return repo.save_snapshot(conn, self.name, model.to_bytes(), {**metrics.as_dict(), **(extra or {})})

    def consider(
        self, candidate: LeadScorer, X_recent: np.ndarray, y_recent: np.ndarray, *, at: datetime | None = None
    ) -> PromotionDecision:
        """Register ``candidate`` and promote it if the rule allows, judged on the recent window."""
        cand = score_metrics(y_recent, candidate.predict_proba(X_recent)[:, 1])
        live_v = self.live_version()
        live = None
        if live_v is not None:
            live = score_metrics(y_recent, self.load(live_v).predict_proba(X_recent)[:, 1])
        ok, reasons = self.rule.check(cand, live)
        extra = {
            "window_n": cand.n,
            "compared_to": live_v,
            "live_on_window": live.as_dict() if live else None,
            "promotion_reasons": reasons,
        }
        with self.store.begin() as conn:
            version = repo.save_snapshot(
                conn, self.name, candidate.to_bytes(), {**cand.as_dict(), **extra}, created_at=at
            )
            if ok:
                repo.promote(conn, self.name, version, at)
        return PromotionDecision(version, ok, reasons, cand, live, live_v)

    def live_version(self) -> int | None:
        with self.store.connect() as conn:
            return repo.live_version(conn, self.name)

    def live(self) -> LeadScorer | None:
        """The model in service, or None (callers then use the points score)."""
        v = self.live_version()
        return None if v is None else self.load(v)

    def load(self, version: int) -> LeadScorer:
        with self.store.connect() as conn:
            _, blob = repo.load_snapshot(conn, self.name, version)
        return LeadScorer.from_bytes(blob)

    def versions(self) -> list[repo.SnapshotInfo]:
        with self.store.connect() as conn:
            return repo.list_snapshots(conn, self.name)

    def promote(self, version: int, at: datetime | None = None) -> None:
        """Manual override: make ``version`` live regardless of the rule."""
        with self.store.begin() as conn:
            repo.promote(conn, self.name, version, at)

    def rollback(self) -> int | None:
        """Take the live version out; returns the version live afterwards."""
        with self.store.begin() as conn:
            return repo.rollback(conn, self.name)
