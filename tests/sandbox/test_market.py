"""The simulator: determinism, speed, dirty data and the ground truth's documented effects."""

from __future__ import annotations

import time

import numpy as np

from hub.sandbox import ground_truth as gt
from hub.sandbox.catalog import ACTION_IDS, ACTION_INDEX, CATALOG, get_action
from hub.sandbox.market import ActionBatch, Market, MarketConfig
from hub.sandbox.population import generate_population


def _run(seed: int, days: int = 5, n: int = 3000) -> tuple[list[dict], dict]:
    m = Market(generate_population(n, seed), MarketConfig(seed=seed))
    out = []
    for d in range(days):
        idx = np.arange(d, n, 7)
        out.append(m.step(ActionBatch.build(idx, idx % len(CATALOG))))
    return out, m.log_arrays()


def test_same_seed_same_world_and_different_seed_differs() -> None:
    a, la = _run(3)
    b, lb = _run(3)
    c, _ = _run(4)
    for x, y in zip(a, b, strict=True):
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])
    for k in la:
        np.testing.assert_array_equal(la[k], lb[k])
    assert any(
        len(x["person"]) != len(z["person"]) or not np.array_equal(x["type"], z["type"])
        for x, z in zip(a, c, strict=True)
    )


def test_catalog_ids_are_stable_and_complete() -> None:
    assert {
        "email_nurture_technical",
        "email_nurture_business",
        "content_offer_whitepaper",
        "content_offer_case_study",
        "webinar_invite",
        "sales_outreach",
        "ad_retarget",
        "wait",
    } <= set(ACTION_IDS)
    assert 8 <= len(CATALOG) <= 12
    assert {a.kind for a in CATALOG} == {
        "email",
        "content_offer",
        "sales_outreach",
        "ad_audience",
        "wait",
    }
    assert get_action("wait").channel == "none"


def test_hundred_thousand_people_step_a_day_well_under_a_second() -> None:
    m = Market(generate_population(100_000, seed=1))
    batch = ActionBatch.build(np.arange(0, 100_000, 5), np.arange(20_000) % len(CATALOG))
    m.step(batch)
    t = time.perf_counter()
    m.step(batch)
    assert time.perf_counter() - t < 0.5


def test_about_five_percent_dirty_data() -> None:
    pop = generate_population(20_000, seed=2)
    assert 0.04 < pop.dirty.mean() < 0.06
    assert any(e is None for e in pop.sf_email_variant)
    both = np.flatnonzero(pop.in_hubspot & pop.in_salesforce)
    case_diff = [
        i
        for i in both
        if pop.sf_email_variant[i]
        and pop.hs_email_variant[i]
        and pop.sf_email_variant[i] != pop.hs_email_variant[i]
        and pop.sf_email_variant[i].strip().lower() == pop.hs_email_variant[i].strip().lower()
    ]
    assert len(case_diff) > 50
    assert any(len(n) > 80 for n in pop.last_name)
    assert any(not n.isascii() for n in pop.first_name)
    assert pop.bad_date.sum() > 50
    assert len(set(pop.company_industry.tolist())) >= 8


def _probs(
    m: Market, action: str, hour: np.ndarray | None = None, idx: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    idx = np.arange(m.pop.n) if idx is None else idx
    return m.probabilities(
        ActionBatch.build(
            idx,
            np.full(len(idx), ACTION_INDEX[action]),
            m.pop.pref_hour[idx] if hour is None else hour,
        )
    )


def test_preferred_hour_raises_opens() -> None:
    m = Market(generate_population(4000, seed=5))
    best = _probs(m, "email_nurture_business")["open"]
    worst = _probs(m, "email_nurture_business", (m.pop.pref_hour + 12) % 24)["open"]
    ok = best > 0
    assert (best[ok] > worst[ok]).all()


def test_mailing_beyond_tolerance_causes_unsubscribes() -> None:
    m = Market(generate_population(4000, seed=5))
    calm = _probs(m, "email_nurture_technical")["unsubscribe"].mean()
    m.touches[:, 0] = 6
    tired = _probs(m, "email_nurture_technical")["unsubscribe"].mean()
    assert tired > 5 * calm


def test_early_sales_outreach_hurts_and_late_helps() -> None:
    m = Market(generate_population(6000, seed=6))
    early = np.flatnonzero(m.stage == 0)
    m.stage[:] = 0
    p0 = _probs(m, "sales_outreach", idx=early)
    m.stage[:] = 3
    p3 = _probs(m, "sales_outreach", idx=early)
    assert p0["meeting"].mean() < p3["meeting"].mean() / 5
    assert p0["unsubscribe"].mean() > p3["unsubscribe"].mean()
    assert p0["win"].mean() < p3["win"].mean()


def test_relevant_nurture_raises_intent() -> None:
    m = Market(generate_population(5000, seed=8))
    tech = np.flatnonzero(
        (m.pop.affinity > 0.8) & (m.pop.role == 0) & (m.stage == 1) & m.pop.email_consent & ~m.unsubscribed
    )
    before = m.intent[tech].copy()
    drift = Market(generate_population(5000, seed=8))
    drift.step()
    m.step(ActionBatch.build(tech, np.full(len(tech), ACTION_INDEX["email_nurture_technical"]), m.pop.pref_hour[tech]))
    assert (m.intent[tech] - before).mean() > (drift.intent[tech] - before).mean()


def test_regime_shift_changes_topic_appeal() -> None:
    shift = gt.RegimeShift(day=3, topic="technical", factor=0.3)
    m = Market(generate_population(3000, seed=9), MarketConfig(seed=9, regime_shift=shift))
    before = _probs(m, "content_offer_whitepaper")["click"].mean()
    for _ in range(3):
        m.step()
    after = _probs(m, "content_offer_whitepaper")["click"].mean()
    assert m.day == 3 and after < 0.6 * before
    assert gt.appeal(2, shift)[0] == 1.0 and gt.appeal(3, shift)[0] == 0.3


def test_opportunities_open_and_close_won_or_lost() -> None:
    m = Market(generate_population(20_000, seed=10))
    types: list[int] = []
    for _ in range(70):
        types.extend(m.step()["type"].tolist())
    from hub.sandbox.market import EV

    assert types.count(EV["opportunity_created"]) > 0
    assert types.count(EV["opportunity_won"]) + types.count(EV["opportunity_lost"]) > 0


def test_open_opportunity_cannot_open_again_in_truth_and_in_the_market() -> None:
    """The truth's expected opportunities match what the market draws, open deals included."""
    m = Market(generate_population(6000, seed=9), MarketConfig(seed=9))
    who = np.flatnonzero(~m.pop.do_not_call & ~m.unsubscribed)
    m.stage[who] = 3
    m.opp_open[who[::2]] = True
    m.opp_close_day[who[::2]] = 10_000
    p = _probs(m, "sales_outreach", idx=who)
    assert (p["opportunity"][::2] == 0).all() and (p["opportunity"][1::2] > 0).all()
    expected, drawn = 0.0, 0
    for _ in range(4):
        batch = ActionBatch.build(who, np.full(len(who), ACTION_INDEX["sales_outreach"]), m.pop.pref_hour[who])
        expected += float(m.probabilities(batch)["opportunity"].sum())
        m.step(batch)
        drawn += int(m.log_arrays()["opportunity"][-len(who) :].sum())
    assert drawn > 50
    assert abs(drawn - expected) < 4 * np.sqrt(expected)
