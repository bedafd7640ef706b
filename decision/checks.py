"""One invariant suite run over every policy, like scikit-learn's ``check_estimator``.

Each check takes an unfitted policy, works on clones of it, and raises ``AssertionError`` with
a plain message when an invariant breaks. ``check_policy`` runs them all; tests parametrize
over :data:`CHECKS` so each failure is reported on its own.

>>> from decision.policies import EpsilonGreedy
>>> check_policy(EpsilonGreedy(n_actions=4, seed=0))
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from decision.policies import Policy

K, D = 4, 3
BEST_MEANS = np.array([0.2, 0.45, 0.8, 0.3])


def synthetic(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Contexts (n, D) and a random eligibility mask (n, K) with at least one True per row."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D))
    mask = rng.random((n, K)) < 0.6
    mask[np.arange(n), rng.integers(0, K, n)] = True
    return X, mask


def _trained(policy: Policy, n: int = 120, seed: int = 1) -> Policy:
    p = policy.clone()
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D))
    a = rng.integers(0, K, n)
    r = (rng.random(n) < BEST_MEANS[a]).astype(float)
    return p.learn_many(X, a, r, np.full(n, 1.0 / K))


def check_chosen_action_eligible(policy: Policy) -> None:
    p = _trained(policy)
    X, mask = synthetic()
    c = p.choose_many(X, mask)
    assert c.actions.shape == (len(X),), "one action per row"
    assert mask[np.arange(len(X)), c.actions].all(), "a chosen action was not eligible"
    assert np.isneginf(c.scores[~mask]).all(), "scores of ineligible actions must be -inf"
    assert np.isfinite(c.scores[mask]).all(), "scores of eligible actions must be finite"


def check_propensities(policy: Policy) -> None:
    p = _trained(policy)
    X, mask = synthetic()
    c = p.choose_many(X, mask)
    assert ((c.propensities > 0) & (c.propensities <= 1)).all(), "propensities must be in (0, 1]"
    probs = p.probabilities_many(X, mask)
    assert np.allclose(probs.sum(axis=1), 1.0), "action probabilities must sum to 1 per row"
    assert (probs[~mask] == 0).all(), "ineligible actions must have probability 0"
    if policy.exact_propensities:
        chosen = probs[np.arange(len(X)), c.actions]
        assert np.allclose(chosen, c.propensities), "propensity differs from the distribution"


def check_inputs_not_mutated(policy: Policy) -> None:
    p = policy.clone()
    X, mask = synthetic()
    X[0, 0] = np.nan
    a = np.arange(len(X)) % K
    r = np.linspace(0, 1, len(X))
    prop = np.full(len(X), 0.25)
    before = [v.copy() for v in (X, mask, a, r, prop)]
    p.learn_many(X, a, r, prop)
    p.choose_many(X, mask)
    p.probabilities_many(X, mask)
    p.predict_many(X)
    for old, new in zip(before, (X, mask, a, r, prop), strict=True):
        assert np.array_equal(old, new, equal_nan=True), "the caller's input was modified"


def check_same_seed_same_choices(policy: Policy) -> None:
    X, mask = synthetic()
    c1 = _trained(policy).choose_many(X, mask)
    c2 = _trained(policy).choose_many(X, mask)
    assert np.array_equal(c1.actions, c2.actions), "same seed gave different actions"
    assert np.array_equal(c1.propensities, c2.propensities), "same seed, different propensities"


def check_save_restore(policy: Policy) -> None:
    X, mask = synthetic()
    p = _trained(policy)
    snap = json.loads(json.dumps(p.state_dict()))  # must survive a JSON column
    q = type(p).from_state(snap)
    r = type(p).load(p.save())
    expected = p.choose_many(X, mask)
    for other in (q, r):
        got = other.choose_many(X, mask)
        assert np.array_equal(expected.actions, got.actions), "restored policy chose differently"
        assert np.allclose(expected.propensities, got.propensities), "restored propensities differ"
        assert np.allclose(p.predict_many(X), other.predict_many(X)), "restored predictions differ"


def check_unseen_features_tolerated(policy: Policy) -> None:
    p = _trained(policy)
    X, mask = synthetic()
    X[::3, 1] = np.nan
    X[::5, 0] = np.inf
    c = p.choose_many(X, mask)
    assert mask[np.arange(len(X)), c.actions].all(), "NaN rows chose an ineligible action"
    assert np.isfinite(c.scores[mask]).all(), "NaN features leaked into scores"
    p.learn_many(X, c.actions, np.zeros(len(X)), c.propensities)
    assert np.isfinite(p.predict_many(X)).all(), "learning from NaN rows broke predictions"


def check_one_row_wrappers(policy: Policy) -> None:
    p = _trained(policy)
    x = np.array([0.5, -1.0, 2.0])
    a, prop = p.choose_one(x, np.array([False, True, True, False]))
    assert a in (1, 2) and 0 < prop <= 1, "choose_one broke the mask or the propensity range"
    assert p.predict_one(x).shape == (K,), "predict_one must return one score per action"
    n_before = p.n_obs_.copy()
    p.learn_one(x, a, 1.0, prop)
    assert p.n_obs_[a] == n_before[a] + 1, "learn_one did not count the observation"


def check_finds_best_arm(policy: Policy) -> None:
    """Online loop on Bernoulli arms (context is noise): the best arm must win most late picks."""
    p = policy.clone()
    rng = np.random.default_rng(7)
    late = []
    for t in range(40):
        X = rng.normal(size=(50, D))
        c = p.choose_many(X)
        r = (rng.random(50) < BEST_MEANS[c.actions]).astype(float)
        p.learn_many(X, c.actions, r, c.propensities)
        if t >= 30:
            late.append(c.actions)
    share = np.mean(np.concatenate(late) == np.argmax(BEST_MEANS))
    assert share > 0.6, f"best arm chosen in only {share:.0%} of late decisions"


CHECKS: list[Callable[[Policy], None]] = [
    check_chosen_action_eligible,
    check_propensities,
    check_inputs_not_mutated,
    check_same_seed_same_choices,
    check_save_restore,
    check_unseen_features_tolerated,
    check_one_row_wrappers,
    check_finds_best_arm,
]


def check_policy(policy: Policy) -> None:
    """Run every check on ``policy`` (which must have ``n_actions == 4``)."""
    assert policy.n_actions == K, f"the suite needs a policy over {K} actions"
    for check in CHECKS:
        check(policy)
