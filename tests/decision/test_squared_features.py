"""Squared features of the linear bandits: a reward that bends in a feature is learned, the
state survives save / restore, explanations add both terms, and the engine turns it on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from decision.engine import EnginePolicy, build_bandit
from decision.policies import LinearThompson, LinUCB
from hub.config import DecisionSettings

LINEAR = [LinearThompson, LinUCB]


def convex_data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Action 0 pays 0.3 minus a penalty that is zero at touches 0 and steep at 2 (fatigue);
    action 1 (wait) pays 0. ``x`` is touches / 2 in {0, 0.5, 1}."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, n) / 2.0
    a = rng.integers(0, 2, n)
    r = np.where(a == 0, 0.3 - 1.2 * x**2, 0.0) + rng.normal(0, 0.1, n)
    return x[:, None], a, r


@pytest.mark.parametrize("cls", LINEAR)
def test_a_convex_penalty_is_learned_with_squares_and_missed_without(cls):
    X, a, r = convex_data()
    grid = np.array([[0.0], [0.5], [1.0]])
    truth = 0.3 - 1.2 * grid[:, 0] ** 2  # 0.3, 0.0, -0.9
    line = cls(n_actions=2, seed=0).learn_many(X, a, r).predict_many(grid)[:, 0]
    bent = cls(n_actions=2, seed=0, squared_features=True).learn_many(X, a, r).predict_many(grid)[:, 0]
    assert np.abs(bent - truth).max() < 0.05, bent
    assert np.abs(line - truth).max() > 0.1, line  # a straight line cannot fit 0.3, 0.0, -0.9
    # the decision that matters: mail an untouched contact (0.3 > 0), wait at one touch (0.0)
    assert bent[0] > 0.2 and abs(bent[1]) < 0.05


@pytest.mark.parametrize("cls", LINEAR)
def test_squared_state_has_2d_plus_1_columns_and_round_trips(cls):
    rng = np.random.default_rng(1)
    p = cls(n_actions=3, seed=2, squared_features=True, half_life=500, learn_noise=True)
    X = rng.normal(size=(300, 4))
    p.learn_many(X, rng.integers(0, 3, 300), rng.normal(size=300))
    assert p.mean_.shape == (3, 9) and p.cov_.shape == (3, 9, 9)
    q = cls.from_state(json.loads(json.dumps(p.state_dict())))
    assert q.squared_features
    Xn = rng.normal(size=(20, 4))
    np.testing.assert_array_equal(q.predict_many(Xn), p.predict_many(Xn))
    np.testing.assert_array_equal(q.choose_many(Xn).actions, p.choose_many(Xn).actions)


def test_explanations_add_the_linear_and_the_squared_term():
    X, a, r = convex_data()
    p = LinearThompson(n_actions=2, seed=0, squared_features=True).learn_many(X, a, r)
    ((j, c),) = p.explain_one([1.0], 0)
    w, v = p.mean_[0, 0], p.mean_[0, 1]
    x = X[a == 0, 0]  # measured from the average of what action 0 learned from (x 0.5, x squared 0.42)
    assert j == 0 and c == pytest.approx(w * (1 - x.mean()) + v * (1 - (x**2).mean()))
    assert c < -0.5  # touches = 2 costs about 0.7 more than the average contact's touches


@pytest.mark.parametrize("squared", [True, [1, 3], False])
def test_a_batch_row_is_explained_as_that_row_alone(squared):
    """explain_row reads the batch's checked array and, in a batch scope, its design (the squares
    the choice computed): the same pairs, bit for bit, as explain_iter of the row on its own."""
    rng = np.random.default_rng(3)
    p = LinearThompson(n_actions=3, seed=0, squared_features=squared)
    p.learn_many(rng.normal(size=(200, 5)), rng.integers(0, 3, 200), rng.normal(size=200))
    X = rng.normal(size=(4, 5)) * [1, 10, 1, 100, 1]
    X[2, 1] = np.nan  # checked to 0 in both
    alone = [[list(p.explain_iter(X[i], a)) for a in range(3)] for i in range(4)]
    with p.one_batch():
        p.choose_many(X)  # the scope now holds the batch's design
        assert "design" in p.__dict__["_batch_scope"]
        in_batch = [[list(p.explain_row(X, i, a)) for a in range(3)] for i in range(4)]
    assert repr(in_batch) == repr(alone)  # (repr: NaN-safe, every digit)
    assert [[list(p.explain_row(X, i, a)) for a in range(3)] for i in range(4)] == alone  # no scope


def test_a_snapshot_without_the_option_loads_as_linear():
    p = LinearThompson(n_actions=2, seed=0).learn_many(np.zeros((4, 1)), [0, 1, 0, 1], [1.0, 0.0, 1.0, 0.0])
    snap = p.state_dict()
    snap["params"].pop("squared_features")
    q = LinearThompson.from_state(snap)
    assert not q.squared_features and q.mean_.shape == (2, 2)
    q.learn_one([0.0], 1, 1.0)


def test_the_engine_uses_squares_by_default_and_names_the_model_apart():
    on = build_bandit(DecisionSettings())
    off = build_bandit(DecisionSettings(engine={"squared_features": False}))
    assert on.policy.squared_features and not off.policy.squared_features
    names = {EnginePolicy(DecisionSettings(engine={"squared_features": s})).model_name for s in (True, False)}
    assert len(names) == 2, "a linear snapshot must not be loaded as the squared model"


def test_widths_are_computed_once_per_batch_and_only_inside_its_scope():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    model = LinearThompson(n_actions=3, seed=0, squared_features=True)
    model.learn_many(X, rng.integers(0, 3, 50), rng.normal(size=50))
    outside = model._width(X)
    assert model._width(X) is not outside  # no cache across calls: a later batch may differ
    with model.one_batch():
        first = model._width(X)
        assert model._width(X) is first  # the apprentice's maturity check and choice share it
        assert model._width(X.copy()) is first  # the same rows (each *_many call copies X)
        assert model._width(X[::-1]) is not first  # other rows are another batch
    np.testing.assert_allclose(first, outside)
    assert model._width(X) is not first


@pytest.mark.parametrize("cls", LINEAR)
def test_only_the_listed_columns_are_squared_and_that_survives_a_round_trip(cls):
    rng = np.random.default_rng(3)
    p = cls(n_actions=2, seed=1, squared_features=[0, 2])
    X = rng.normal(size=(200, 4))
    a = rng.integers(0, 2, 200)
    p.learn_many(X, a, X[:, 0] ** 2 - X[:, 1])
    assert p.mean_.shape == (2, 4 + 2 + 1)
    np.testing.assert_array_equal(p._design(X[:2])[:, 4:6], X[:2][:, [0, 2]] ** 2)
    contrib = p._contributions(X[0], 0)
    w, mine = p.mean_[0], X[a == 0]  # measured from the average of what action 0 learned from
    assert contrib[1] == pytest.approx(w[1] * (X[0, 1] - mine[:, 1].mean()))  # not squared: the linear term alone
    squared = w[5] * (X[0, 2] ** 2 - (mine[:, 2] ** 2).mean())
    assert contrib[2] == pytest.approx(w[2] * (X[0, 2] - mine[:, 2].mean()) + squared)
    q = cls.from_state(json.loads(json.dumps(p.state_dict())))
    assert q.squared_features == [0, 2]
    np.testing.assert_array_equal(q.predict_many(X[:5]), p.predict_many(X[:5]))


def test_squared_column_indices_must_exist():
    from hub.errors import DecisionError

    with pytest.raises(DecisionError, match="column indices below 3"):
        LinearThompson(n_actions=2, squared_features=[0, 3]).learn_many(np.zeros((2, 3)), [0, 1], [0.0, 1.0])


def test_the_engine_squares_only_its_count_like_columns():
    from decision.features import feature_names, numeric_columns

    names = feature_names()
    cols = numeric_columns(names)
    squared = {names[j] for j in cols}
    assert {"email_sent_7d", "days_since_sales_touch", "email_open_rate", "log_employees"} <= squared
    assert not any(n.startswith(("industry_", "stage_", "never_")) or n.endswith("_missing") for n in squared)
    engine = EnginePolicy(DecisionSettings())
    assert engine.model.policy.squared_features == cols
