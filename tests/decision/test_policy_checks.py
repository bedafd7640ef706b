"""Run the shared invariant suite over every policy."""

import pytest
from sklearn.linear_model import SGDRegressor

from decision.checks import CHECKS, K
from decision.policies import (
    Apprentice,
    BetaBernoulli,
    EpsilonGreedy,
    LinearThompson,
    LinUCB,
    SharedLinearThompson,
    Softmax,
)

POLICIES = {
    "linear_ts": lambda: LinearThompson(n_actions=K, prior_variance=4.0, noise_variance=0.25, seed=0),
    "linucb": lambda: LinUCB(n_actions=K, alpha=0.5, seed=0),
    "shared_ts_onehot": lambda: SharedLinearThompson(n_actions=K, noise_variance=0.25, seed=0),
    "shared_ts_features": lambda: SharedLinearThompson(
        n_actions=K,
        action_features=[[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.5, 0.5]],
        noise_variance=0.25,
        seed=0,
    ),
    "eps_greedy_ridge": lambda: EpsilonGreedy(n_actions=K, epsilon=0.1, seed=0),
    "eps_greedy_sgd": lambda: EpsilonGreedy(
        n_actions=K,
        estimator=SGDRegressor(learning_rate="constant", eta0=0.05, random_state=0),
        epsilon=0.1,
        seed=0,
    ),
    "softmax_ridge": lambda: Softmax(n_actions=K, temperature=0.05, seed=0),
    "beta_bernoulli": lambda: BetaBernoulli(n_actions=K, seed=0),
    "apprentice_ts": lambda: Apprentice(LinearThompson(n_actions=K, noise_variance=0.25, seed=0), min_observations=5),
}


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", list(POLICIES))
def test_invariants(name, check):
    check(POLICIES[name]())
