"""The pooled opt-out model: it learns each channel's unsubscribe chance, and the rewards it
smooths keep their mean while losing most of their noise."""

from __future__ import annotations

import numpy as np

from decision.risk import OptOutRisk, channel_groups

WEIGHT = -30.0


def market(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of (touches this week, group, unsubscribed, reward): unsubscribes on channel 0 rise
    steeply with the touches, channel 1 has a flat low rate."""
    rng = np.random.default_rng(seed)
    touches = rng.integers(0, 3, n).astype(float)
    groups = rng.integers(0, 2, n)
    p = np.where(groups == 0, 0.01 + 0.05 * touches**2, 0.004)
    unsub = (rng.random(n) < p).astype(float)
    reward = rng.normal(0.5, 0.2, n) + WEIGHT * unsub
    return touches[:, None], groups, unsub, reward


def true_p(touches: np.ndarray, groups: np.ndarray) -> np.ndarray:
    return np.where(groups == 0, 0.01 + 0.05 * touches**2, 0.004)


def test_learns_each_channels_chance_of_an_unsubscribe():
    X, g, unsub, _ = market(40_000)
    risk = OptOutRisk(2, squared_features=True)
    risk.learn(X, g, unsub)
    grid = np.array([[0.0], [1.0], [2.0], [0.0], [2.0]])
    groups = np.array([0, 0, 0, 1, 1])
    assert np.allclose(risk.probability(grid, groups), true_p(grid[:, 0], groups), atol=0.01)


def test_smoothed_rewards_keep_their_mean_and_lose_most_of_their_noise():
    X, g, unsub, reward = market(40_000)
    risk = OptOutRisk(2, squared_features=True)
    risk.learn(X, g, unsub)
    X2, g2, unsub2, reward2 = market(40_000, seed=1)
    smooth = risk.smooth(X2, g2, reward2, WEIGHT * unsub2, WEIGHT)
    for touches in (0.0, 1.0, 2.0):
        rows = (X2[:, 0] == touches) & (g2 == 0)
        expected = 0.5 + WEIGHT * true_p(np.array([touches]), np.array([0]))[0]
        assert abs(smooth[rows].mean() - expected) < 0.5  # 3 sd of the chance's sampling error x 30
    expected = 0.5 + WEIGHT * true_p(X2[:, 0], g2)
    assert (smooth - expected).var() < 0.1 * (reward2 - expected).var()


def test_a_rows_own_outcome_never_reaches_its_smoothed_reward():
    risk = OptOutRisk(1)
    X = np.zeros((2, 1))
    g = np.array([0, 0])
    rewards, points = np.array([-29.0, 1.0]), np.array([WEIGHT, 0.0])
    first = risk.smooth(X, g, rewards, points, WEIGHT)
    assert first.tolist() == [-29.0, 1.0]  # nothing learned yet: passed unchanged, then learned
    before = risk.probability(X, g)
    assert 0 < before[0] < 1
    trust = risk.trust(X, g, before)
    assert (trust > 0).all()
    # the next batch is smoothed with the chance learned before it, not with its own outcome
    out = risk.smooth(X, g, rewards, points, WEIGHT)
    assert np.allclose(out, rewards - trust * points + trust * WEIGHT * before)


def wide_market(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``market`` with 20 more features that do not matter: a design a few hundred rows can't pin."""
    X, g, unsub, reward = market(n, seed)
    noise = np.random.default_rng(seed + 100).normal(size=(n, 20))
    return np.hstack([X, noise]), g, unsub, reward


def test_the_model_is_trusted_as_its_evidence_grows_and_less_on_unfamiliar_rows():
    X2, g2, unsub2, reward2 = wide_market(2_000, seed=1)
    trust_by_rows = {}
    for n in (200, 20_000):
        X, g, unsub, _ = wide_market(n)
        risk = OptOutRisk(2)
        risk.learn(X, g, unsub)
        trust_by_rows[n] = risk.trust(X2, g2, risk.probability(X2, g2))
    young, grown = trust_by_rows[200], trust_by_rows[20_000]
    assert young.mean() < 0.5 < 0.9 < grown.mean()
    assert (grown > young).mean() > 0.99
    # a row far from every row the grown model learned on is trusted less than a typical one
    odd = X2[:1].copy()
    odd[0, 1:] = 8.0
    assert risk.trust(odd, g2[:1], risk.probability(odd, g2[:1]))[0] < 0.5 * np.median(grown)


def test_a_young_model_leans_on_the_realized_outcome():
    X, g, unsub, _ = wide_market(200)
    risk = OptOutRisk(2)
    risk.learn(X, g, unsub)
    X2, g2, unsub2, reward2 = wide_market(400, seed=1)
    trust = risk.trust(X2, g2, risk.probability(X2, g2))
    smooth = risk.smooth(X2, g2, reward2, WEIGHT * unsub2, WEIGHT)
    # about 100 touches behind channel 1's 22 weights, and its outcome (0.4%) barely varies
    assert trust[g2 == 1].mean() < 0.3
    assert (np.abs(smooth - reward2) <= trust * 30 + 1e-9).all()
    assert np.abs(smooth - reward2)[g2 == 1].mean() < 0.3 * 30 * 0.01


def test_rows_without_a_channel_and_a_zero_weight_leave_rewards_alone():
    X, g, unsub, reward = market(2_000)
    risk = OptOutRisk(2)
    risk.learn(X, g, unsub)
    none = np.full(len(g), -1)
    assert np.array_equal(risk.smooth(X, none, reward, WEIGHT * unsub, WEIGHT), reward)
    assert np.array_equal(risk.smooth(X, g, reward, 0.0 * unsub, 0.0), reward)
    assert not risk.probability(X, none).any()


def test_channel_groups_index_the_distinct_channels_and_skip_wait():
    groups, names = channel_groups(["email", "phone", "email", None, "none", "ads"])
    assert names == ("ads", "email", "phone")
    assert groups.tolist() == [1, 2, 1, -1, -1, 0]
