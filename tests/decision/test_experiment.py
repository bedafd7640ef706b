"""Experiment arms are stable per contact and split in the stated shares."""

import numpy as np
import pytest

from decision.experiment import assign_arms, unit_hash
from hub.errors import DecisionError


def test_arms_are_stable_across_batches_and_orders():
    ids = np.array([f"contact-{i}" for i in range(5000)] + ["x", "a-much-longer-contact-id-1"])
    full = assign_arms(ids, "salt-1", holdout_share=0.3, control_share=0.1)
    perm = np.random.default_rng(0).permutation(len(ids))
    shuffled = assign_arms(ids[perm], "salt-1", holdout_share=0.3, control_share=0.1)
    assert (shuffled == full[perm]).all()
    # alone or beside longer ids (different fixed-width padding), a contact keeps its arm
    for i in (0, 4999, 5000):
        assert assign_arms(ids[i : i + 1], "salt-1", holdout_share=0.3, control_share=0.1)[0] == (full[i])
    assert (assign_arms(np.arange(100), "s") == assign_arms([str(i) for i in range(100)], "s")).all()


def test_shares_within_tolerance_and_salt_reshuffles():
    ids = np.arange(200_000)
    arms = assign_arms(ids, "exp-a", holdout_share=0.1, control_share=0.05)
    shares = {a: (arms == a).mean() for a in ("engine", "holdout", "control")}
    assert abs(shares["holdout"] - 0.10) < 0.005
    assert abs(shares["control"] - 0.05) < 0.004
    assert abs(shares["engine"] - 0.85) < 0.006
    other = assign_arms(ids, "exp-b", holdout_share=0.1, control_share=0.05)
    both = np.mean((arms == "holdout") & (other == "holdout"))
    assert abs(both - 0.01) < 0.002  # independent across salts: 0.1 * 0.1


def test_hash_is_uniform():
    u = unit_hash(np.arange(100_000), "u")
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    chi2 = ((counts - 5000) ** 2 / 5000).sum()
    assert chi2 < 50  # 19 d.o.f.: p < 0.001 would be ~43.8
    assert unit_hash(np.array([], dtype=str), "u").shape == (0,)


def test_bad_shares_raise():
    with pytest.raises(DecisionError, match="sum to at most 1"):
        assign_arms([1], "s", holdout_share=0.7, control_share=0.4)
