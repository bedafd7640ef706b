"""The learning oracle infers each person's send hour and tolerance from outcomes; its likelihood
must be ground_truth's own probabilities at the true traits, and what it learns must be real."""

from __future__ import annotations

import numpy as np

from hub.sandbox import ground_truth as gt
from hub.sandbox.catalog import ACTION_INDEX
from hub.sandbox.learning_oracle import LearningOracle, TraitPosterior, outcome_loglik, timing
from hub.sandbox.lookahead import LookaheadOracle
from hub.sandbox.market import ActionBatch, Market, MarketConfig
from hub.sandbox.population import generate_population


def _market(n: int, seed: int, days: int = 10) -> Market:
    m = Market(generate_population(n, seed), MarketConfig(seed=seed))
    for _ in range(days):
        m.step()
    return m


def test_likelihood_at_the_true_traits_is_the_markets_probability() -> None:
    m = _market(3000, 3)
    rng = np.random.default_rng(0)
    idx = np.arange(m.pop.n)
    names = ["email_nurture_technical", "content_offer_case_study", "sales_outreach", "ad_retarget"]
    action = np.array([ACTION_INDEX[a] for a in names])[rng.integers(0, 4, m.pop.n)]
    hour = rng.integers(6, 22, m.pop.n)
    chan = np.where(rng.random(m.pop.n) < 0.5, gt.CHANNEL[action], 0)
    batch = ActionBatch.build(idx, action, hour, chan)
    m.touches[:, (m.day - 1) % 7] = rng.integers(0, 4, m.pop.n)  # some people already touched this week
    before = m.touches_7d.copy()
    p = m.probabilities(batch)
    # outcomes drawn and fed as if the market had run them
    opened, met, left = rng.random((3, m.pop.n)) < np.stack([p["open"], p["meeting"], p["unsubscribe"]])
    known = {
        "day": np.full(m.pop.n, m.day),
        "stage": m.stage.copy(),
        "mail_ok": m.pop.email_consent & ~m.unsubscribed,
        "phone_ok": ~m.pop.do_not_call & ~m.unsubscribed,
        "opened": opened,
        "meeting": met,
        "unsubscribe": left,
    }
    who, ll = outcome_loglik(m, batch, before, known)
    kind = gt.KIND[action[who]]
    mail = (kind == gt.K_EMAIL) | (kind == gt.K_OFFER)
    assert set(kind) == {gt.K_EMAIL, gt.K_OFFER, gt.K_SALES}  # ads teach nothing about hour or tolerance
    at_truth = ll[np.arange(len(who)), m.pop.pref_hour[who], m.pop.tolerance[who] - 1]

    def bern(prob: np.ndarray, hit: np.ndarray) -> np.ndarray:
        return np.where(hit, np.log(prob + 1e-9), np.log1p(-prob))

    expect = bern(p["unsubscribe"][who], left[who]) + np.where(
        mail, bern(p["open"][who], opened[who]), bern(p["meeting"][who], met[who])
    )
    np.testing.assert_allclose(at_truth, expect, rtol=1e-6, atol=1e-6)


def test_posterior_learns_the_hour_and_keeps_the_population_prior_without_evidence() -> None:
    pop = generate_population(4000, 5)
    post = TraitPosterior(pop.role)
    prior_tol = post.probabilities().sum(axis=1).mean(axis=0)
    np.testing.assert_allclose(prior_tol, [0.15, 0.3, 0.3, 0.15, 0.1], atol=1e-6)
    assert (post.tolerance(0.35) == 2).all() and (post.tolerance(0.5) == 3).all()
    # 20 organic days per person at hours drawn as the market draws them
    rng = np.random.default_rng(1)
    for _ in range(20):
        local = np.clip(pop.pref_hour + rng.integers(-3, 4, pop.n), 0, 23)
        post.add_organic(np.arange(pop.n), local)
    err = np.abs(post.send_hour() - pop.pref_hour)
    prior_err = np.abs(np.where(pop.role == 0, 14, 9) - pop.pref_hour)
    assert np.mean(err <= 1) > 0.9 > np.mean(prior_err <= 1)
    # timing is best at the preferred hour, 1.2 there and 0.55 far away
    t = timing(np.array([10]))[0]
    assert t.argmax() == 10 and np.isclose(t.max(), 1.2) and np.isclose(t[22], 0.55, atol=1e-3)


def test_learning_oracle_earns_between_its_prior_and_the_full_oracle() -> None:
    """Over six weeks the oracle that learns earns more than one stuck on its prior (sends at
    the role's mean hour, tolerance 2) and less than the one that reads the traits."""
    n, days = 2000, 42

    def run(kind: str) -> float:
        m = Market(generate_population(n, 11), MarketConfig(seed=11))
        learner = LearningOracle(m, days)
        full = LookaheadOracle(days)
        total = 0.0
        for _ in range(days):
            if kind == "full":
                best, hour, chan = full(m)
            else:
                best, hour, chan = learner.decide(m)
            act = np.flatnonzero(best != ACTION_INDEX["wait"])
            ev = m.step(ActionBatch(act, best[act], hour[act].astype(np.int64), chan[act]))
            if len(act):
                total += float(m.log[-1]["expected_reward"].sum())
            if kind == "learns":  # the prior-only oracle never observes
                learner.observe(m, ev)
        return total

    prior, learns, full = run("prior"), run("learns"), run("full")
    assert prior < learns < full
    assert learns > 1.1 * prior
