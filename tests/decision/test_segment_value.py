"""Segment values: no extrapolation where a segment has evidence, and future value priced from outcomes."""

from __future__ import annotations

import numpy as np

from decision.segment_value import OutcomeValues, SegmentValues


def test_a_seen_segment_overrules_a_wrong_bandit_prediction_and_an_unseen_one_follows_it() -> None:
    rng = np.random.default_rng(0)
    sv = SegmentValues(n_segments=2, n_actions=3)
    # segment 0: action 1 truly earns 4 points, action 2 earns 0; both noisy
    acts = rng.integers(1, 3, 4000)
    sv.learn(np.zeros(4000, dtype=int), acts, np.where(acts == 1, 4.0, 0.0) + rng.normal(0, 5, 4000))
    wrong = np.array([[0.0, -18.0, 1.0], [0.0, -18.0, 1.0]])  # the bandit's extrapolation
    mean, sd = sv.posterior(np.array([0, 1]), wrong)
    assert abs(mean[0, 1] - 4.0) < 0.6 and sd[0, 1] < 0.3
    np.testing.assert_allclose(mean[1], wrong[1])  # no evidence in segment 1: the prediction
    mask = np.ones((500, 3), dtype=bool)
    picks = sv.choose(np.zeros(500, dtype=int), np.tile(wrong[0], (500, 1)), mask, rng)
    assert (picks == 1).mean() > 0.95
    mask[:, 1] = False
    assert (sv.choose(np.zeros(500, dtype=int), np.tile(wrong[0], (500, 1)), mask, rng) != 1).all()


def test_forgetting_follows_a_change() -> None:
    sv = SegmentValues(n_segments=1, n_actions=1, prior_rows=1.0, half_life=500.0)
    sv.learn(np.zeros(5000, dtype=int), np.zeros(5000, dtype=int), np.full(5000, 3.0))
    for _ in range(20):
        sv.learn(np.zeros(200, dtype=int), np.zeros(200, dtype=int), np.full(200, -1.0))
    assert sv.posterior(np.array([0]), np.zeros((1, 1)))[0][0, 0] < -0.9


def test_outcome_values_price_deals_and_lost_contacts_from_what_happened() -> None:
    ov = OutcomeValues(
        n_people=4000, n_stages=2, opportunity_weight=50.0, revenue_weight=0.001, unsubscribe_weight=-30.0,
        window_days=10, bootstrap=0.0,
    )
    assert ov.opportunity_points() == 50.0  # nothing closed yet: the stated weight
    ov.close(np.array([30_000.0, 10_000.0]), n_lost=2)
    assert ov.opportunity_points() == 60.0  # 40,000 won over 4 closed
    stages = np.array([0, 0, 1, 1] * 1000)
    opted = np.array([0, 1, 0, 1] * 1000)
    # stage-0 reachable contacts earn nothing at first but 1 a day from day 10 on
    for d in range(30):
        ov.day(stages, opted, np.array([1.0 if d >= 10 else 0.0, 0.0, 2.0, 0.0] * 1000))
        if d == 8:  # no return is complete yet: the stated weight
            np.testing.assert_allclose(ov.unsubscribe_points(), [-30.0, -30.0])
    cost = ov.unsubscribe_points()
    # stage 1: 2 a day reachable, 0 opted out: 20 lost per 10-day window (less the prior's pull)
    assert -30 - 20 < cost[1] < -30 - 19
    # stage 0: its returns grew from 0 to 10 per window as its later earnings came in
    assert -30 - 10 < cost[0] < -30 - 3


def test_bootstrapped_values_count_what_a_stage_leads_to() -> None:
    """Stage 0 earns nothing itself and leads to stage 1, which earns 1 a day: without a
    bootstrap a stage is worth its next window only (stage 0: 2, the stage-1 days inside it),
    with one it also counts, discounted, the value of where the window ends."""
    values = {}
    for b in (0.0, 0.5):
        ov = OutcomeValues(
            n_people=2, n_stages=2, opportunity_weight=50.0, revenue_weight=0.0, unsubscribe_weight=-30.0,
            window_days=5, bootstrap=b, prior_days=0.0,
        )
        for d in range(400):
            st = np.array([0, 1]) if (d // 5) % 2 == 0 else np.array([1, 1])  # person 0 moves on
            ov.day(st, np.zeros(2, dtype=int), np.where(st == 1, 1.0, 0.0))
        values[b] = ov.stage_values()[:, 0]
    np.testing.assert_allclose(values[0.0][0], 2.0)
    assert 4.0 < values[0.0][1] < 5.0
    assert values[0.5][0] > values[0.0][0] + 3.0 and values[0.5][1] > values[0.0][1] + 3.0
    assert values[0.5][1] > values[0.5][0]


def test_delayed_credit_moves_a_cells_mean_without_counting_rows_again() -> None:
    sv = SegmentValues(n_segments=1, n_actions=2, prior_rows=0.0)
    sv.learn(np.zeros(4, dtype=int), np.array([0, 0, 1, 1]), np.zeros(4))
    sv.credit(np.zeros(2, dtype=int), np.array([0, 0]), np.array([3.0, 1.0]))  # action 0's leads moved on
    mean, _ = sv.posterior(np.array([0]), np.zeros((1, 2)))
    np.testing.assert_allclose(mean[0], [2.0, 0.0])
    assert sv.n.sum() == 4
