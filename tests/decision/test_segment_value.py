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
        window_days=10, horizon_days=20,
    )
    assert ov.opportunity_points() == 50.0  # nothing closed yet: the stated weight
    ov.close(np.array([30_000.0, 10_000.0]), n_lost=2)
    assert ov.opportunity_points() == 60.0  # 40,000 won over 4 closed
    stages = np.array([0, 0, 1, 1] * 1000)
    opted = np.array([0, 1, 0, 1] * 1000)
    # stage-0 reachable contacts earn nothing today but 1 a day later on (say, once they progress)
    for d in range(30):
        ov.day(stages, opted, np.array([1.0 if d >= 10 else 0.0, 0.0, 2.0, 0.0] * 1000))
        if d == 8:  # no return is complete yet: the stated weight
            np.testing.assert_allclose(ov.unsubscribe_points(), [-30.0, -30.0])
    cost = ov.unsubscribe_points()
    # stage 1: 2 a day reachable, 0 opted out, over 20 days about 40 lost (less the prior's pull)
    assert -30 - 41 < cost[1] < -30 - 35
    # stage 0: its returns grew from 0 to 10 per 10-day window as its later earnings came in
    assert -30 - 20 < cost[0] < -30 - 5
