"""The explanation's words for a segment value: learned from rows, or expected with none yet."""

from __future__ import annotations

import numpy as np

from decision.segment_value import SegmentChooser


def test_a_cell_with_no_decisions_says_its_value_is_expected_not_learned() -> None:
    ch = SegmentChooser(n_stages=1, n_roles=1, n_actions=2, wait=0, min_rows=0)
    ch.values.learn(np.zeros(3, dtype=int), np.ones(3, dtype=int), np.full(3, 2.0))
    assert ch.note(0, 1, 1.5, "lead") == "segment value: +1.5 points learned from 3 decisions on lead"
    assert ch.note(0, 0, 0.1, "lead") == "segment value: +0.1 points expected, no decisions on lead yet"
