"""Model registry: every lead-scoring version with its metrics, and a guarded promotion rule.

A retrained model goes live only if, on the *latest labelled window* (rows the candidate
was not trained on), it is not worse than the live model beyond a tolerance on each guarded
metric. Both are scored on the same window, so a harder or easier period cannot make a
worse model look better. Every candidate is stored, promoted or not, with both sets of
metrics and the reasons, so a refusal is explainable and a rollback has somewhere to go.

Storage is :mod:`hub.store.models_repo` (the ``model_snapshots`` table); the model's bytes
are :meth:`LeadScorer.to_bytes`.

Serving: a promoted version that does not load (a truncated pickle, a scikit-learn upgrade) or
was fitted on another feature list would crash every decide batch, so :meth:`ModelRegistry.live`
walks back to the newest promoted version that works (else None: the points score), logs each
unusable version once per process, and monitoring raises a ``model`` alert for it. Loaded
versions are cached per process: snapshots are immutable, and unpickling a live model took
most of a decide batch's scoring time (31 of 40 ms for 200 CDNOW contacts).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from decision.scoring.dataset import FEATURE_SCHEMA_VERSION
from decision.scoring.metrics import HIGHER_IS_BETTER, ScoreMetrics, score_metrics
from decision.scoring.model import LeadScorer
from hub.errors import DecisionError
from hub.store import Store
from hub.store import models_repo as repo

DEFAULT_TOLERANCES: dict[str, float] = {"roc_auc": 0.01, "brier": 0.002, "ece": 0.02}
log = logging.getLogger(__name__)

#: a snapshot's identity in this process: (store URL, name, version, created_at); rows never change
_Key = tuple[str, str, int, datetime]
#: per (store URL, name): the last version served and its loaded model
_SERVED: dict[tuple[str, str], tuple[_Key, LeadScorer]] = {}
#: snapshots found unusable, with why (logged once)
_UNUSABLE: dict[_Key, str] = {}


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

    def __init__(
        self,
        store: Store,
        name: str = "lead_score",
        rule: PromotionRule | None = None,
        feature_names: tuple[str, ...] | None = None,
    ) -> None:
        """``feature_names``: the columns callers score with; a version fitted on others is not served."""
        self.store = store
        self.name = name
        self.rule = rule or PromotionRule()
        self.feature_names = feature_names

    def register(self, model: LeadScorer, metrics: ScoreMetrics, *, extra: dict | None = None) -> int:
        """Store a version as a candidate; returns its number."""
        with self.store.begin() as conn:
            return repo.save_snapshot(conn, self.name, model.to_bytes(), {**metrics.as_dict(), **(extra or {})})

    def consider(
        self, candidate: LeadScorer, X_recent: np.ndarray, y_recent: np.ndarray, *, at: datetime | None = None
    ) -> PromotionDecision:
        """Register ``candidate`` and promote it if the rule allows, judged on the recent window."""
        cand = score_metrics(y_recent, candidate.predict_proba(X_recent)[:, 1])
        served = self.serving()  # the model that scores now: a broken live version is no bar
        live_v = None if served is None else served[0]
        live = None
        if served is not None:
            live = score_metrics(y_recent, served[1].predict_proba(X_recent)[:, 1])
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
        """The model that scores, or None (callers then use the points score); see :meth:`serving`."""
        served = self.serving()
        return None if served is None else served[1]

    def serving(self) -> tuple[int, LeadScorer] | None:
        """(version, model) of the newest promoted version that loads and fits this release's
        features, walking back past those that do not (logged once each); None: none does."""
        url = str(self.store.engine.url)
        found, broken = None, []
        for info in self._promoted():
            key = (url, self.name, info.version, info.created_at)
            cached = _SERVED.get(key[:2])
            if cached is not None and cached[0] == key:
                found = info.version, cached[1]
                break
            if key in _UNUSABLE:
                continue
            try:
                model = self.load(info.version)
                self._check_usable(model)
            # unpickling fails in any way a library change can make it (EOFError, AttributeError,
            # ModuleNotFoundError, ...); none of them may stop scoring
            except Exception as exc:  # noqa: BLE001
                _UNUSABLE[key] = f"{type(exc).__name__}: {exc}"
                broken.append(key)
                continue
            _SERVED[key[:2]] = (key, model)
            found = info.version, model
            break
        instead = f"v{found[0]}" if found else "the points score"
        for key in broken:  # once per version and process, not per batch
            log.error(
                "%s v%s is promoted but cannot score (%s); %s scores instead. Retrain (`hub model train "
                "scoring`) or roll back to a usable version.",
                self.name,
                key[2],
                _UNUSABLE[key],
                instead,
            )
        return found

    def unusable(self) -> list[tuple[int, str]]:
        """(version, why) of promoted versions newer than the one serving that cannot score."""
        served = self.serving()
        url, out = str(self.store.engine.url), []
        for info in self._promoted():
            if served is not None and info.version == served[0]:
                break
            why = _UNUSABLE.get((url, self.name, info.version, info.created_at))
            if why is not None:
                out.append((info.version, why))
        return out

    def _promoted(self) -> list[repo.SnapshotInfo]:
        """Promoted versions, the live one first, then the ones promoted before it."""
        rows = [v for v in self.versions() if v.status == repo.PROMOTED and v.promoted_at is not None]
        return sorted(rows, key=lambda v: (v.promoted_at, v.version), reverse=True)

    def _check_usable(self, model: LeadScorer) -> None:
        """Raise unless ``model`` was fitted on this release's features and scores a row."""
        schema = getattr(model, "schema_version_", None)
        if schema != FEATURE_SCHEMA_VERSION:
            raise DecisionError(f"fitted on feature schema v{schema}; this release builds v{FEATURE_SCHEMA_VERSION}")
        names = tuple(getattr(model, "feature_names_", ()))
        if self.feature_names is not None and names != tuple(self.feature_names):
            missing = sorted(set(self.feature_names) - set(names))
            extra = sorted(set(names) - set(self.feature_names))
            raise DecisionError(
                f"fitted on {len(names)} features, this release scores {len(self.feature_names)} "
                f"(missing {missing}, unknown {extra})"
            )
        model.score_many(np.zeros((1, len(names))))  # a library upgrade can load a model that cannot predict

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
