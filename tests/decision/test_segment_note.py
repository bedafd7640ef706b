"""The explanation's words for a segment value: learned from rows, or expected with none yet."""

from __future__ import annotations

import numpy as np

from decision.segment_value import SegmentChooser


def test_a_cell_with_no_decisions_says_its_value_is_expected_not_learned() -> None:
    ch = SegmentChooser(n_stages=1, n_roles=1, n_actions=2, wait=0, min_rows=0)
    ch.values.learn(np.zeros(3, dtype=int), np.ones(3, dtype=int), np.full(3, 2.0))
    assert ch.note(0, 1, 1.5, "lead") == "segment value: +1.5 points learned from 3 decisions on lead"
    assert ch.note(0, 0, 0.1, "lead") == "segment value: +0.1 points expected, no decisions on lead yet"


def test_one_is_said_in_the_singular() -> None:
    """The console read "learned from 1 decisions on other, manager, 1 touches this week"."""
    ch = SegmentChooser(n_stages=1, n_roles=1, n_actions=2, wait=0, min_rows=0)
    ch.values.learn(np.zeros(1, dtype=int), np.ones(1, dtype=int), np.full(1, 2.0))
    assert ch.note(0, 1, 1.5, "lead") == "segment value: +1.5 points learned from 1 decision on lead"


def test_a_segment_of_one_touch_says_touch() -> None:
    from decision.features import feature_names
    from decision.segment_step import TOUCH_LEVELS, SegmentStep
    from hub.config import ObjectiveWeights

    step = SegmentStep(list(feature_names()), ("lead",), ["mail", "wait"], 1, ObjectiveWeights())
    words = [step.label(2 * t) for t in range(TOUCH_LEVELS)]
    assert words[1].endswith(", 1 touch this week") and words[0].endswith(", 0 touches this week"), words
