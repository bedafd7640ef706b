"""Forgetting (half-life) and learned noise variance of the linear bandits, and the engine's own
bandit through the shared invariant suite."""

from __future__ import annotations

import json

import numpy as np
import pytest

from decision.checks import CHECKS, K
from decision.engine import build_bandit
from decision.policies import LinearThompson, LinUCB, Policy
from hub.config import CatalogEntry, DecisionSettings
from hub.errors import DecisionError

LINEAR = [LinearThompson, LinUCB]


def switch(policy: Policy, before: int = 30, after: int = 10) -> Policy:
    """Action 0 pays 1 and action 1 pays 0 for ``before`` batches, then the other way round."""
    X = np.zeros((100, 1))
    for t in range(before + after):
        r = [1.0, 0.0] if t < before else [0.0, 1.0]
        policy.learn_many(X, [0, 1] * 50, r * 50)
    return policy


@pytest.mark.parametrize("cls", LINEAR)
def test_a_half_life_forgets_an_old_arm_value_after_a_switch(cls):
    never = switch(cls(n_actions=2, seed=0)).predict_one([0.0])
    forgets = switch(cls(n_actions=2, seed=0, half_life=200)).predict_one([0.0])
    assert never[0] > never[1], "without forgetting the first three quarters of the data still win"
    assert forgets[1] > 0.9 and forgets[0] < 0.1, forgets
    assert switch(cls(n_actions=2, seed=0, half_life=500)).n_obs_.tolist() == [2000, 2000], "evidence is not decayed"


def test_an_untried_action_widens_back_toward_its_prior():
    p = LinearThompson(n_actions=2, seed=0, half_life=200)
    X = np.zeros((100, 1))
    p.learn_many(X, [0, 1] * 50, np.zeros(100))
    narrow = p._width(np.zeros((1, 1)))[0, 1]
    for _ in range(10):  # only action 0 is tried from now on
        p.learn_many(X, np.zeros(100, dtype=int), np.zeros(100))
    assert p._width(np.zeros((1, 1)))[0, 1] > 3 * narrow


@pytest.mark.parametrize("cls", LINEAR)
def test_save_restore_with_forgetting_and_noise_learning_gives_identical_choices(cls):
    rng = np.random.default_rng(3)
    p = cls(n_actions=3, seed=5, half_life=300, learn_noise=True)
    X = rng.normal(size=(400, 2))
    p.learn_many(X, rng.integers(0, 3, 400), rng.normal(size=400))
    copies = [cls.from_state(json.loads(json.dumps(p.state_dict()))), cls.load(p.save())]
    Xn = rng.normal(size=(50, 2))
    a, r = rng.integers(0, 3, 50), rng.normal(size=50)
    for q in [p, *copies]:  # keep learning after the restore: forgetting must continue identically
        q.learn_many(Xn, a, r)
    expected = p.choose_many(Xn)
    for q in copies:
        got = q.choose_many(Xn)
        assert np.array_equal(got.actions, expected.actions)
        assert np.array_equal(got.propensities, expected.propensities)
        assert np.array_equal(q.predict_many(Xn), p.predict_many(Xn))
        assert np.array_equal(q.noise_scale(), p.noise_scale())


def test_learned_noise_narrows_a_quiet_action_and_keeps_a_noisy_one_wide():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 4000)
    r = np.where(a == 0, rng.normal(0.2, 0.05, 4000), rng.normal(0.2, 3.0, 4000))
    X = rng.normal(size=(4000, 2))
    fixed = LinearThompson(n_actions=2, seed=0).learn_many(X, a, r)
    learned = LinearThompson(n_actions=2, seed=0, learn_noise=True).learn_many(X, a, r)
    scale = learned.noise_scale()
    assert scale[0] < 0.02 and 6 < scale[1] < 12, scale
    np.testing.assert_allclose(learned.predict_many(X), fixed.predict_many(X))  # means do not change
    w_fixed, w_learned = fixed._width(X[:5]), learned._width(X[:5])
    assert (w_learned[:, 0] < 0.2 * w_fixed[:, 0]).all() and (w_learned[:, 1] > 2 * w_fixed[:, 1]).all()


def test_snapshot_from_before_forgetting_still_loads():
    p = LinearThompson(n_actions=2, seed=0).learn_many(np.zeros((4, 1)), [0, 1, 0, 1], [1.0, 0.0, 1.0, 0.0])
    snap = p.state_dict()
    for key in ("half_life", "learn_noise"):
        snap["params"].pop(key)
    for key in ("yy_", "n_eff_"):
        snap["state"].pop(key)
    q = LinearThompson.from_state(snap)
    assert q.half_life is None and not q.learn_noise
    q.learn_one([0.0], 1, 1.0)
    assert q.n_eff_[1] == 1


def test_half_life_must_be_positive():
    with pytest.raises(DecisionError, match="half_life"):
        LinearThompson(n_actions=2, half_life=0).learn_one([0.0], 0, 1.0)


def _engine_bandit(**engine) -> Policy:
    """The inner bandit EnginePolicy builds from its settings, on a catalog of K actions."""
    actions = [CatalogEntry(id=f"a{j}", kind="email") for j in range(K - 1)] + [CatalogEntry(id="wait", kind="wait")]
    return build_bandit(DecisionSettings(actions=actions, engine={"seed": 0, **engine}))


@pytest.mark.parametrize("bandit", ["linear_thompson", "linucb"])
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_engine_bandit_passes_the_invariant_suite(bandit, check):
    """EnginePolicy's model (the apprentice-wrapped bandit, with the default half-life and noise
    learning) keeps every invariant of decision/checks.py. The apprentice's maturity threshold is
    lowered so the suite's short trainings reach the bandit itself."""
    model = _engine_bandit(bandit=bandit, apprentice_min_observations=5, half_life=2000)
    check(model)
    check(model.policy)
