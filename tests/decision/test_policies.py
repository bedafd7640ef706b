"""Behaviour of individual policies beyond the shared invariants."""

import numpy as np
import pytest

from decision.checks import (
    check_chosen_action_eligible,
    check_inputs_not_mutated,
    check_propensities,
)
from decision.policies import (
    Apprentice,
    BetaBernoulli,
    EpsilonGreedy,
    LinearThompson,
    LinUCB,
    SharedLinearThompson,
    Softmax,
)
from decision.policies.base import Policy
from hub.errors import DecisionError


def _contextual(n, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(k, d))
    X = rng.normal(size=(n, d))
    return X, W, rng


class _AlwaysFirst(EpsilonGreedy):
    """Broken on purpose: ignores the mask."""

    def _choose(self, X, mask):
        return np.zeros(len(X), dtype=int), np.ones(len(X))


class _Mutating(EpsilonGreedy):
    """Broken on purpose: writes into the caller's array."""

    def _check_X(self, X):
        if isinstance(X, np.ndarray):
            X[:, 0] = 0.0
        return super()._check_X(X)


def test_suite_catches_broken_policies():
    with pytest.raises(AssertionError, match="not eligible"):
        check_chosen_action_eligible(_AlwaysFirst(n_actions=4, seed=0))
    with pytest.raises(AssertionError):
        check_propensities(_AlwaysFirst(n_actions=4, seed=0))
    with pytest.raises(AssertionError, match="modified"):
        check_inputs_not_mutated(_Mutating(n_actions=4, seed=0))


@pytest.mark.parametrize("cls", [LinearThompson, LinUCB])
def test_learn_one_matches_learn_many(cls):
    X, W, rng = _contextual(60)
    a = rng.integers(0, 3, 60)
    r = np.einsum("nd,nd->n", X, W[a])
    batch = cls(n_actions=3, seed=0).learn_many(X, a, r)
    online = cls(n_actions=3, seed=0)
    for i in range(60):
        online.learn_one(X[i], a[i], r[i])
    assert np.allclose(batch.mean_, online.mean_, atol=1e-8)
    assert np.allclose(batch.cov_, online.cov_, atol=1e-8)


def test_linear_recovers_weights_and_explains():
    X, W, rng = _contextual(3000)
    a = rng.integers(0, 3, 3000)
    r = np.einsum("nd,nd->n", X, W[a]) + 0.1 * rng.normal(size=3000)
    p = LinearThompson(n_actions=3, noise_variance=0.01, seed=0).learn_many(X, a, r)
    assert np.allclose(p.mean_[:, :5], W, atol=0.02)
    x = X[0]
    expl = p.explain_one(x, 1)
    contrib = dict(expl)
    assert sorted(contrib) == list(range(5))
    average = p.predict_many(X[a == 1])[:, 1].mean()  # the rows action 1 learned from
    assert abs(sum(contrib.values()) + average - p.predict_one(x)[1]) < 1e-9
    assert abs(expl[0][1]) >= abs(expl[-1][1])


def test_shared_model_generalises_across_actions():
    # reward depends on an action feature times a context feature: a shared model learns it
    rng = np.random.default_rng(0)
    F = np.array([[-1.0], [0.0], [1.0]])
    X = rng.normal(size=(2000, 1))
    a = rng.integers(0, 2, 2000)  # action 2 is never logged
    r = X[:, 0] * F[a, 0] + 0.05 * rng.normal(size=2000)
    p = SharedLinearThompson(n_actions=3, action_features=F, noise_variance=0.01, seed=0)
    p.learn_many(X, a, r)
    pred = p.predict_many(np.array([[1.0], [-1.0]]))
    assert pred[0, 2] > 0.8 and pred[1, 2] < -0.8  # unseen action 2 inherits the slope
    assert np.argmax(pred[0]) == 2 and np.argmax(pred[1]) == 0


def test_thompson_propensity_matches_distribution():
    p = LinearThompson(n_actions=3, n_draws=4000, seed=0)
    p.learn_many(np.zeros((30, 1)), [0, 1, 2] * 10, [0.0, 0.1, 0.2] * 10)
    X = np.zeros((1, 1))
    probs = p.probabilities_many(X)[0]
    c = p.choose_many(np.zeros((300, 1)))
    for a in np.unique(c.actions):
        assert abs(c.propensities[c.actions == a].mean() - probs[a]) < 0.03
    # empirical frequency of choices agrees with the stated probabilities
    freq = np.bincount(c.actions, minlength=3) / 300
    assert np.abs(freq - probs).max() < 0.1


