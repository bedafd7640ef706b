"""``joint_bootstrap`` (hub/reports/offline.py): the paired bootstrap behind ``hub evaluate``'s
differences, ratios and logged-mean interval.

It used to gather every resampled row of a chunk at once, a (replicates, n, columns) array of
about 224 MB per chunk. It now gathers a bounded slice at a time; these tests pin that the
numbers are those of the one-shot version to the last bit (same seed, same resamples, same
order of additions) and that memory stays bounded.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from hub.reports import offline
from hub.reports.offline import evaluate_log, joint_bootstrap


def one_shot_bootstrap(columns: np.ndarray, n_bootstrap: int, seed: int | None, chunk: int) -> np.ndarray:
    """The implementation before bounded gathering, verbatim but for ``chunk`` (was ``_CHUNK``)."""
    rng = np.random.default_rng(seed)
    n = len(columns)
    out = np.empty((n_bootstrap, columns.shape[1]))
    step = max(1, chunk // n)
    for start in range(0, n_bootstrap, step):
        b = min(step, n_bootstrap - start)
        idx = rng.integers(0, n, size=(b, n))
        out[start : start + b] = columns[idx].sum(axis=1)
    return out


def columns(n: int, seed: int = 3) -> np.ndarray:
    """Seven columns like evaluate_log's, with magnitudes spread wide so rounding differences show."""
    rng = np.random.default_rng(seed)
    w = rng.exponential(1.0, (n, 2)) * 10.0 ** rng.uniform(-3, 3, (n, 2))
    r = rng.normal(0.0, 1.0, n)
    return np.column_stack([w[:, 0] * r, w[:, 0], rng.normal(0, 50, n), w[:, 1] * r, w[:, 1], r * 1e-4, r])


@pytest.mark.parametrize("n", [1, 2, 3001, 40_000])
def test_equals_the_one_shot_bootstrap_bit_for_bit(n):
    """Several chunks of replicates, each gathered in several slices (odd and even n)."""
    cols = columns(n)
    ours = joint_bootstrap(cols, 1000, 7)
    assert np.array_equal(ours, one_shot_bootstrap(cols, 1000, 7, offline._CHUNK))


def test_a_log_longer_than_a_chunk_draws_in_slices_with_the_same_resamples(monkeypatch):
    """A log over _CHUNK / 2 rows gets one replicate per draw, itself drawn slice by slice; shown
    here with small limits: 5001 rows (odd) against a 4000-index chunk and 6000-value slices."""
    monkeypatch.setattr(offline, "_CHUNK", 4000)
    monkeypatch.setattr(offline, "_GATHER", 6000)
    cols = columns(5001)
    ours = joint_bootstrap(cols, 30, 11)
    assert np.array_equal(ours, one_shot_bootstrap(cols, 30, 11, 4000))


def test_evaluate_log_intervals_come_from_the_same_resamples():
    """The logged mean's interval in ``hub evaluate``'s output is the one-shot bootstrap's."""
    rng = np.random.default_rng(5)
    n, k = 2001, 3
    a, r = rng.integers(0, k, n), rng.normal(1.0, 1.0, n)
    ev = evaluate_log(np.zeros((n, 1)), a, r, np.full(n, 1 / k), rng.dirichlet(np.ones(k), n), list("xyz"), seed=4)
    logged = one_shot_bootstrap(np.tile(r[:, None], 7), 1000, 4, offline._CHUNK)[:, 6] / n  # r is column 6 of 7
    assert (ev.logged.low, ev.logged.high) == tuple(np.quantile(logged, [0.025, 0.975]))


def test_memory_stays_bounded_on_a_large_log():
    """100,000 rows x 7 columns, one chunk of 40 replicates: the one-shot gather held 224 MB."""
    cols = columns(100_000)
    tracemalloc.start()
    try:
        joint_bootstrap(cols, 40, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"
