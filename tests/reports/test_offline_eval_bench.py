"""Smoke test of bench/offline_eval_accuracy.py at a tiny scale: the log, the truths and the estimates agree."""

from __future__ import annotations

import numpy as np

from bench.offline_eval_accuracy import case_study_weekly, legacy, logging_policy, main, simulate


def test_logged_propensities_and_truth_on_the_logged_states_are_consistent():
    log, true, _ = simulate(
        logging_policy(0.3), 600, 14, seed=0, candidates={"legacy": legacy, "cs": case_study_weekly}
    )
    rows = np.arange(len(log.actions))
    assert np.allclose(log.logging.sum(axis=1), 1.0)
    assert np.allclose(log.propensities, log.logging[rows, log.actions])
    assert log.propensities.min() > 0
    # IPS on the noise-free expected rewards is unbiased, so it lands close to the truth on the logged states
    for name in ("legacy", "cs"):
        w = log.targets[name][rows, log.actions] / log.propensities
        terms = w * log.expected
        assert abs(terms.mean() - log.truth_on_log[name]) < 4 * terms.std() / np.sqrt(len(terms))
    # the same numbers summed in another order: equal up to rounding
    assert np.isclose(np.mean(log.expected), true, rtol=1e-12, atol=0)


def test_quick_run_prints_a_summary_for_three_candidates(capsys):
    doc = main(["--contacts", "200", "--days", "7", "--seeds", "1", "--bootstrap", "100"])
    out = capsys.readouterr().out
    assert len(doc["summary"]) == 9  # three candidates x three estimators
    assert out.strip().splitlines()[-1].startswith('{"bench": "offline_eval_accuracy"')
    legacy_ips = doc["summary"]["legacy/ips"]
    assert legacy_ips["estimate"] < 0.5 and 0.0 <= legacy_ips["coverage_logged_states"] <= 1.0
