"""The real-time shortcuts of decision/enrich.py and the modules it calls give the same bits.

What a decision pushes beside its action (send time, channel, lead score) is worked out on Python
numbers, from cached first draws and from a prior loaded once when there is one row; each test
here pins a shortcut to the plain formula it replaces, edge values included.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from decision.channel import CHANNELS, RESPONSE_KINDS, TOUCH_KINDS, ChannelModel, _counts_one
from decision.enrich import _POINTS_BY_KIND, _hours, profile_points
from decision.scoring.points import MIDPOINT, SCALE, points_probability
from decision.send_time import (
    ENGAGEMENT_WEIGHTS,
    FIRST_DRAWS,
    OPEN_WEIGHTS,
    SEND_WEIGHTS,
    SendTimeModel,
    _initial_state,
    _next_hour,
    _Stream,
    profile_hour_counts,
    profile_hour_counts_many,
    to_local,
    utc_offsets,
)
from hub.profile import DAY_SECONDS

NOW = datetime(2026, 12, 1, 12, 17, 5, 123456, tzinfo=UTC)
KINDS = ["page_view", "form_submit", "email_open", "email_sent", "email_click", "call", "meeting", "webinar"]


def _profiles(n: int, seed: int) -> list[dict | None]:
    """Profiles with hour and day buckets: integer and fractional counts, keys past 168."""
    rng = np.random.default_rng(seed)
    today = int(NOW.timestamp() // DAY_SECONDS)
    out: list[dict | None] = [None, {}]
    for _ in range(n - 2):
        p: dict = {"hours": {}, "days": {}, "total": {}}
        for kind in rng.choice(KINDS, int(rng.integers(0, 5)), replace=False).tolist():
            values = rng.choice([1, 2, 3, 0.1, 0.7, 2.5], 30).tolist()
            p["hours"][kind] = {str(h): v for h, v in zip(rng.integers(0, 400, 30).tolist(), values, strict=True)}
            p["days"][kind] = {
                str(today - d): v for d, v in zip(rng.integers(-3, 120, 30).tolist(), values, strict=True)
            }
            p["total"][kind] = sum(values)
        out.append(p)
    return out


def _counts_one_by_one(profiles, weightings) -> np.ndarray:
    """The plain loop: each count added into its UTC slot of the array in turn."""
    out = np.zeros((len(weightings), len(profiles), 168))
    for i, p in enumerate(profiles):
        for w_ix, weights in enumerate(weightings):
            for kind, w in weights.items():
                for h, c in ((p or {}).get("hours") or {}).get(kind, {}).items():
                    out[w_ix, i, int(h) % 168] += w * c
    return out


def test_hour_counts_in_one_scatter_are_the_counts_added_one_by_one_and_rotated():
    profiles = _profiles(40, 1)
    weightings = ({"page_view": 1.0, "email_open": 0.5}, {"email_sent": 1.0}, {"form_submit": 0.3})
    want = _counts_one_by_one(profiles, weightings)
    got = profile_hour_counts_many(profiles, weightings)
    assert got.tobytes() == want.tobytes()
    off = np.random.default_rng(2).integers(-22, 27, 40) * 30  # half-hour zones too
    shifts = ((off + 30) // 60).tolist()
    assert profile_hour_counts_many(profiles, weightings, shifts).tobytes() == to_local(want, off).tobytes()
    for i in range(40):  # one row alone
        one = profile_hour_counts_many(profiles[i : i + 1], weightings, shifts[i : i + 1])
        assert one.tobytes() == to_local(want[:, i : i + 1], off[i : i + 1]).tobytes()
    assert profile_hour_counts([None, {}]).tobytes() == np.zeros((2, 168)).tobytes()


def test_no_opens_and_no_sends_pass_as_none_and_choose_as_zeros():
    profiles = [p for p in _profiles(60, 3) if not set((p or {}).get("hours") or {}) & {"email_open", "email_sent"}]
    zones = [None, "Asia/Kolkata", "America/New_York", "Nowhere/Atlantis"] * 15
    off, known, local, opens, sends, daily = _hours(profiles, zones[: len(profiles)], NOW)
    assert opens is None and sends is None and local.any()
    zeros = np.zeros_like(local)
    seg = np.arange(len(local)) % 3
    model = SendTimeModel(seed=1).fit(local, seg)
    for i in range(len(local)):
        row = slice(i, i + 1)
        skipped = model.restart(7, model).choose(local[row], seg[row], NOW, off[row], known[row], daily=daily[row])
        both = model.restart(7, model).choose(
            local[row], seg[row], NOW, off[row], known[row], opens=zeros[row], sends=zeros[row]
        )
        assert skipped.field_value == both.field_value
    with_email = _profiles(30, 4)
    assert _hours(with_email, [None] * 30, NOW)[3] is not None


@pytest.mark.parametrize("takes", [[1], [1, 7], [1, 7, 1], [3, 9, 2], [8, 1], [20]])
def test_a_streams_first_draws_are_its_generators(takes):
    """Draws read from the cached first ones, then from the generator set and moved past them,
    are the generator's numbers in order; a restart goes back to the start."""
    stream, twin = _Stream(11), np.random.default_rng([11, 2024])
    for k in takes:
        assert stream.uniform(k) == twin.random(k).tolist()
    assert stream.generator.random() == twin.random()
    stream.restart(12)
    assert stream.uniform(FIRST_DRAWS) == np.random.default_rng([12, 2024]).random(FIRST_DRAWS).tolist()
    stream.restart(11)
    assert stream.generator.bit_generator.state == _initial_state(11)


