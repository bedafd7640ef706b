"""Segment values: no extrapolation where a segment has evidence, honest propensities, and
future value priced from outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from decision.segment_value import (
    OutcomeValues,
    SegmentChooser,
    SegmentValues,
    learning_target,
    progress_credit,
    segment_index,
    segment_stage,
)


def _chooser() -> SegmentChooser:
    return SegmentChooser(n_stages=2, n_roles=1, n_actions=3, wait=0, min_rows=0)


def test_a_seen_segment_overrules_a_wrong_bandit_prediction_and_an_unseen_one_follows_it() -> None:
    rng = np.random.default_rng(0)
    ch = _chooser()
    sv = ch.values
    seg0, seg1 = segment_index(np.array([0, 1]), np.zeros(2), np.zeros(2), np.zeros(2), 1)
    # segment 0: action 1 truly earns 4 points, action 2 earns 0; both noisy
    acts = rng.integers(1, 3, 4000)
    sv.learn(np.full(4000, seg0), acts, np.where(acts == 1, 4.0, 0.0) + rng.normal(0, 5, 4000))
    wrong = np.array([[0.0, -18.0, 1.0], [0.0, -18.0, 1.0]])  # the bandit's extrapolation
    mean, sd = sv.posterior(np.array([seg0, seg1]), wrong)
    assert abs(mean[0, 1] - 4.0) < 0.6 and sd[0, 1] < 0.3
    np.testing.assert_allclose(mean[1], wrong[1])  # no evidence in segment 1: the prediction
    mask = np.ones((500, 3), dtype=bool)
    segs, prior, none = np.full(500, seg0), np.tile(wrong[0], (500, 1)), np.zeros(500)
    picks, probs, _ = ch.choose(segs, prior, mask, none, np.ones(500), rng)
    assert (picks == 1).mean() > 0.95
    mask[:, 1] = False
    picks, probs, _ = ch.choose(segs, prior, mask, none, np.ones(500), rng)
    assert (picks != 1).all() and (probs[:, 1] == 0).all()


def test_logged_propensities_are_the_chance_of_the_action_taken() -> None:
    """The share of draws each action wins is what it is then drawn with: over many rows the
    frequency of each action matches the mean logged probability, which is positive for every
    action taken and sums to one per row."""
    rng = np.random.default_rng(1)
    ch = _chooser()
    seg = segment_index(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), 1)
    ch.values.learn(np.repeat(seg, 30), np.array([0, 1, 2] * 10), np.array([1.0, 1.2, 0.8] * 10))
    n = 20_000
    mask = np.ones((n, 3), dtype=bool)
    mask[::2, 2] = False
    a, probs, _ = ch.choose(np.repeat(seg, n), np.zeros((n, 3)), mask, np.zeros(n), np.ones(n), rng)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (probs[np.arange(n), a] > 0).all() and mask[np.arange(n), a].all()
    for k in range(3):
        assert abs((a == k).mean() - probs[:, k].mean()) < 0.01
    assert 0.1 < (a == 1).mean() < 0.9  # a real mixture, not a single action


def test_waiting_backs_up_to_the_segment_one_touch_lower() -> None:
    ch = _chooser()
    busy = int(segment_index(np.zeros(1), np.zeros(1), np.full(1, 3.0), np.zeros(1), 1)[0])
    calm = busy - 2
    ch.values.learn(np.repeat(busy, 200), np.ones(200, dtype=int), np.full(200, 3.0))  # a mail now: 3
    ch.values.learn(np.repeat(calm, 200), np.ones(200, dtype=int), np.full(200, 5.0))  # with one touch fewer: 5
    mask = np.ones((1, 3), dtype=bool)
    soon, _ = ch.means(np.array([busy]), np.zeros((1, 3)), mask, np.full(1, 3.0), np.ones(1))
    late, _ = ch.means(np.array([busy]), np.zeros((1, 3)), mask, np.full(1, 3.0), np.full(1, 7.0))
    assert soon[0, 0] > soon[0, 1] > late[0, 0]  # waiting a day beats mailing now; a week does not


def test_state_round_trips_and_another_shape_is_ignored() -> None:
    ch = _chooser()
    ch.values.learn(np.array([0, 1]), np.array([1, 2]), np.array([3.0, -1.0]))
    other = _chooser()
    other.load_state(ch.state())
    np.testing.assert_array_equal(other.values.s, ch.values.s)
    small = SegmentChooser(n_stages=1, n_roles=1, n_actions=3, wait=0)
    small.load_state(ch.state())
    assert small.values.n.sum() == 0


def test_forgetting_follows_a_change() -> None:
    sv = SegmentValues(n_segments=1, n_actions=1, prior_rows=1.0, half_life=500.0)
    sv.learn(np.zeros(5000, dtype=int), np.zeros(5000, dtype=int), np.full(5000, 3.0))
    for _ in range(20):
        sv.learn(np.zeros(200, dtype=int), np.zeros(200, dtype=int), np.full(200, -1.0))
    assert sv.posterior(np.array([0]), np.zeros((1, 1)))[0][0, 0] < -0.9


def test_outcome_values_price_deals_and_lost_contacts_from_what_happened() -> None:
    ov = OutcomeValues(
        n_stages=2,
        opportunity_weight=50.0,
        revenue_weight=0.001,
        unsubscribe_weight=-30.0,
        horizon_days=10.0,
        step_days=10.0,
    )
    assert ov.opportunity_points() == 50.0  # nothing closed yet: the stated weight
    np.testing.assert_allclose(ov.unsubscribe_points(), [-30.0, -30.0])
    ov.close(np.array([30_000.0, 10_000.0]), n_lost=2)
    assert ov.opportunity_points() == 60.0  # 40,000 won over 4 closed
    # 1,000 contacts per (stage, reach) for 30 days; reachable stage-1 contacts earn 2 a day
    days = np.full((2, 2), 30_000.0)
    ov.observe(np.ones(30_000, dtype=int), np.zeros(30_000, dtype=int), np.full(30_000, 2.0), days)
    cost = ov.unsubscribe_points()
    assert cost[0] == -30.0  # stage 0 earns the same reachable or not: nothing lost
    assert -30 - 20 < cost[1] < -30 - 19.8  # 2 a day over a 10-day horizon (less the prior's pull)
    st, opted = segment_stage(segment_index(np.array([1]), np.zeros(1), np.zeros(1), np.ones(1), 1), 1)
    assert st.tolist() == [1] and opted.tolist() == [1]
    # an unsubscribe in stage 1 is learned at its lost future, an opportunity at its revenue
    t = learning_target(ov, np.array([1, 1]), np.array([-30.0, 50.0]), np.array([0.0, 1.0]), np.array([1.0, 0.0]))
    np.testing.assert_allclose(t, [cost[1], 60.0])


def test_progress_credit_is_the_change_in_stage_value_for_reachable_early_leads() -> None:
    ov = OutcomeValues(n_stages=4, opportunity_weight=50.0, revenue_weight=0.0, unsubscribe_weight=-30.0)
    ov.observe(np.array([2, 3]), np.zeros(2, dtype=int), np.array([100.0, 300.0]), np.full((4, 2), 100.0))
    v = ov.stage_values()[:, 0]
    gain = progress_credit(ov, np.array([0, 0, 1, 2]), np.array([3, 3, 1, 3]), np.array([True, False, True, True]))
    np.testing.assert_allclose(gain, [v[2] - v[0], 0.0, 0.0, 0.0])  # counted up to stage 2; late rows get none


def test_delayed_credit_moves_a_cells_mean_without_counting_rows_again() -> None:
    sv = SegmentValues(n_segments=1, n_actions=2, prior_rows=0.0)
    sv.learn(np.zeros(4, dtype=int), np.array([0, 0, 1, 1]), np.zeros(4))
    sv.credit(np.zeros(2, dtype=int), np.array([0, 0]), np.array([3.0, 1.0]))  # action 0's leads moved on
    mean, _ = sv.posterior(np.array([0]), np.zeros((1, 2)))
    np.testing.assert_allclose(mean[0], [2.0, 0.0])
    assert sv.n.sum() == 4


def test_delayed_credit_counts_in_the_cells_noise_as_if_learned_with_the_row() -> None:
    """Credited later, a row's part widens its cell's spread as if learned at once (the
    product learns a row once, whole): a credit that is mostly noise must not read as sure."""
    y, c = np.array([1.0, 0.0, 2.0, 0.0]), np.array([5.0, -5.0, 4.0, -6.0])
    later, once = SegmentValues(1, 1), SegmentValues(1, 1)
    seg, act = np.zeros(4, dtype=int), np.zeros(4, dtype=int)
    later.learn(seg, act, y)
    later.credit(seg, act, c, y)
    once.learn(seg, act, y + c)
    np.testing.assert_allclose([later.s, later.ss, later.noise()], [once.s, once.ss, once.noise()])


def test_a_stage_is_worth_what_it_leads_to() -> None:
    """Stage 0 earns nothing itself, but its contacts move on to stage 1 (1 a day) within a
    step: it is worth most of stage 1's value, discounted; with no moves seen it is worth 0."""
    ov = OutcomeValues(n_stages=2, opportunity_weight=50.0, revenue_weight=0.0, unsubscribe_weight=-30.0, prior_days=0)
    ov.observe(np.array([1]), np.array([0]), np.array([1000.0]), np.array([[1000.0, 1.0], [1000.0, 1.0]]))
    v = ov.stage_values()[:, 0]
    assert v[0] == 0.0 and abs(v[1] - 84.0) < 1e-9  # a day's rate over the horizon, nobody moves
    ov.move(np.zeros(1000, dtype=int), np.zeros(1000, dtype=int), np.ones(1000, dtype=int), np.zeros(1000, dtype=int))
    v = ov.stage_values()[:, 0]
    assert 0.7 * v[1] < v[0] < v[1]
    assert ov.unsubscribe_points()[0] < -30 - 50  # a reachable early lead was worth its future


