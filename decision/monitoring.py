"""Monitoring: is the world still the one the model learned, and is the model still good?

Four checks, each a pure function over arrays, and one :func:`check` that turns them into
:class:`Alert` objects against :class:`Thresholds`:

- **Feature drift**: population stability index (PSI) per feature between the training
  window and recent rows, on the training window's quantile bins (the usual reading: < 0.1
  stable, 0.1-0.25 moderate, > 0.25 shifted).
- **Model quality** on recently labelled contacts: ROC AUC, Brier, calibration error, via
  :func:`decision.scoring.metrics.score_metrics` (an AUC near 0.5 is Pega's "AUC = 50" alert).
- **Reward rate** per action and per segment, so a collapsing action or segment is visible.
- **Exploration share**: the fraction of decisions not taken greedily (propensity < 1 or a
  flagged exploratory draw); too little and learning stalls, too much and it costs revenue.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> round(psi(rng.normal(size=5000), rng.normal(size=5000)), 2) < 0.02
True
>>> psi(rng.normal(size=5000), rng.normal(1.0, 1.0, size=5000)) > 0.25
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from decision.scoring.metrics import ScoreMetrics, score_metrics


@dataclass(frozen=True)
class Alert:
    """One threshold crossed. ``subject`` is the feature, action or segment concerned."""

    kind: str  # drift, auc, brier, calibration, reward_rate, exploration_low, exploration_high
    subject: str
    value: float
    threshold: float
    severity: str  # "warning" or "critical"
    message: str


@dataclass(frozen=True)
class Thresholds:
    psi_warning: float = 0.1
    psi_critical: float = 0.25
    min_auc: float = 0.6
    max_brier_increase: float = 0.02  # over the model's Brier at training time
    max_ece: float = 0.05
    min_reward_ratio: float = 0.5  # an action/segment's rate below half its reference rate
    min_rows: int = 100  # below this, quality and reward checks stay silent
    min_exploration: float = 0.02
    max_exploration: float = 0.3


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of ``actual`` against ``expected`` (the training window).

    Bins are the expected sample's quantiles (distinct edges only), so a feature with many
    ties (counts that are mostly zero) gets fewer, still meaningful bins. Missing values form
    their own bin, since "suddenly missing" is drift too.
    """
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e_nan, a_nan = np.isnan(e), np.isnan(a)
    e_ok, a_ok = e[~e_nan], a[~a_nan]
    edges = np.unique(np.quantile(e_ok, np.linspace(0, 1, bins + 1)[1:-1])) if len(e_ok) else np.zeros(0)
    e_counts = np.append(np.bincount(np.searchsorted(edges, e_ok, side="right"), minlength=len(edges) + 1), e_nan.sum())
    a_counts = np.append(np.bincount(np.searchsorted(edges, a_ok, side="right"), minlength=len(edges) + 1), a_nan.sum())
    pe = np.maximum(e_counts / max(len(e), 1), eps)
    pa = np.maximum(a_counts / max(len(a), 1), eps)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def discrete_psi(expected: np.ndarray, actual: np.ndarray, eps: float = 1e-4) -> float:
    """PSI with one bin per value the expected sample holds, plus one for any other value: for
    indicator and one-hot columns, where quantile bins of a constant column cannot see a value
    the training rows never had (a new level arriving is the drift worth seeing).

    >>> round(discrete_psi(np.zeros(100), np.r_[np.zeros(50), np.ones(50)]), 1)
    4.6
    """
    e, a = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    values = np.unique(e)
    e_counts = np.append((e[:, None] == values).sum(axis=0), 0)
    a_hit = a[:, None] == values
    a_counts = np.append(a_hit.sum(axis=0), (~a_hit.any(axis=1)).sum())
    pe = np.maximum(e_counts / max(len(e), 1), eps)
    pa = np.maximum(a_counts / max(len(a), 1), eps)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def drift_alerts(drift: dict[str, float], thresholds: Thresholds | None = None) -> list[Alert]:
    """Alerts for PSI values computed elsewhere (e.g. :func:`discrete_psi` per column)."""
    return _drift_alerts(drift, thresholds or Thresholds())


def feature_drift(train: np.ndarray, recent: np.ndarray, names: Sequence[str], bins: int = 10) -> dict[str, float]:
    """PSI per feature column."""
    train, recent = np.asarray(train, dtype=float), np.asarray(recent, dtype=float)
    return {name: psi(train[:, j], recent[:, j], bins) for j, name in enumerate(names)}


