"""The lead scorer: calibrated 90-day opportunity probability, expected deal value, 0-100 score.

Why this shape:

- **Calibrated, not just ranked.** Sales reads "32 %" as a chance and the expected value
  multiplies it by a deal size, so scores are mapped to probabilities on held-out folds
  (:class:`~sklearn.calibration.CalibratedClassifierCV`, ``calibration_folds`` folds): each fold's
  classifier is calibrated on the rows it did not see and the fold models are averaged, so every
  row trains a classifier and calibration costs no ranking (the bagged average usually ranks
  *better* than one model). Isotonic from ``isotonic_from`` positives (1,000: about 200 per fold,
  below which its steps follow the noise), sigmoid (Platt) below. Rows of one contact at several
  cut-offs share a fold (``groups``), or a fold's calibrator would see near-copies of rows its
  classifier learned and trust it too much.
- **Gradient boosting by default** (interactions, missing values, native categorical columns
  through ``categorical``), shallower and slower-learning than scikit-learn's defaults because
  lead tables are small and noisy. Below ``logistic_below`` (200) positives the held-out folds
  choose between it and logistic regression by ROC AUC (boosting ranked worse on the pipeline
  test's 125-positive market, 0.58 against over 0.6; better on small tables with curved effects).
- **Cold start.** Below ``min_positives`` positive groups (converting contacts when ``groups``
  are the contact ids; positive rows without groups), or fewer than two positive or negative
  groups to hold out, the legacy points score (:mod:`decision.scoring.points`) is served;
  ``source_`` says which one is live.
- **Score 0-100** is the percentile of the probability among the latest ``calibration_share`` of training rows (90 =
  better than 90 % of recent leads), because calibrated probabilities crowd near the base
  rate and a rank is what a queue sorts by. Under cold start it is the points total.

scikit-learn conventions: hyperparameters in ``__init__``, learned state with a trailing
underscore, ``fit`` returns self, seeds via ``random_state``.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(4000, 3)); p = 1 / (1 + np.exp(-(X[:, 0] - 2)))
>>> y = (rng.random(4000) < p).astype(int)
>>> s = LeadScorer(estimator="logistic").fit(X, y, feature_names=("a", "b", "c"))
>>> s.source_, bool(abs(s.predict_proba(X)[:, 1].mean() - y.mean()) < 0.02)
('model', True)
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from decision.scoring.dataset import FEATURE_NAMES, FEATURE_SCHEMA_VERSION
from decision.scoring.points import POINTS, points_probability, points_score
from hub.errors import DecisionError

Estimator = Literal["auto", "hgb", "logistic"]
Calibration = Literal["auto", "isotonic", "sigmoid"]


@dataclass(frozen=True)
class LeadScores:
    """Per-contact outputs, aligned with the rows scored."""

    score: np.ndarray  # int 0-100
    probability: np.ndarray  # chance of an opportunity within the horizon
    expected_value: np.ndarray  # probability x expected deal value
    source: str  # "model" or "points"


class _Sigmoid:
    """Platt scaling on the log-odds of the raw score (kept so snapshots from before held-out-fold
    calibration still load and score)."""

    def fit(self, raw: np.ndarray, y: np.ndarray) -> _Sigmoid:
        self.lr_ = LogisticRegression(C=1e4).fit(_logit(raw)[:, None], y)
        return self

    def predict(self, raw: np.ndarray) -> np.ndarray:
        return self.lr_.predict_proba(_logit(raw)[:, None])[:, 1]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class LeadScorer(ClassifierMixin, BaseEstimator):
    """Calibrated lead scoring with a points fallback; see the module docstring."""

    def __init__(
        self,
        *,
        min_positives: int = 50,
        estimator: Estimator = "auto",
        calibration: Calibration = "auto",
        calibration_folds: int = 5,
        isotonic_from: int = 1000,
        calibration_share: float = 0.25,
        logistic_below: int = 200,
        max_iter: int = 150,
        learning_rate: float = 0.05,
        default_deal_value: float = 10_000.0,
        random_state: int = 0,
    ) -> None:
        self.min_positives = min_positives
        self.estimator = estimator
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.isotonic_from = isotonic_from
        self.calibration_share = calibration_share
        self.logistic_below = logistic_below
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.default_deal_value = default_deal_value
        self.random_state = random_state

    @classmethod
    def cold_start(cls, *, default_deal_value: float = 10_000.0) -> LeadScorer:
        """A scorer that serves the legacy points score: what runs before any model is live."""
        X = np.zeros((0, len(FEATURE_NAMES)))
        return cls(min_positives=2**31, default_deal_value=default_deal_value).fit(X, np.zeros(0, dtype=int))

    # ---- fitting --------------------------------------------------------------------------
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        value: np.ndarray | None = None,
        *,
        order: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        categorical: np.ndarray | None = None,
        feature_names: tuple[str, ...] = FEATURE_NAMES,
    ) -> LeadScorer:
        """Fit the classifier and its calibration on held-out folds.

        ``groups`` (e.g. contact ids of stacked cut-offs) keeps a group's rows in one fold;
        ``categorical`` is a boolean mask of columns holding category codes 0..k-1 (NaN =
        missing); ``order`` (e.g. the rows' cut-offs) picks the latest ``calibration_share``
        of rows as the reference population of the 0-100 score.
        """
        X = np.asarray(X, dtype=float)
        y = np.asarray(y).astype(int)
        if X.ndim != 2 or len(X) != len(y):
            raise DecisionError(f"X must be (n, d) with n = len(y); got {X.shape} and {y.shape}.")
        if X.shape[1] != len(feature_names):
            raise DecisionError(f"X has {X.shape[1]} columns but {len(feature_names)} feature names.")
        value = np.zeros(len(y)) if value is None else np.asarray(value, dtype=float)
        self.feature_names_ = tuple(feature_names)
        self.schema_version_ = FEATURE_SCHEMA_VERSION
        self.classes_ = np.array([0, 1])
        self.n_positives_ = int(y.sum())
        # Rows of one group (a contact at stacked cut-offs) share a fold, so the gate and the
        # fold count are in groups: one converting contact is one positive, however many rows.
        g = np.arange(len(y)) if groups is None else np.asarray(groups)
        self.n_positive_groups_ = len(np.unique(g[y == 1]))
        negative_groups = len(np.unique(g[y == 0]))
        # All-missing columns (e.g. no company size in the source) carry nothing and break
        # HistGradientBoosting's binning; they are dropped here and at scoring time.
        self.keep_ = ~np.all(np.isnan(X), axis=0)
        cat = np.zeros(X.shape[1], dtype=bool) if categorical is None else np.asarray(categorical, dtype=bool)
        if cat.shape != (X.shape[1],):
            raise DecisionError(f"categorical must be a mask of {X.shape[1]} columns; got shape {cat.shape}.")
        self.categorical_ = cat[self.keep_]
        self.deal_value_ = self._fit_value(X, y, value)
        folds = min(self.calibration_folds, self.n_positive_groups_, negative_groups)
        if self.n_positive_groups_ < self.min_positives or folds < 2:
            # too few to learn from, or to hold out: below 2 positive (or negative) groups some
            # fold would train on one class
            if not self._has_points():
                raise DecisionError(
                    f"only {self.n_positive_groups_} positives and {negative_groups} negatives (contacts when "
                    f"grouped; min_positives={self.min_positives}, held-out folds need 2 of each) and the "
                    "features lack the points-score columns, so there is no cold-start score."
                )
            self.source_ = "points"
            return self
        self.calibration_kind_ = self._calibration_kind()
        if groups is None:
            cv = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
            splits = list(cv.split(X, y))
        else:
            cv = StratifiedGroupKFold(folds, shuffle=True, random_state=self.random_state)
            splits = list(cv.split(X, y, np.asarray(groups)))
        self.kind_ = self._estimator_kind(X[:, self.keep_], y, splits)
        self.model_ = CalibratedClassifierCV(self._make_model(), method=self.calibration_kind_, cv=splits)
        self.model_.fit(X[:, self.keep_], y)
        self.calibrator_ = None  # the calibration lives inside model_ (older snapshots kept one here)
        idx = np.argsort(order, kind="stable") if order is not None else np.arange(len(y))
        recent = idx[len(y) - max(1, int(round(self.calibration_share * len(y)))) :]
        self.reference_ = np.sort(self.model_.predict_proba(X[recent][:, self.keep_])[:, 1])
        self.source_ = "model"
        return self

    def _has_points(self) -> bool:
        needed = {name for name, *_ in POINTS} | {"log_employees", "unsubscribe_90d", "email_opt_out"}
        return needed <= set(self.feature_names_)

    def _estimator_kind(self, X: np.ndarray, y: np.ndarray, splits: list) -> str:
        """The estimator asked for; under "auto", boosting from ``logistic_below`` positives, and
        below that whichever of logistic regression and boosting ranks the held-out folds better
        (small tables differ: boosting loses on a few noisy linear signals, wins on curves)."""
        if self.estimator != "auto":
            return self.estimator
        if self.n_positives_ >= self.logistic_below:
            return "hgb"
        auc = {}
        for kind in ("logistic", "hgb"):
            self.kind_ = kind
            raw = np.zeros(len(y))
            for train, held in splits:
                raw[held] = self._make_model().fit(X[train], y[train]).predict_proba(X[held])[:, 1]
            auc[kind] = roc_auc_score(y, raw)
        self.fold_auc_ = auc
        return "hgb" if auc["hgb"] > auc["logistic"] else "logistic"

    def _make_model(self):  # noqa: ANN202 - a scikit-learn classifier
        cat = self.categorical_
        if self.kind_ == "logistic":
            numeric = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
            onehot = make_pipeline(
                SimpleImputer(strategy="constant", fill_value=-1.0), OneHotEncoder(handle_unknown="ignore")
            )
            prep = ColumnTransformer([("num", numeric, ~cat), ("cat", onehot, cat)])
            return make_pipeline(prep, LogisticRegression(C=0.5, max_iter=2000))
        return HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            categorical_features=cat if cat.any() else None,
            early_stopping=False,
            random_state=self.random_state,
        )

    def _calibration_kind(self) -> str:
        if self.calibration != "auto":
            return self.calibration
        # Isotonic has one step per distinct level; with few positives per fold it overfits to them.
        return "isotonic" if self.n_positives_ >= self.isotonic_from else "sigmoid"

    def _fit_value(self, X: np.ndarray, y: np.ndarray, value: np.ndarray) -> float | HistGradientBoostingRegressor:
        """Deal value given an opportunity: a model of log value with enough deals, else the mean."""
        deals = (y == 1) & (value > 0)
        if deals.sum() < 200:
            return float(value[deals].mean()) if deals.any() else float(self.default_deal_value)
        reg = HistGradientBoostingRegressor(max_iter=100, min_samples_leaf=20, random_state=self.random_state)
        reg.fit(X[deals][:, self.keep_], np.log1p(value[deals]))
        # Smearing: exp(E[log v]) underestimates E[v]; rescale to the observed mean.
        self.value_smear_ = float(value[deals].mean() / np.expm1(reg.predict(X[deals][:, self.keep_])).mean())
        return reg

    # ---- scoring --------------------------------------------------------------------------
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, 2) probabilities of [no opportunity, opportunity] within the horizon."""
        p = self._probability(np.asarray(X, dtype=float))
        return np.column_stack([1 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def _probability(self, X: np.ndarray) -> np.ndarray:
        self._check(X)
        if self.source_ == "points":
            return points_probability(points_score(X, self.feature_names_))
        if getattr(self, "calibrator_", None) is None:
            p = self.model_.predict_proba(X[:, self.keep_])[:, 1]
        else:  # a snapshot from before held-out-fold calibration: classifier + separate calibrator
            p = np.clip(self.calibrator_.predict(self.model_.predict_proba(X[:, self.keep_])[:, 1]), 0.0, 1.0)
        offset = getattr(self, "offset_", 0.0)
        return p if offset == 0.0 else 1.0 / (1.0 + np.exp(-(_logit(p) + offset)))

    def with_base_rate(self, X: np.ndarray, rate: float) -> LeadScorer:
        """A copy whose probabilities on ``X`` average ``rate`` (prior-shift correction).

        The calibrator learned the base rate of the latest *fully labelled* window, which is at
        least one horizon old; when the rate moves (a market saturating, a season), every
        probability is off by the same odds ratio. Shifting the log-odds by one constant fixes
        the level and keeps the ranking. ``rate`` comes from recent, partly labelled data, e.g.
        :func:`decision.scoring.dataset.recent_rate`.

        Not applied by default: with the naive 30-day ``recent_rate`` it made Brier and ECE
        *worse* on both benchmarks (CDNOW's December spike, the sandbox's falling trend; see
        bench/scoring_quality.py). Use it only with a rate estimate you trust.
        """
        if self.source_ != "model":
            raise DecisionError("a base-rate shift applies to a fitted model, not to the points score.")
        if not 0.0 < rate < 1.0:
            raise DecisionError(f"rate must be in (0, 1); got {rate}.")
        new = copy.copy(self)
        new.offset_ = 0.0
        z = _logit(new._probability(np.asarray(X, dtype=float)))
        lo, hi = -10.0, 10.0
        for _ in range(60):  # bisection: the mean is monotone in the shift
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if np.mean(1 / (1 + np.exp(-(z + mid)))) < rate else (lo, mid)
        new.offset_ = (lo + hi) / 2
        return new

    def expected_deal_value(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if isinstance(self.deal_value_, float):
            return np.full(len(X), self.deal_value_)
        return np.expm1(self.deal_value_.predict(X[:, self.keep_])) * self.value_smear_

    def score_many(self, X: np.ndarray) -> LeadScores:
        """Score, probability and expected value for every row of a feature matrix."""
        X = np.asarray(X, dtype=float)
        p = self._probability(X)
        if self.source_ == "points":
            score = np.rint(points_score(X, self.feature_names_)).astype(int)
        else:
            score = np.rint(100 * np.searchsorted(self.reference_, p, side="right") / len(self.reference_))
            score = score.astype(int)
        return LeadScores(np.clip(score, 0, 100), p, p * self.expected_deal_value(X), self.source_)

    def score_one(self, x: np.ndarray) -> tuple[int, float, float]:
        """(score, probability, expected value) of one feature vector."""
        s = self.score_many(np.asarray(x, dtype=float).reshape(1, -1))
        return int(s.score[0]), float(s.probability[0]), float(s.expected_value[0])

    def _check(self, X: np.ndarray) -> None:
        if not hasattr(self, "source_"):
            raise DecisionError("the lead scorer is not fitted; call fit() first.")
        if X.ndim != 2 or X.shape[1] != len(self.feature_names_):
            raise DecisionError(
                f"expected {len(self.feature_names_)} features (schema v{self.schema_version_}); got shape {X.shape}."
            )

    # ---- persistence ----------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Pickle, the scikit-learn way; only ever loaded back from our own store."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_bytes(blob: bytes) -> LeadScorer:
        model = pickle.loads(blob)  # noqa: S301 - our own snapshots only
        if not isinstance(model, LeadScorer):
            raise DecisionError(f"snapshot holds a {type(model).__name__}, not a LeadScorer.")
        return model