def test_chooser_keeps_to_allowed_actions_but_for_the_free_share_of_draws():
    ch = SegmentChooser(n_stages=1, n_roles=1, n_actions=3, wait=2, min_rows=0)
    seg = segment_index(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), 1)
    ch.values.learn(np.repeat(seg, 200), np.ones(400, dtype=int), np.full(400, 9.0))  # action 1 pays
    mask = np.ones((2, 3), dtype=bool)
    allowed = np.array([[True, False, True], [True, True, True]])  # row 0: action 1 lacks evidence
    args = (seg, np.zeros((2, 3)), mask, np.zeros(2), np.ones(2), np.random.default_rng(0))
    p = ch.probabilities(*args, allowed=allowed, free_share=0.1)
    assert p[0, 1] == pytest.approx(0.1) and p[1, 1] == 1.0  # only free draws reach it on row 0
    assert ch.probabilities(*args, allowed=allowed)[0, 1] == 0.0
    assert ch.probabilities(*args)[0, 1] == 1.0  # without a gate: the values' favourite


def test_the_free_share_tries_unproven_actions_however_badly_the_bandit_reads_them() -> None:
    # the bandit read -20 for action 1 from a handful of rows (one unlucky unsubscribe): drawn
    # from that value, the free share never tried it again; spread evenly over the actions the
    # apprentice does not allow yet, it gathers the evidence that then judges it
    ch = SegmentChooser(n_stages=1, n_roles=1, n_actions=4, wait=3, min_rows=0)
    seg = segment_index(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), 1)
    ch.values.learn(np.repeat(seg, 200), np.zeros(400, dtype=int), np.full(400, 1.0))  # action 0 proven
    prior = np.tile([1.0, -20.0, -5.0, 0.0], (2, 1))
    mask = np.ones((2, 4), dtype=bool)
    mask[1, 2] = False
    allowed = np.array([[True, False, False, True], [True, False, False, True]])
    args = (seg, prior, mask, np.zeros(2), np.ones(2), np.random.default_rng(0))
    ch.explore_unproven = True  # an option (off by default: see its comment)
    p = ch.probabilities(*args, allowed=allowed, free_share=0.1)
    assert p[0, 1] == pytest.approx(0.05) and p[0, 2] == pytest.approx(0.05)  # the share split evenly
    assert p[1, 1] == pytest.approx(0.1) and p[1, 2] == 0.0  # an ineligible action is never tried
    assert p.sum(axis=1) == pytest.approx(np.ones(2))
    ch.explore_unproven = False  # the share drawn from the values: the -20 is never tried
    assert ch.probabilities(*args, allowed=allowed, free_share=0.1)[:, 1].max() < 0.01