def test_epsilon_greedy_exact_distribution():
    p = EpsilonGreedy(n_actions=3, epsilon=0.3, seed=0)
    p.learn_many(np.ones((3, 1)), [0, 1, 2], [0.0, 1.0, 0.5])
    mask = np.array([[True, True, True], [True, False, True]])
    probs = p.probabilities_many(np.ones((2, 1)), mask)
    assert np.allclose(probs[0], [0.1, 0.8, 0.1])
    assert np.allclose(probs[1], [0.15, 0.0, 0.85])


def test_softmax_temperature_orders_probabilities():
    p = Softmax(n_actions=3, temperature=0.2, seed=0)
    p.learn_many(np.ones((3, 1)), [0, 1, 2], [0.0, 1.0, 0.5])
    probs = p.probabilities_many(np.ones((1, 1)))[0]
    assert probs[1] > probs[2] > probs[0]


def test_linucb_tie_break_is_uniform():
    p = LinUCB(n_actions=4, seed=0)
    c = p.choose_many(np.zeros((4000, 2)))
    assert np.allclose(c.propensities, 0.25)
    assert np.abs(np.bincount(c.actions, minlength=4) / 4000 - 0.25).max() < 0.03


def test_warm_start_priors_steer_cold_choices():
    p = LinearThompson(n_actions=3, prior_mean=[0.0, 0.0, 1.0], prior_variance=0.01, seed=0)
    assert np.mean(p.choose_many(np.zeros((200, 2))).actions == 2) > 0.95
    b = BetaBernoulli(n_actions=3, alpha=[1, 1, 50], beta=[50, 50, 1], seed=0)
    assert np.mean(b.choose_many(np.zeros((200, 0))).actions == 2) > 0.95


def test_apprentice_follows_legacy_then_takes_over():
    rng = np.random.default_rng(0)
    inner = LinearThompson(n_actions=3, noise_variance=0.05, seed=0)
    p = Apprentice(inner, min_observations=40, max_width=0.2)
    X = rng.normal(size=(100, 2))
    legacy = np.zeros(100, dtype=int)  # rules always send action 0
    c = p.choose_many(X, baseline=legacy)
    assert (c.actions == 0).all() and c.from_baseline.all() and (c.propensities == 1).all()
    # action 2 gathers evidence (e.g. from a pilot) and is clearly better: it takes over
    p.learn_many(X, np.full(100, 2), np.ones(100))
    p.learn_many(X, np.zeros(100, dtype=int), np.zeros(100))
    c = p.choose_many(X, baseline=legacy)
    assert np.mean(c.actions == 2) > 0.9
    assert p.match_rate(X, legacy) < 0.1 and p.match_rate(X, np.full(100, 2)) > 0.9
    assert not (c.actions == 1).any()  # action 1 has no evidence: never chosen on its own
    # a legacy action the rules forbid is not followed
    mask = np.ones((100, 3), dtype=bool)
    mask[:, 0] = False
    mask[:, 2] = False
    c = p.choose_many(X, mask, baseline=legacy)
    assert (c.actions == 1).all()


def test_bad_inputs_raise_plain_errors():
    p = LinUCB(n_actions=2, seed=0)
    with pytest.raises(DecisionError, match="no eligible action"):
        p.choose_many(np.zeros((2, 1)), np.array([[True, True], [False, False]]))
    p.learn_many(np.zeros((1, 1)), [0], [1.0])
    with pytest.raises(DecisionError, match="features"):
        p.choose_many(np.zeros((1, 2)))
    with pytest.raises(DecisionError, match="actions must lie"):
        p.learn_many(np.zeros((1, 1)), [5], [1.0])
    with pytest.raises(DecisionError, match="unknown policy class"):
        Policy.from_state({**p.state_dict(), "policy": "os.system"})


def test_unsavable_estimator_says_so():
    from sklearn.ensemble import RandomForestRegressor

    p = EpsilonGreedy(n_actions=2, estimator=RandomForestRegressor(n_estimators=2), seed=0)
    p.learn_many(np.zeros((4, 1)), [0, 1, 0, 1], [0.0, 1.0, 0.0, 1.0])
    with pytest.raises(DecisionError, match="cannot snapshot"):
        p.state_dict()


@pytest.mark.parametrize("name", ["Ridge", "SGDRegressor", "LinearRegression"])
def test_stacked_linear_scoring_matches_estimator_predict(name):
    import sklearn.linear_model as lm

    X, W, rng = _contextual(300)
    a = rng.integers(0, 3, 300)
    r = np.einsum("nd,nd->n", X, W[a])
    p = EpsilonGreedy(n_actions=3, estimator=getattr(lm, name)(), seed=0).learn_many(X, a, r)
    slow = np.stack([est.predict(X) for est in p.estimators_], axis=1)
    assert np.allclose(p.predict_many(X), slow)


