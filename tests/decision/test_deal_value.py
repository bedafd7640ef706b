"""An opportunity is priced at what deals of its account's company size band have closed for,
so the segment values call a big account where a small one's call is not worth it."""

from __future__ import annotations

import numpy as np

from decision.deal_value import N_SIZE_BANDS, DealValues, size_band
from decision.segment_value import OutcomeValues, SegmentChooser, segment_index


def test_size_bands_follow_the_crm_picklist_and_unknown_is_its_own() -> None:
    emp = np.array([1, 10, 11, 50, 51, 200, 201, 1000, 1001, 5000, 5001, 0, -3, np.nan])
    assert size_band(emp).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 6, 6, 6]
    assert N_SIZE_BANDS == 7


def test_a_band_with_few_closures_leans_on_the_mean_of_all() -> None:
    dv = DealValues(n_bands=3, prior_closed=10.0)
    dv.close(np.r_[np.zeros(90, int), np.ones(10, int)], np.r_[np.full(90, 1_000.0), np.full(10, 91_000.0)])
    pooled = (90 * 1_000 + 10 * 91_000) / 100  # 10,000
    mean = dv.mean_won(np.array([0, 1, 2]))
    assert mean[0] == (90_000 + 10 * pooled) / 100
    assert mean[1] == (910_000 + 10 * pooled) / 20  # 50,500: half its own, half the pool
    assert mean[2] == pooled  # never closed: the pool
    state = dv.state()
    other = DealValues(n_bands=3)
    other.load_state(state)
    np.testing.assert_array_equal(other.mean_won(np.arange(3)), dv.mean_won(np.arange(3)))


def chooser(deals: DealValues | None) -> SegmentChooser:
    """One segment: a call earns 2 points and an opportunity (50) in one row of ten; nurture earns 8."""
    ov = OutcomeValues(1, opportunity_weight=50.0, revenue_weight=0.001, unsubscribe_weight=-30.0)
    ov.deals = deals
    ch = SegmentChooser(n_stages=1, n_roles=1, n_actions=2, wait=0, min_rows=0, exploration=0.0, risk_rows=0.0)
    ch.outcomes = ov
    seg = segment_index(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), 1)
    n = 1000
    opps = (np.arange(n) % 10 == 0).astype(float)
    ch.values.learn(np.repeat(seg, n), np.ones(n, dtype=int), 2.0 + 50.0 * opps, opps)  # 1: the call
    ch.values.learn(np.repeat(seg, n), np.zeros(n, dtype=int), np.full(n, 8.0))  # 0: nurture
    # 200 closures: small accounts won 2,000 a deal, big ones 100,000
    small, big = 0, 5
    ov.close(np.r_[np.full(100, 2_000.0), np.full(100, 100_000.0)], 0)
    if deals is not None:
        deals.close(
            np.r_[np.full(100, small), np.full(100, big)], np.r_[np.full(100, 2_000.0), np.full(100, 100_000.0)]
        )
    return ch


def choose(ch: SegmentChooser, bands: np.ndarray | None) -> list[int]:
    seg = segment_index(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), 1)
    a, _, _ = ch.choose(
        seg, np.zeros((2, 2)), np.ones((2, 2), bool), np.zeros(2), np.ones(2), np.random.default_rng(0), bands=bands
    )
    return a.tolist()


def test_calls_go_to_the_accounts_whose_deals_pay_for_them() -> None:
    bands = np.array([0, 5])  # a 1-10 account, a 5,001+ one
    # a call: 2 + 0.1 x (50 + 0.001 x won): 7.2 for the small account (under nurture's 8),
    # about 16.6 for the big one (over it)
    assert choose(chooser(DealValues()), bands) == [0, 1]
    # one price for every deal (51,000 on average, 12.1 a call): both get the call
    assert choose(chooser(None), bands) == [1, 1]
    assert choose(chooser(DealValues()), None) == [1, 1]
