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
    risk = OptOutRisk(2, squared_features=True, min_rows=2_000)
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
    risk = OptOutRisk(1, min_rows=0)  # trust the model fully once it has learned anything
    X = np.zeros((2, 1))
    first = risk.smooth(X, np.array([0, 0]), np.array([-29.0, 1.0]), np.array([WEIGHT, 0.0]), WEIGHT)
    assert first.tolist() == [-29.0, 1.0]  # nothing learned yet: passed unchanged, then learned
    before = risk.probability(X[:1], np.array([0]))[0]
    assert 0 < before < 1
    # the next batch is smoothed with the chance learned before it, not with its own outcome
    out = risk.smooth(X, np.array([0, 0]), np.array([-29.0, 1.0]), np.array([WEIGHT, 0.0]), WEIGHT)
    assert np.allclose(out, [1.0 + WEIGHT * before, 1.0 + WEIGHT * before])


def test_a_young_model_leans_on_the_realized_outcome():
    X, g, unsub, reward = market(400)
    risk = OptOutRisk(2, min_rows=2_000)
    risk.learn(X, g, unsub)
    X2, g2, unsub2, reward2 = market(400, seed=1)
    smooth = risk.smooth(X2, g2, reward2, WEIGHT * unsub2, WEIGHT)
    trust = 200 / 2_200  # about 200 touches per channel so far
    assert np.corrcoef(smooth, reward2)[0, 1] > 0.95
    assert np.abs(smooth - reward2).max() <= 1.1 * trust * 30 + 1e-9


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