def test_a_model_restarted_from_its_prior_keeps_it_until_either_changes():
    rng = np.random.default_rng(5)
    local, seg = rng.poisson(0.4, (50, 168)).astype(float), rng.integers(0, 3, 50)
    prior = SendTimeModel(seed=1).fit(local, seg)
    model = SendTimeModel(seed=2)

    def fresh(seed: int, source: SendTimeModel) -> SendTimeModel:
        return SendTimeModel(seed=seed).load_prior(source)

    def same(a: SendTimeModel, b: SendTimeModel) -> None:
        assert a.segment_counts.keys() == b.segment_counts.keys()
        for s in a.segment_counts:
            np.testing.assert_array_equal(a.segment_counts[s], b.segment_counts[s])
        np.testing.assert_array_equal(a.population_counts, b.population_counts)
        np.testing.assert_array_equal(a._log_spread, b._log_spread)
        row = slice(3, 4)
        ca = a.choose(local[row], seg[row], NOW, np.array([60]))
        cb = b.choose(local[row], seg[row], NOW, np.array([60]))
        assert ca.field_value == cb.field_value and a._rng.random() == b._rng.random()

    kept = model.restart(9, prior).segment_counts
    assert model.restart(9, prior).segment_counts is kept  # loaded once
    same(model.restart(9, prior), fresh(9, prior))
    model.fit(local[:10], seg[:10])  # this model learns: the next restart reloads
    same(model.restart(9, prior), fresh(9, prior))
    prior.fit(local[10:], seg[10:])  # the prior learns: reloaded too
    same(model.restart(10, prior), fresh(10, prior))
    other = SendTimeModel(seed=3).fit(local[:5], seg[:5])
    same(model.restart(10, other), fresh(10, other))
    empty = model.restart(4)
    assert empty.segment_counts == {} and not empty.population_counts.any()
    same(model.restart(4, prior), fresh(4, prior))


@pytest.mark.parametrize(
    "now",
    [
        NOW,
        NOW.replace(minute=0, second=0, microsecond=0),
        NOW.replace(tzinfo=None),
        datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),
    ],
)
def test_the_next_hour_from_its_fields_is_the_replaced_hour(now):
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    want = aware.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    got = _next_hour(now)
    assert got == want and got.tzinfo is want.tzinfo and got.fold == want.fold and repr(got) == repr(want)


def test_one_rows_probability_is_the_array_formula_bit_for_bit():
    rng = np.random.default_rng(8)
    points = np.concatenate(
        [rng.uniform(-40, 140, 20_000), rng.normal(MIDPOINT, 1e-3, 2_000), [0.0, -0.0, 100.0, 70.0, 1e308, -1e308]]
    )
    points = np.concatenate([points, [np.nan, np.inf, -np.inf]])
    with np.errstate(over="ignore"):
        want = 1.0 / (1.0 + np.exp(-(points - MIDPOINT) / SCALE))
        got = np.concatenate([points_probability(points[i : i + 1]) for i in range(len(points))])
    assert got.tobytes() == want.tobytes()
    assert points_probability(points[:3]).tobytes() == want[:3].tobytes()