def test_apprentice_without_a_baseline_does_not_lock_in_on_the_first_mature_action():
    """No legacy rules to imitate: in a cold start the actions gather evidence together, so the
    first one to collect ``min_observations`` outcomes does not close the others, which have at
    least half of its evidence."""
    rng = np.random.default_rng(1)
    p = Apprentice(LinearThompson(n_actions=4, seed=0), min_observations=30)
    X = rng.normal(size=(400, 2))
    p.learn_many(X[:40], np.zeros(40, dtype=int), np.full(40, 0.1))  # action 0 matures first
    for j in (1, 2, 3):
        p.learn_many(X[40 * j : 40 * j + 22], np.full(22, j), np.full(22, 0.1))  # the others close behind
    c = p.choose_many(X)
    shares = np.bincount(c.actions, minlength=4) / len(X)
    assert (shares[1:] > 0.05).all(), shares  # still explored
    assert not c.from_baseline.any()
    probs = p.probabilities_many(X)
    assert np.allclose(probs.sum(axis=1), 1.0) and (probs[:, 1:] > 0).all()


def test_apprentice_without_a_baseline_keeps_unmeasured_actions_to_the_explore_share():
    """A warm start from a log that tried two of four actions, or a new action added to a running
    engine: what nothing has measured waits for the free share instead of winning most rows on
    its prior's width, until it has ``min_observations`` outcomes."""
    rng = np.random.default_rng(2)
    p = Apprentice(LinearThompson(n_actions=4, seed=0), min_observations=30)
    X = rng.normal(size=(2000, 2))
    a = rng.integers(0, 2, 400)
    p.learn_many(X[:400], a, np.where(a == 0, 1.0, 0.2) + rng.normal(0, 0.1, 400))
    c = p.choose_many(X)
    assert np.isin(c.actions, [0, 1]).all()
    assert np.allclose(p.probabilities_many(X)[:, 2:], 0.0)
    free = rng.random(len(X)) < 0.1
    actions, probs = p.choose_mixed(X, np.ones((len(X), 4), dtype=bool), None, free, 0.1)
    untried = np.isin(actions, [2, 3])
    assert untried.any() and (untried <= free).all()  # only on the free rows
    assert (probs[:, 2:].sum(axis=1) <= 0.1 + 1e-9).all()
    p.learn_many(X[:60], np.full(60, 2), np.full(60, 0.5))  # measured now: it competes
    assert (p.choose_many(X).actions == 2).any()


@pytest.mark.parametrize("squared", [False, True])
def test_explanations_measure_each_feature_against_what_the_model_learned_from(squared):
    """Linear SHAP: a contribution is weight x (value - the average value of the rows the action
    learned from). A column every contact shares (nobody has e-mail history yet) explains
    nothing, though ridge gives it part of the intercept; a contact at the average is explained
    by nothing; the contributions add up to the prediction minus the average prediction."""
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.normal(2.0, 1.0, 500), np.full(500, 30.0)])  # a signal, a constant
    p = LinearThompson(n_actions=2, squared_features=squared, seed=0)
    p.learn_many(X, np.zeros(500, dtype=int), 0.5 * X[:, 0] + rng.normal(0, 0.1, 500))
    w = p.mean_[0]
    credited = w[1] * 30.0 + (w[3] * 900.0 if squared else 0.0)  # weight x value, as explained before
    assert abs(credited) > 1e-3  # ridge gives the constant part of the intercept
    x = np.array([3.5, 30.0])
    contrib = dict(p.explain_one(x, 0))
    assert abs(contrib[1]) < 1e-9
    assert contrib[0] > 0.5  # 1.5 above the average, worth about 0.5 a unit
    mean_x = X.mean(axis=0)
    assert all(abs(c) < 0.05 for _, c in p.explain_one(mean_x, 0))
    pred = p.predict_many(np.stack([x, X[0]]))[:, 0]
    both = p.predict_many(X)[:, 0].mean()
    assert sum(contrib.values()) == pytest.approx(pred[0] - both, abs=0.02 if squared else 1e-6)
    row = dict(p.explain_row(np.stack([X[0], x]), 1, 0))  # the batch path agrees
    assert row == pytest.approx(contrib)


def test_top_factors_stop_at_the_first_negligible_contribution():
    """Largest first: once one is under a thousandth of a point, the rest are too, so the reader
    stops there (a model that learned nothing of a row used to read all of its ~400 columns)."""
    from decision.explain import top_factors

    def pairs():
        yield 0, 0.5
        yield 1, 0.0004
        raise AssertionError("read past the first negligible contribution")

    names, raw = ["pricing_7d", "email_open_30d"], [3.0, 1.0]
    assert top_factors(pairs(), names, raw) == ["Visited the pricing page 3 times in the last 7 days: +0.50"]
