"""Monitoring: alerts fire on injected drift and degradation, and stay quiet otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from decision.monitoring import Thresholds, check, exploration_share, feature_drift, psi, rates_by

NAMES = ("visits", "employees", "opens")


def window(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.poisson(3, n), rng.lognormal(4, 1, n), rng.normal(size=n)]).astype(float)
    X[:, 0] += shift
    return X


def test_no_alert_on_a_stable_population():
    assert check(train_X=window(5000, 0), recent_X=window(3000, 1), feature_names=NAMES) == []


def test_an_alert_fires_on_injected_drift_in_one_feature_only():
    alerts = check(train_X=window(5000, 0), recent_X=window(3000, 1, shift=3.0), feature_names=NAMES)
    assert [(a.kind, a.subject, a.severity) for a in alerts] == [("drift", "visits", "critical")]
    assert alerts[0].value > 0.25


def test_missing_values_appearing_count_as_drift():
    train, recent = window(5000, 0), window(3000, 1)
    recent[: len(recent) // 3, 1] = np.nan
    assert feature_drift(train, recent, NAMES)["employees"] > 0.25
    assert psi(train[:, 2], recent[:, 2]) < 0.05


def test_quality_alerts_on_a_model_that_stopped_ranking_or_calibrating():
    rng = np.random.default_rng(0)
    p_true = rng.uniform(0.0, 0.4, 4000)
    y = (rng.random(4000) < p_true).astype(int)
    assert check(y_recent=y, p_recent=p_true, trained_brier=float(np.mean((p_true - y) ** 2))) == []
    noise = rng.uniform(0, 0.4, 4000)  # ranks at random
    kinds = {a.kind for a in check(y_recent=y, p_recent=noise, trained_brier=0.1)}
    assert "auc" in kinds
    inflated = np.clip(p_true + 0.3, 0, 1)  # ranks well, calibrated badly
    kinds = {a.kind for a in check(y_recent=y, p_recent=inflated, trained_brier=0.15)}
    assert {"calibration", "brier"} <= kinds and "auc" not in kinds


def test_reward_rate_and_exploration_alerts():
    keys = np.array(["email"] * 500 + ["demo"] * 500)
    rewards = np.r_[np.full(500, 0.10), np.full(500, 0.01)]
    assert rates_by(keys, rewards)["demo"] == (pytest.approx(0.01), 500)
    alerts = check(reward_keys=keys, rewards=rewards, reference_rates={"email": 0.1, "demo": 0.05})
    assert [(a.kind, a.subject) for a in alerts] == [("reward_rate", "demo")]
    greedy = np.ones(1000)
    assert exploration_share(greedy) == 0.0
    assert [a.kind for a in check(propensities=greedy)] == ["exploration_low"]
    assert [a.kind for a in check(propensities=np.full(1000, 0.5))] == ["exploration_high"]
    assert check(propensities=np.r_[np.full(900, 1.0), np.full(100, 0.3)]) == []
    assert check(propensities=greedy, thresholds=Thresholds(min_exploration=0.0)) == []
