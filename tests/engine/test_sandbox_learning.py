"""The engine learns against the sandbox market through the real HubSpot connector.

The legacy playbook calls every contact (in this market, calling early-stage leads makes them
unsubscribe). It is the apprentice's cold-start baseline; over simulated weeks the engine
gathers evidence, takes over action by action, and the reward per decision rises. The scenario
lives in ``bench/sandbox_learning.py``, which runs it on many worlds; this is world 3. Its
simulated clock ticks per reading, not with the wall, so the run is the same on any machine
(with wall time, a loaded CI machine once took a different learning path).
"""

from __future__ import annotations

from bench.sandbox_learning import BAR, run


def test_reward_per_decision_rises_as_the_engine_learns(tmp_path):
    r = run(world_seed=3, workdir=tmp_path)
    print(r)
    assert r.models >= 3  # learned and snapshotted repeatedly
    # the ground truth is the firm check (expected reward: no outcome noise); the hub's own
    # observed reward is noisy (a meeting is worth 200 opens), so it only has to rise
    assert r.truth_last > r.truth_first + BAR
    assert r.observed_last > r.observed_first