def rates_by(keys: Sequence[str] | np.ndarray, rewards: np.ndarray) -> dict[str, tuple[float, int]]:
    """Mean reward and count per key (action id, segment...)."""
    k = np.asarray(keys).astype(str)
    r = np.asarray(rewards, dtype=float)
    uniq, inv = np.unique(k, return_inverse=True)
    n = np.bincount(inv, minlength=len(uniq))
    s = np.bincount(inv, weights=r, minlength=len(uniq))
    return {str(u): (float(s[i] / n[i]), int(n[i])) for i, u in enumerate(uniq)}


def exploration_share(propensities: np.ndarray, explored: np.ndarray | None = None) -> float:
    """Share of decisions that explored: flagged, or else taken with propensity below one."""
    p = np.asarray(propensities, dtype=float)
    if len(p) == 0:
        return float("nan")
    flags = np.asarray(explored, dtype=bool) if explored is not None else p < 1 - 1e-9
    return float(flags.mean())


def check(
    *,
    thresholds: Thresholds | None = None,
    train_X: np.ndarray | None = None,
    recent_X: np.ndarray | None = None,
    feature_names: Sequence[str] = (),
    y_recent: np.ndarray | None = None,
    p_recent: np.ndarray | None = None,
    trained_brier: float | None = None,
    reward_keys: np.ndarray | None = None,
    rewards: np.ndarray | None = None,
    reference_rates: dict[str, float] | None = None,
    propensities: np.ndarray | None = None,
    explored: np.ndarray | None = None,
) -> list[Alert]:
    """Run every check whose inputs are given; returns the alerts, most severe first."""
    t = thresholds or Thresholds()
    alerts: list[Alert] = []
    if train_X is not None and recent_X is not None:
        alerts += _drift_alerts(feature_drift(train_X, recent_X, feature_names), t)
    if y_recent is not None and p_recent is not None and len(y_recent) >= t.min_rows:
        alerts += _quality_alerts(score_metrics(y_recent, p_recent), trained_brier, t)
    if reward_keys is not None and rewards is not None and reference_rates:
        for key, (rate, n) in rates_by(reward_keys, rewards).items():
            ref = reference_rates.get(key)
            if ref and n >= t.min_rows and rate < t.min_reward_ratio * ref:
                alerts.append(
                    Alert(
                        "reward_rate",
                        key,
                        rate,
                        t.min_reward_ratio * ref,
                        "warning",
                        f"reward rate of {key} fell to {rate:.4f} from {ref:.4f} over {n} decisions",
                    )
                )
    if propensities is not None and len(propensities) >= t.min_rows:
        share = exploration_share(propensities, explored)
        if share < t.min_exploration:
            alerts.append(
                Alert(
                    "exploration_low",
                    "policy",
                    share,
                    t.min_exploration,
                    "warning",
                    f"only {share:.1%} of decisions explore; the policy cannot learn about other actions",
                )
            )
        elif share > t.max_exploration:
            alerts.append(
                Alert(
                    "exploration_high",
                    "policy",
                    share,
                    t.max_exploration,
                    "warning",
                    f"{share:.1%} of decisions explore; exploration is costing more than planned",
                )
            )
    return sorted(alerts, key=lambda a: (a.severity != "critical", a.kind, a.subject))


def _drift_alerts(drift: dict[str, float], t: Thresholds) -> list[Alert]:
    out = []
    for name, value in drift.items():
        if value >= t.psi_warning:
            critical = value >= t.psi_critical
            limit = t.psi_critical if critical else t.psi_warning
            out.append(
                Alert(
                    "drift",
                    name,
                    value,
                    limit,
                    "critical" if critical else "warning",
                    f"feature {name} drifted: PSI {value:.3f} (>= {limit})",
                )
            )
    return out


def _quality_alerts(m: ScoreMetrics, trained_brier: float | None, t: Thresholds) -> list[Alert]:
    out = []
    if not math.isnan(m.roc_auc) and m.roc_auc < t.min_auc:
        out.append(
            Alert(
                "auc",
                "model",
                m.roc_auc,
                t.min_auc,
                "critical",
                f"ROC AUC on {m.n} recently labelled contacts is {m.roc_auc:.3f}",
            )
        )
    if trained_brier is not None and m.brier > trained_brier + t.max_brier_increase:
        out.append(
            Alert(
                "brier",
                "model",
                m.brier,
                trained_brier + t.max_brier_increase,
                "warning",
                f"Brier score rose to {m.brier:.4f} from {trained_brier:.4f} at training",
            )
        )
    if not math.isnan(m.ece) and m.ece > t.max_ece:
        out.append(
            Alert(
                "calibration",
                "model",
                m.ece,
                t.max_ece,
                "warning",
                f"calibration error {m.ece:.3f}: predicted probabilities no longer match outcomes",
            )
        )
    return out