def test_a_lucky_cell_pays_the_populations_price_for_a_touch_at_its_level() -> None:
    """A cell whose few third touches drew no unsubscribe reads as free to touch on its own;
    with ``risk_rows`` it pays the rate every third touch has shown (pooled over stages and
    roles), while a cell with thousands of its own touches keeps its own rate."""
    ch = SegmentChooser(n_stages=2, n_roles=2, n_actions=2, wait=0, min_rows=0, risk_rows=0.0)
    ch.values.unsub_points = np.array([-30.0, -30.0])
    busy, lucky, big = segment_index(np.array([0, 1, 1]), np.array([0, 1, 0]), np.full(3, 2.0), np.zeros(3), 2)
    unsub = np.r_[np.ones(250), np.zeros(4750)]  # 5% of most of the population's third touches
    ch.values.learn(np.full(5000, busy), np.ones(5000, dtype=int), 1.0 - 30 * unsub, unsubscribes=unsub)
    ch.values.learn(np.full(60, lucky), np.ones(60, dtype=int), np.ones(60), unsubscribes=np.zeros(60))
    rare = np.r_[np.ones(20), np.zeros(1980)]  # 1% in a cell with its own evidence
    ch.values.learn(np.full(2000, big), np.ones(2000, dtype=int), 1.0 - 30 * rare, unsubscribes=rare)
    args = (np.array([lucky, big]), np.zeros((2, 2)), np.ones((2, 2), bool), np.full(2, 2.0), np.ones(2))
    own, _ = ch.means(*args)
    ch.risk_rows = 100.0
    pooled, _ = ch.means(*args)
    rates = ch.touch_rates()
    assert rates[lucky, 1] > 0.02 and abs(rates[big, 1] - 0.01) < 0.002
    assert own[0, 1] > 0.7 and pooled[0, 1] < own[0, 1] - 0.3  # the lucky cell now pays
    assert abs(pooled[1, 1] - own[1, 1]) < 0.1  # the evidenced cell barely moves


