"""A real-time row's shortcuts in the policies and the long-term value compute what their
definitions compute, bit for bit, and their per-state caches follow the state."""

from __future__ import annotations

import numpy as np
import pytest

from decision.long_term import reranked_draws, route
from decision.policies import BetaBernoulli, LinearThompson
from decision.policies.base import row_win_counts


def test_one_pass_over_both_blocks_counts_each_masks_argmax_wins():
    """Block j of the draws is scored under mask j in float32 and won by the first largest,
    ties and a NaN mean included (argmax takes the first NaN)."""
    rng = np.random.default_rng(3)
    k, m = 7, 100
    mean, sd = rng.normal(size=k), rng.random(k)
    mean[2], sd[1:3] = mean[1], 0.0  # a tied pair
    masks = rng.random((2, k)) < 0.7
    masks[:, 1:3] = True
    z = rng.standard_normal((2 * m, k), dtype=np.float32)
    for mean_j in (mean, np.where(np.arange(k) == 4, np.nan, mean)):
        got = row_win_counts(mean_j, sd, z, masks)
        for j in range(2):
            base = np.where(masks[j], mean_j, -np.inf).astype(np.float32)
            scores = z[j * m : (j + 1) * m] * sd.astype(np.float32) + base
            np.testing.assert_array_equal(got[j], np.bincount(scores.argmax(axis=1), minlength=k))


@pytest.mark.parametrize("squared", [False, True, [0, 3]])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("n", [1, 6])
def test_the_design_gathered_at_once_is_the_stacked_design(squared, intercept, n):
    X = np.random.default_rng(5).normal(size=(n, 5))
    p = LinearThompson(n_actions=2, squared_features=squared, fit_intercept=intercept)
    p._check_X(X)
    cols = np.arange(5) if squared is True else np.asarray(squared or [], dtype=int)
    parts = [X, X[:, cols] ** 2] + ([np.ones((n, 1))] if intercept else [])
    np.testing.assert_array_equal(p._design_of(X), np.hstack(parts))


def test_beta_pairs_follow_learning_and_loading():
    """thompson_one reads each action's (alpha, beta) kept per state: learning, loading and an
    in-place update of the state drop them."""
    p = BetaBernoulli(n_actions=3, seed=1)
    p.thompson_one()  # kept for the prior
    p.learn_many(np.zeros((30, 0)), np.arange(30) % 3, (np.arange(30) % 3 == 2).astype(float))
    assert p._pairs() == tuple(zip(p.alpha_.tolist(), p.beta_.tolist(), strict=True))
    q = BetaBernoulli.from_state(p.state_dict())
    assert [p.thompson_one() for _ in range(20)] == [q.thompson_one() for _ in range(20)]
    p.alpha_ += 5.0
    assert p._pairs()[0][0] == float(p.alpha_[0])


def test_a_row_holding_both_infinities_reranks_and_routes_as_in_a_batch():
    """The one-row rerank tests a NaN score by the row's sum, which is also NaN when it holds
    both infinities: such a row takes numpy's path, and the answer is its row in a batch."""
    short = np.array([[np.inf, 1.0, -np.inf, 0.5], [0.2, 0.1, 0.3, 0.0]])
    long_term = np.array([[-1.0, 2.0, 0.5, -3.0], [-0.5, 0.2, -0.1, 0.0]])
    mask = np.array([[True, True, True, False], [True, True, True, True]])
    final = reranked_draws(short, long_term, mask, 0.3)
    probs = np.array([[0.4, 0.3, 0.3, 0.0], [0.1, 0.2, 0.3, 0.4]])
    for i in range(2):
        r = slice(i, i + 1)
        np.testing.assert_array_equal(reranked_draws(short[r], long_term[r], mask[r], 0.3), final[r])
        np.testing.assert_array_equal(route(probs[r], final[r]), route(probs, final)[r])