def test_points_skipping_unseen_kinds_are_the_points_of_every_line():
    profiles = _profiles(300, 9)
    today = int(NOW.timestamp() // DAY_SECONDS)
    want = []
    for p in profiles:
        days = (p or {}).get("days") or {}
        total = 0.0
        for kind, w, each, cap in _POINTS_BY_KIND:
            total += min(each * sum(c for d, c in days.get(kind, {}).items() if 0 <= today - int(d) < w), cap)
        want.append(total)
    expected = np.clip(np.array(want), 0.0, 100.0)
    assert profile_points(profiles, NOW).tobytes() == expected.tobytes()
    for i in range(len(profiles)):
        assert profile_points(profiles[i : i + 1], NOW).tobytes() == expected[i : i + 1].tobytes()


def test_one_profiles_channel_counts_are_the_sums_of_its_kinds():
    rng = np.random.default_rng(10)
    kinds = [k for c in CHANNELS for k in (*TOUCH_KINDS[c], *RESPONSE_KINDS[c])] + ["page_view"]
    values = [0, 1, 3, -2, 0.1, 0.7, -0.0, 2**60 + 1, math.inf, math.nan]
    for _ in range(2_000):
        total = {
            k: values[int(rng.integers(0, len(values)))] for k in rng.permutation(kinds)[: int(rng.integers(0, 9))]
        }
        t = [float(sum(total.get(k, 0) for k in TOUCH_KINDS[c])) for c in CHANNELS]
        r = [float(sum(total.get(k, 0) for k in RESPONSE_KINDS[c])) for c in CHANNELS]
        got_t, got_r = _counts_one({"total": total})
        assert repr(got_t) == repr(t)
        assert repr(got_r) == repr([min(b, a) for b, a in zip(r, t, strict=True)])


def test_one_row_channel_choice_with_infinite_or_odd_counts_is_the_array_choice():
    """Rows the Python path leaves to the arrays (a count infinite or NaN) choose and fit alike."""
    from decision.channel import allowed_channels, channel_counts

    rng = np.random.default_rng(12)
    odd = [math.inf, -math.inf, math.nan, -1.0, 0.0, 5.0]
    fast, arrays = ChannelModel(switch_ratio=1.5), ChannelModel(switch_ratio=1.5)
    for _ in range(300):
        total = {k: odd[int(rng.integers(0, len(odd)))] for k in ("email_sent", "email_open", "call", "meeting")}
        channel = ["email", "phone", "ads"][int(rng.integers(0, 3))]
        profiles, channels, opt_out, dnc = [{"total": total}], [channel], [bool(rng.random() < 0.3)], [False]
        t, r = channel_counts(profiles)
        arrays.fit(t, r)
        want = arrays.choose(t, r, allowed_channels(channels, opt_out, dnc))[1]
        got = fast.fit_choose_rows(profiles, channels, opt_out, dnc)
        if got is None:  # the caller's array steps
            fast.fit(t, r)
            got = fast.choose(t, r, allowed_channels(channels, opt_out, dnc))[1]
        assert got == want
        assert fast.population_rate.tobytes() == arrays.population_rate.tobytes()


def test_a_one_row_posterior_is_the_row_of_the_max_subtracting_formula():
    """The one-row posterior subtracts a Python max: the same floats, NaN and infinities too."""
    model = SendTimeModel(seed=3).fit(np.random.default_rng(1).poisson(0.4, (30, 168)).astype(float), np.zeros(30))
    rng = np.random.default_rng(14)
    for case in range(60):
        daily = rng.poisson(0.5, (1, 24)).astype(float)
        if case % 6 == 1:
            daily[0, int(rng.integers(0, 24))] = np.nan
        if case % 6 == 2:
            daily[0, int(rng.integers(0, 24))] = np.inf
        log_post = model.log_prior(np.array([0])) + daily @ model._log_spread
        with np.errstate(invalid="ignore"):
            post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
            want = post / post.sum(axis=1, keepdims=True)
            got = model.posterior(np.zeros((1, 168)), np.array([0]), daily=daily)
        assert got.tobytes() == want.tobytes()


def test_utc_offsets_still_read_each_zone_at_now():
    off, known = utc_offsets(["Asia/Kolkata", None, "Nowhere/Atlantis", "America/St_Johns"], NOW)
    assert off.tolist() == [330, 0, 0, -210] and known.tolist() == [True, False, False, True]
    counts = _counts_one_by_one(_profiles(6, 2)[2:3], (ENGAGEMENT_WEIGHTS, OPEN_WEIGHTS, SEND_WEIGHTS))
    assert (
        profile_hour_counts_many(_profiles(6, 2)[2:3], (ENGAGEMENT_WEIGHTS,), [6]).tobytes()
        == to_local(counts[:1], np.array([330])).tobytes()
    )
