"""``hub evaluate`` draws its bootstrap resamples once for IPS, SNIPS and DR of both policies.

``evaluate_log`` used to call ``bootstrap_ratio`` six times with the same seed, each call
redrawing the same resamples. The estimates now share one draw (``bootstrap_sums``); these
tests keep the old ``bootstrap_ratio`` as the reference and pin that every interval is the same
to the last bit, and that a replicate of a log longer than a chunk is gathered in bounded pieces.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from decision import offpolicy
from decision.offpolicy import bootstrap_ratio, doubly_robust, ips, reward_predictions, snips
from hub.reports.offline import evaluate_log


def old_bootstrap_ratio(num, den, n_bootstrap, seed, chunk=offpolicy._CHUNK):
    """``bootstrap_ratio`` before shared draws, verbatim but for ``chunk`` (was ``_CHUNK``)."""
    rng = np.random.default_rng(seed)
    n = len(num)
    out = np.empty(n_bootstrap)
    step = max(1, chunk // n)
    for start in range(0, n_bootstrap, step):
        b = min(step, n_bootstrap - start)
        idx = rng.integers(0, n, size=(b, n))
        s = num[idx].sum(axis=1)
        out[start : start + b] = s / (den[idx].sum(axis=1) if den is not None else n)
    return out


def spread(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Weights and weighted rewards with magnitudes spread wide, so any change in additions shows."""
    rng = np.random.default_rng(seed)
    w = rng.exponential(1.0, n) * 10.0 ** rng.uniform(-3, 3, n)
    return w * rng.normal(0.0, 1.0, n), w


def log(n: int, k: int = 3, seed: int = 5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    logger = rng.dirichlet(np.ones(k), n)
    a = (logger.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    r = rng.normal(1.0, 1.0, n) + (a == 1)
    return X, a, r, logger[np.arange(n), a], rng.dirichlet(np.ones(k), n), logger


def old_estimates(X, a, r, p, t, q, n_bootstrap, seed):
    """IPS, SNIPS and DR as ``evaluate_log`` computed them: one ``bootstrap_ratio`` draw each."""
    w = offpolicy.importance_weights(a, p, t)
    terms = offpolicy.dr_terms(a, r, p, t, q)
    boot = {"n_bootstrap": n_bootstrap, "seed": seed}
    return {
        "ips": ips(a, r, p, t, **boot, reps=old_bootstrap_ratio(w * r, None, n_bootstrap, seed)),
        "snips": snips(a, r, p, t, **boot, reps=old_bootstrap_ratio(w * r, w, n_bootstrap, seed)),
        "dr": doubly_robust(X, a, r, p, t, q=q, **boot, reps=old_bootstrap_ratio(terms, None, n_bootstrap, seed)),
    }


@pytest.mark.parametrize("n", [1, 2, 3001, 40_000])
def test_bootstrap_ratio_equals_the_old_one_bit_for_bit(n):
    num, den = spread(n)
    assert np.array_equal(bootstrap_ratio(num, den, 1000, 7), old_bootstrap_ratio(num, den, 1000, 7))
    assert np.array_equal(bootstrap_ratio(num, None, 1000, 7), old_bootstrap_ratio(num, None, 1000, 7))


def test_evaluate_log_estimates_equal_six_separate_draws_bit_for_bit():
    """Candidate and replayed current config, every field of every estimate."""
    X, a, r, p, target, logger = log(5001)
    ev = evaluate_log(X, a, r, p, target, list("xyz"), current=logger, seed=4)
    q = reward_predictions(X, a, r, 3, seed=4)
    assert ev.candidate == old_estimates(X, a, r, p, target / target.sum(axis=1, keepdims=True), q, 1000, 4)
    assert ev.current == old_estimates(X, a, r, p, logger / logger.sum(axis=1, keepdims=True), q, 1000, 4)


@pytest.mark.parametrize("n", [5001, 5000, 20_003])
def test_a_replicate_longer_than_a_chunk_is_summed_in_pieces_to_the_same_bits(monkeypatch, n):
    """Shown with small limits: a 4000-index chunk (one replicate per draw), 1000-row pieces."""
    monkeypatch.setattr(offpolicy, "_CHUNK", 4000)
    monkeypatch.setattr(offpolicy, "_LEAF", 1000)
    num, den = spread(n)
    assert np.array_equal(bootstrap_ratio(num, den, 5, 11), old_bootstrap_ratio(num, den, 5, 11, chunk=4000))


def test_a_log_over_two_million_rows_gives_the_same_bits_in_bounded_memory():
    """3,000,001 rows, one replicate per draw: the old code held 48 MB of indices and values."""
    num, _ = spread(3_000_001)
    tracemalloc.start()
    try:
        ours = bootstrap_ratio(num, None, 2, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 24 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert np.array_equal(ours, old_bootstrap_ratio(num, None, 2, 0))
