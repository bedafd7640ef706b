"""The lift interval keeps its stated 95 % on the metrics that break a normal interval: rare
0/1 outcomes, skewed amounts with few deals, an arm of one contact (hub/reports/lift.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hub.reports.lift import Z_ALPHA, Z_POWER, compare


def _false_significance(gen, na: int, nb: int, reps: int = 400, seed: int = 0) -> tuple[float, float]:
    """Coverage of 0 and the share called significant when both arms come from one distribution."""
    rng = np.random.default_rng(seed)
    hit = sig = 0
    for _ in range(reps):
        r = compare("m", "engine", "holdout", gen(rng, na), gen(rng, nb))
        hit += r.low <= 0 <= r.high
        sig += r.significant
    return hit / reps, sig / reps


def test_a_rare_binary_outcome_is_not_called_significant_when_the_holdout_saw_none():
    # at p = 0.005 a 200-contact holdout has no event 37 % of the time; a normal interval then
    # used only the engine arm's noise and said "engine beats holdout" about a third of the time
    for p, na, nb in ((0.005, 1800, 200), (0.01, 360, 40)):
        coverage, sig = _false_significance(lambda rng, n, p=p: (rng.random(n) < p).astype(float), na, nb)
        assert coverage >= 0.92 and sig <= 0.08, (p, na, nb, coverage, sig)


def test_skewed_amounts_with_few_deals_are_not_called_significant():
    pipeline = lambda rng, n: (rng.random(n) < 0.02) * rng.lognormal(9, 1, n)  # noqa: E731
    coverage, sig = _false_significance(pipeline, 1800, 200)
    assert coverage >= 0.92 and sig <= 0.08, (coverage, sig)


def test_a_real_binary_difference_is_still_found():
    rng = np.random.default_rng(2)
    found = sum(
        compare("conversion", "engine", "holdout", (rng.random(1800) < 0.2) * 1.0, (rng.random(200) < 0.1) * 1.0).low
        > 0
        for _ in range(100)
    )
    assert found >= 80


def test_an_arm_of_one_contact_has_no_interval():
    rng = np.random.default_rng(0)
    r = compare("reward", "engine", "holdout", rng.normal(1, 1, 300), np.array([0.0]))
    assert not r.significant and r.note == "too few contacts"
    assert math.isnan(r.low) and math.isnan(r.high) and r.diff > 0


def test_no_events_in_either_arm_of_a_count_says_so():
    r = compare("pipeline", "engine", "holdout", np.zeros(300), np.zeros(40))
    assert not r.significant and r.note == "too few events" and math.isnan(r.low)


def test_six_of_360_against_none_of_40_is_not_significant():
    r = compare("opportunities", "engine", "holdout", np.r_[np.ones(6), np.zeros(354)], np.zeros(40))
    assert not r.significant and r.low < 0 < r.high and r.note == ""
    assert math.isclose(r.diff, 6 / 360)  # the point estimate is the plain difference of rates


def test_contacts_still_needed_are_a_total_at_the_arms_ratio():
    """At a 9:1 split the small arm limits the test: adding contacts at that ratio needs far
    more than an equal-arms 'n per arm' says."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(0.1, 1.0, 1800), rng.normal(0.0, 1.0, 200)
    r = compare("reward", "engine", "holdout", a, b)
    va, vb = a.var(ddof=1), b.var(ddof=1)
    pooled = (1799 * va + 199 * vb) / 1998
    va, vb = max(va, pooled), max(vb, pooled)
    total = (Z_ALPHA + Z_POWER) ** 2 * (va / 0.9 + vb / 0.1) / r.diff**2
    assert r.n_needed == pytest.approx(total)
    assert r.n_more == math.ceil(total) - 2000 > 0
    # the interval those contacts would give is about as wide as a 80 %-power test needs
    n_a, n_b = 0.9 * r.n_needed, 0.1 * r.n_needed
    assert math.sqrt(va / n_a + vb / n_b) == pytest.approx(abs(r.diff) / (Z_ALPHA + Z_POWER))
