"""Quality figures of a probability model, shared by the registry, monitoring and benches.

Ranking alone (ROC AUC) is not enough for a lead score: sales reads the number as a
probability and the expected value multiplies it by a deal size, so calibration (Brier,
expected calibration error) and the business view (top-decile lift) are kept beside it.

>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.2, 0.8, 0.9])
>>> m = score_metrics(y, p)
>>> m.roc_auc, round(m.brier, 3)
(1.0, 0.025)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

# Which direction is better, so promotion and alerts never get the sign wrong.
HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "brier": False, "ece": False, "top_decile_lift": True}


@dataclass(frozen=True)
class ScoreMetrics:
    """Metrics of predicted probabilities ``p`` against outcomes ``y`` on one window."""

    n: int
    positives: int
    base_rate: float
    roc_auc: float
    pr_auc: float
    brier: float
    ece: float
    top_decile_lift: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10, bins: str = "quantile") -> float:
    """Weighted mean |observed rate - mean prediction| over bins of ``p``.

    ``bins="quantile"`` (equal-count, the registry's and monitoring's choice, because lead
    probabilities pile up near zero and equal-width bins would put nearly everything in the
    first one) or ``"uniform"`` (``n_bins`` equal-width bins on [0, 1], the textbook ECE that
    ``hub score evaluate`` reports so its figure compares with published ones).

    >>> round(expected_calibration_error(np.array([0, 1, 1, 1]), np.array([0.1, 0.9, 0.9, 0.7]), bins="uniform"), 3)
    0.15
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if len(y) == 0:
        return float("nan")
    if bins == "uniform":
        idx = np.minimum((p * n_bins).astype(int), n_bins - 1)
        count = np.bincount(idx, minlength=n_bins)
        gap = np.abs(np.bincount(idx, weights=y, minlength=n_bins) - np.bincount(idx, weights=p, minlength=n_bins))
        return float(gap.sum() / len(y)) if count.sum() else float("nan")
    if bins != "quantile":
        raise ValueError(f"bins must be 'quantile' or 'uniform'; got {bins!r}")
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, min(n_bins, len(y)))
    return float(sum(len(b) * abs(y[b].mean() - p[b].mean()) for b in groups if len(b)) / len(y))


def top_decile_lift(y: np.ndarray, p: np.ndarray, share: float = 0.1) -> float:
    """Positive rate among the top ``share`` by score over the overall positive rate."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if len(y) == 0 or y.mean() == 0:
        return float("nan")
    k = max(1, int(round(share * len(y))))
    top = np.argsort(-p, kind="stable")[:k]
    return float(y[top].mean() / y.mean())


def score_metrics(y: np.ndarray, p: np.ndarray, n_bins: int = 10, bins: str = "quantile") -> ScoreMetrics:
    """All metrics at once; AUCs are NaN when the window has a single class; ``bins`` as in
    :func:`expected_calibration_error`."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    both = 0 < y.sum() < len(y)
    return ScoreMetrics(
        n=len(y),
        positives=int(y.sum()),
        base_rate=float(y.mean()) if len(y) else float("nan"),
        roc_auc=float(roc_auc_score(y, p)) if both else float("nan"),
        pr_auc=float(average_precision_score(y, p)) if both else float("nan"),
        brier=float(np.mean((p - y) ** 2)) if len(y) else float("nan"),
        ece=expected_calibration_error(y, p, n_bins, bins),
        top_decile_lift=top_decile_lift(y, p),
    )
