"""Off-policy estimators on simulated logs where the true value is known."""

import numpy as np
import pytest

from decision.offpolicy import bootstrap_ratio, doubly_robust, evaluate, ips, snips
from hub.errors import DecisionError

K = 4


def _mu(X):
    """(n, K) click probability per action."""
    W = np.array([[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [-0.3, -0.3, 0.0]])
    return 1 / (1 + np.exp(-(X @ W.T)))


def _world(n, seed):
    """Logs from a softmax logger; a target that prefers the truly best action per row."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    mu = _mu(X)
    logits = rng.normal(size=(n, K))
    logger = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    a = (logger.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    r = (rng.random(n) < mu[np.arange(n), a]).astype(float)
    target = 0.1 / K + 0.9 * np.eye(K)[mu.argmax(axis=1)]
    truth = (target * mu).sum(axis=1).mean()
    return X, a, r, logger[np.arange(n), a], target, truth, logger


def test_logging_policy_on_its_own_log_is_the_empirical_mean():
    X, a, r, p, _, _, logger = _world(3000, 0)
    est = ips(a, r, p, logger)
    assert est.value == pytest.approx(r.mean())
    assert est.ess == pytest.approx(len(a))
    assert est.low < r.mean() < est.high


def test_intervals_cover_the_truth_most_of_the_time():
    hits = {"ips": 0, "snips": 0, "dr": 0}
    reps = 30
    for seed in range(reps):
        X, a, r, p, target, truth, _ = _world(2000, seed)
        for name, est in evaluate(X, a, r, p, target, n_bootstrap=300, seed=seed).items():
            hits[name] += est.covers(truth)
    for name, h in hits.items():
        assert h / reps >= 0.8, f"{name} covered the truth in only {h}/{reps} runs"


def test_doubly_robust_with_good_model_is_tighter_than_ips():
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, a, r, p, target, truth, _ = _world(6000, 1)
    i = ips(a, r, p, target)
    d = doubly_robust(X, a, r, p, target, reward_model=HistGradientBoostingRegressor(max_iter=50))
    assert d.se < i.se
    assert abs(d.value - truth) < 4 * d.se


def test_bootstrap_replicates_centre_on_the_estimate():
    rng = np.random.default_rng(0)
    num = rng.normal(size=5000)
    reps = bootstrap_ratio(num, None, 400, seed=1)
    assert abs(reps.mean() - num.mean()) < 3 * num.std() / np.sqrt(5000) / np.sqrt(400) + 1e-3
    assert reps.std() == pytest.approx(num.std() / np.sqrt(5000), rel=0.15)


def test_snips_is_bounded_by_the_reward_range():
    X, a, r, p, target, _, _ = _world(500, 3)
    est = snips(a, r, p * 0.01, target)  # absurd weights: IPS explodes, SNIPS stays in [0, 1]
    assert 0 <= est.value <= 1
    assert ips(a, r, p * 0.01, target).value > 1


def test_bad_logs_are_rejected():
    a = np.array([0, 1])
    with pytest.raises(DecisionError, match="propensities"):
        ips(a, [1.0, 0.0], [0.0, 0.5], np.full((2, 2), 0.5))
    with pytest.raises(DecisionError, match="distribution"):
        ips(a, [1.0, 0.0], [0.5, 0.5], np.ones((2, 2)))
    with pytest.raises(DecisionError, match="integers"):
        ips(np.array([0, 2]), [1.0, 0.0], [0.5, 0.5], np.full((2, 2), 0.5))


def test_paired_difference_detects_a_better_policy():
    from decision.offpolicy import dr_terms, paired_difference, reward_predictions

    X, a, r, p, target, truth, logger = _world(4000, 5)
    q = reward_predictions(X, a, r, K)
    uniform = np.full_like(target, 1 / K)
    diff = paired_difference(dr_terms(a, r, p, target, q), dr_terms(a, r, p, uniform, q))
    true_gap = truth - _mu(X).mean()
    assert diff.low > 0, "the informed target should beat uniform"
    assert diff.covers(true_gap)
    separate = doubly_robust(X, a, r, p, target, q=q)
    assert diff.high - diff.low < separate.high - separate.low  # pairing tightens the interval