def test_the_hubs_segment_step_prices_a_cells_unsubscribes_at_its_touch_levels_rate() -> None:
    """The product's learn path (decision/segment_step.py) gives the values what one
    unsubscribe weighs per action (objective weight x action value), so the hub's cells read
    the population's rate at their touch level, not their own luck."""
    from decision.features import feature_names
    from decision.segment_step import ROLES, SegmentStep
    from hub.config import ObjectiveWeights

    stages = ("subscriber", "lead")
    names = [*feature_names(), *(f"stage_{s}" for s in stages)]
    names = list(dict.fromkeys(names))
    step = SegmentStep(names, stages, ["mail", "wait"], 1, ObjectiveWeights())
    values = np.array([2.0, 1.0])
    n_roles = len(ROLES)
    busy, lucky = segment_index(np.array([0, 0]), np.array([0, 1]), np.full(2, 2.0), np.zeros(2), n_roles)
    unsub = np.r_[np.ones(40), np.zeros(960)]
    parts = [{"unsubscribe": -30.0 * u, "click": 1.0} for u in unsub] + [{"click": 1.0}] * 50
    segs = np.r_[np.full(1000, busy), np.full(50, lucky)]
    step.learn(segs, np.zeros(1050, dtype=int), parts, values, ["subscriber"] * 1050, np.ones(1050, dtype=bool))
    np.testing.assert_allclose(step.chooser.values.unsub_points, [-60.0, -30.0])
    args = (np.array([lucky]), np.zeros((1, 2)), np.ones((1, 2), bool), np.full(1, 2.0), np.ones(1))
    priced, _ = step.chooser.means(*args)
    step.chooser.risk_rows = 0.0
    own, _ = step.chooser.means(*args)
    assert own[0, 0] > priced[0, 0] + 0.5  # its 50 mails without an unsubscribe are not free


def test_an_under_sampled_cell_is_as_unsure_as_the_prediction_has_been_shown() -> None:
    """Cells with rows show the bandit's prediction for action 1 about 6 points low: a cell of
    two rows and an empty one are then drawn with about that spread (fixed 20 pseudo-rows
    made them as sure as 20 rows, and draws never tried them again), while every mean stays
    the prediction shrunk as before, and a prediction as good as stated changes nothing."""
    rng = np.random.default_rng(3)
    fixed, fitted = (SegmentValues(n_segments=12, n_actions=2, noise_variance=25.0, measured_spread=f) for f in (0, 1))
    seg = np.r_[np.repeat(np.arange(10), 200), 10, 10]  # ten cells of 200 rows, one of two rows
    y = np.r_[4.0 + np.repeat(np.arange(10), 200) % 3 + rng.normal(0, 5, 2000), 4.0, 4.0]  # truly 4-6
    for sv in (fixed, fitted):
        sv.learn(seg, np.ones(len(seg), dtype=int), y)
    rows = np.repeat(np.arange(12), 10)  # a batch of ten contacts per cell
    wrong = np.tile([0.0, -1.0], (120, 1))  # the prediction: -1 everywhere
    (m_fixed, sd_fixed), (m_fit, sd_fit) = fixed.posterior(rows, wrong), fitted.posterior(rows, wrong)
    np.testing.assert_allclose(m_fit, m_fixed)
    assert sd_fixed[110, 1] < 1.2 < 4.0 < sd_fit[110, 1]  # the empty cell: about 6 points off
    assert sd_fixed[100, 1] < 1.2 < 3.0 < sd_fit[100, 1]  # two rows: still mostly the prediction's error
    assert sd_fit[0, 1] < 0.7  # a cell of 200 rows: mostly its rows
    good = np.tile([0.0, 5.0], (120, 1))  # a prediction about as good as stated
    assert abs(fitted.posterior(rows, good)[1][110, 1] - fixed.posterior(rows, good)[1][110, 1]) < 0.5
