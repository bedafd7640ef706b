"""Snapshots survive JSON and npz without pickle, including NaN, inf and big RNG integers."""

import json

import numpy as np

from decision.policies import Apprentice, LinearThompson, _state


def test_special_floats_and_dtypes_round_trip_through_json():
    value = {
        "f": np.array([[1.5, np.nan], [np.inf, -np.inf]]),
        "i": np.arange(3, dtype=np.int32),
        "b": np.array([True, False]),
        "big": 2**100 + 7,
        "nested": [np.float64(0.1), None, "x"],
    }
    back = _state.decode(json.loads(json.dumps(_state.encode(value))))
    assert np.array_equal(back["f"], value["f"], equal_nan=True)
    assert back["i"].dtype == np.int32 and back["b"].dtype == bool
    assert back["big"] == 2**100 + 7
    assert back["nested"] == [0.1, None, "x"]
    blob = _state.to_bytes(value)
    again = _state.from_bytes(blob)
    assert np.array_equal(again["f"], value["f"], equal_nan=True)
    assert again["big"] == value["big"]


def test_nested_apprentice_snapshot_keeps_inner_learning_and_rng():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    p = Apprentice(LinearThompson(n_actions=3, seed=4), min_observations=10)
    p.learn_many(X, rng.integers(0, 3, 50), rng.random(50))
    q = Apprentice.from_state(json.loads(json.dumps(p.state_dict())))
    assert isinstance(q.policy, LinearThompson) and q.min_observations == 10
    assert np.array_equal(q.policy.n_obs_, p.policy.n_obs_)
    legacy = np.zeros(50, dtype=int)
    assert np.array_equal(p.choose_many(X, baseline=legacy).actions, q.choose_many(X, baseline=legacy).actions)
