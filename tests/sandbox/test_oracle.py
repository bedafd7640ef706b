"""The oracle knows the hidden truth, so it must beat the legacy playbook."""

from __future__ import annotations

import numpy as np

from hub.sandbox import ground_truth as gt
from hub.sandbox.catalog import ACTION_INDEX, CATALOG
from hub.sandbox.market import ActionBatch, Market, MarketConfig
from hub.sandbox.oracle import expected_rewards, policy_value, regret
from hub.sandbox.playbook import Playbook
from hub.sandbox.population import generate_population


def _warm(n: int = 8000, seed: int = 4, days: int = 15) -> Market:
    m = Market(generate_population(n, seed), MarketConfig(seed=seed))
    for _ in range(days):
        m.step()
    return m


def test_oracle_shape_and_argmax() -> None:
    m = _warm(500, days=2)
    r, best = expected_rewards(m)
    assert r.shape == (500, len(CATALOG))
    np.testing.assert_array_equal(best, r.argmax(1))
    assert (r[:, ACTION_INDEX["wait"]] == 0).all()


def test_oracle_expected_reward_beats_playbook() -> None:
    m = _warm()
    r, best = expected_rewards(m)
    action, hour = Playbook().decide(m)
    pb = policy_value(m, action, hour)
    oracle = r[np.arange(m.pop.n), best]
    assert oracle.mean() > pb.mean() + 0.1
    assert (oracle >= pb - 1e-9).all()
    assert regret(m, action, hour) > 0


def test_weights_change_the_oracle() -> None:
    m = _warm(2000, days=3)
    _, best = expected_rewards(m)
    _, best_fear = expected_rewards(m, gt.RewardWeights(unsubscribe=-10_000))
    safe = [ACTION_INDEX["wait"], ACTION_INDEX["ad_retarget"]]
    # Fear of unsubscribes moves choices to actions that cannot cause them.
    assert np.isin(best_fear, safe).mean() > np.isin(best, safe).mean()
    assert np.isin(best_fear, safe).mean() > 0.9


def test_oracle_policy_realizes_more_reward_than_playbook_over_a_month() -> None:
    w = gt.RewardWeights()

    def realized(use_oracle: bool) -> float:
        m = Market(generate_population(5000, 21), MarketConfig(seed=21))
        total = 0.0
        for _ in range(30):
            if use_oracle:
                _, best = expected_rewards(m)
                act, hour = best, m.pop.pref_hour
            else:
                act, hour = Playbook().decide(m)
            go = act != ACTION_INDEX["wait"]
            idx = np.flatnonzero(go)
            m.step(ActionBatch.build(idx, act[go], hour[go]))
            log = m.log[-1]
            total += float(
                w.open * log["opened"].sum()
                + w.click * log["clicked"].sum()
                + w.form * log["form"].sum()
                + w.meeting * log["meeting"].sum()
                + w.opportunity * log["opportunity"].sum()
                + w.unsubscribe * log["unsubscribe"].sum()
            )
        return total

    assert realized(True) > realized(False)


def test_playbook_sends_at_ten_portal_time_and_hands_mqls_to_sales() -> None:
    m = _warm(3000, days=25)
    pb = Playbook(mql_threshold=20)
    action, hour = pb.decide(m)
    score = pb.lead_score(m)
    mql = (score >= 20) & ~m.unsubscribed & (m.stage != 4) & m.pop.email_consent
    assert mql.any()
    assert (action[mql] == ACTION_INDEX["sales_outreach"]).all()
    ny = m.pop.tz_offset == -5
    assert (hour[ny] == 10).all()
