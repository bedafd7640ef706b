"""Lead scoring: calibrated opportunity probability, expected deal value, a model registry.

- :mod:`decision.scoring.dataset`: training sets from contacts and activities (time split).
- :mod:`decision.scoring.model`: :class:`LeadScorer` (model or legacy points under cold start).
- :mod:`decision.scoring.metrics`: ROC/PR AUC, Brier, ECE, top-decile lift.
- :mod:`decision.scoring.registry`: versions with metrics in the store; guarded promotion.
"""

from decision.scoring.dataset import (
    FEATURE_NAMES,
    FEATURE_SCHEMA_VERSION,
    TrainingSet,
    build_rolling,
    build_training_set,
    features_at,
    time_split,
)
from decision.scoring.metrics import ScoreMetrics, score_metrics
from decision.scoring.model import LeadScorer, LeadScores
from decision.scoring.points import points_probability, points_score

__all__ = [
    "FEATURE_NAMES",
    "FEATURE_SCHEMA_VERSION",
    "LeadScorer",
    "LeadScores",
    "ScoreMetrics",
    "TrainingSet",
    "build_rolling",
    "build_training_set",
    "features_at",
    "points_probability",
    "points_score",
    "score_metrics",
    "time_split",
]
