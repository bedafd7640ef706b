"""The sample ratio check: quiet on arms cut by the hash as configured, loud when one arm lost contacts."""

from __future__ import annotations

import numpy as np

from decision.experiment import assign_arms
from hub.config import parse_settings
from hub.reports.srm import ALPHA, configured_shares, sample_ratio

SHARES = {"holdout": 0.1, "random": 0.05, "no_send_time": 0.05}


def _counts(arms: np.ndarray) -> dict[str, int]:
    names, n = np.unique(arms, return_counts=True)
    return dict(zip(names.tolist(), n.tolist(), strict=True))


def test_shares_come_from_the_engine_settings():
    s = parse_settings(
        {
            "decision": {
                "engine": {
                    "holdout_share": 0.1,
                    "experiments": {"random_control": 0.05, "ablations": {"send_time": 0.05}},
                }
            }
        }
    )
    assert configured_shares(s) == {**SHARES, "engine": 0.8}


def test_hashed_arms_pass_and_an_arm_that_lost_contacts_fails():
    shares = {**SHARES, "engine": 0.8}
    alarms = 0
    for salt in range(200):  # arms as the hash cuts them: alarms at the stated rate, here none
        arms = assign_arms(
            range(4_000), f"salt-{salt}", holdout_share=0.1, random_share=0.05, ablations={"send_time": 0.05}
        )
        alarms += sample_ratio(_counts(arms), shares).mismatch
    assert alarms <= 2  # 200 x 0.001 expected 0.2
    counts = _counts(
        assign_arms(range(4_000), "salt-0", holdout_share=0.1, random_share=0.05, ablations={"send_time": 0.05})
    )
    counts["holdout"] = int(counts["holdout"] * 0.75)  # a quarter of the holdout lost on the way
    lost = sample_ratio(counts, shares)
    assert lost.mismatch and lost.p_value < ALPHA and "Sample ratio mismatch" in lost.message()


def test_too_few_contacts_are_not_tested():
    few = sample_ratio({"engine": 20, "holdout": 1}, {"engine": 0.9, "holdout": 0.1})
    assert few.p_value is None and not few.mismatch and few.message() == ""
