"""Smoke test of bench/impact_truth.py on a tiny world: the ablation run, the full run and the
run without the component all finish, and each component gets one row of analyzer, same-people
truth and separate-run truth."""

from __future__ import annotations

import math

import pytest

from bench.impact_truth import jobs, off_engine, run, table
from hub.errors import DecisionError


def test_a_tiny_world_gives_one_row_per_component_with_intervals_around_their_estimates():
    rows = run([0], contacts=40, days=2, components=("send_time",), share=0.3, n_jobs=1)
    assert [(r.seed, r.component) for r in rows] == [(0, "send_time")]
    r = rows[0]
    assert r.n_engine > 0 and r.n_arm > 0  # the override reached hub.yaml: a no_send_time arm exists
    for est, lo, hi in (
        (r.store, r.store_low, r.store_high),
        (r.same_people, r.same_people_low, r.same_people_high),
        (r.truth, r.truth_low, r.truth_high),
    ):
        assert math.isfinite(est) and lo <= est <= hi
    assert r.covered == (r.store_low <= r.truth <= r.store_high)
    assert "send_time" in table(rows).splitlines()[1]


def test_each_component_is_switched_off_by_its_setting_or_a_whole_population_arm():
    assert off_engine("send_time") == {"send_time": False}
    assert off_engine("long_term_value") == {"long_term_weight": 0.0}
    assert off_engine("content") == {"experiments": {"ablations": {"content": 0.9}}}
    labels = [j[0] for j in jobs(3, 100, 7, ("content", "opt_out_model"), 0.2)]
    assert labels == ["ablations", "full", "off:content", "off:opt_out_model"]
    with pytest.raises(DecisionError, match="unknown engine component 'colour'"):
        off_engine("colour")
