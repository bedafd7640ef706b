"""Apprentice graduation by measured evidence: the engine hands over completely once its
off-policy value beats the holdout's rules with a 95 % lower bound above zero, not before, never
without a holdout, and the hand-over is saved with the model."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from decision.engine import EnginePolicy
from decision.interface import ContactView
from hub.config import DecisionSettings
from hub.models import Contact
from hub.profile import build_profile

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
RULES = [
    {
        "name": "nurture",
        "when": "True",
        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "email_nurture_business"}}],
    }
]
FAVOURITE = "email_nurture_technical"


def _engine(**engine) -> EnginePolicy:
    base = {"explore_share": 0.0, "long_term_weight": 0.0, "graduation_min_evidence": 100, "seed": 1}
    p = EnginePolicy(DecisionSettings(rules=RULES, engine={**base, **engine}))
    X = np.zeros((1, len(p.features([ContactView(contact=Contact(id=1))], NOW).names)))
    inner = p.model.policy
    inner.choose_many(X)
    inner.mean_[p.ids.index(FAVOURITE), -1] = 50.0  # the model prefers it, but has seen nothing:
    inner.cov_ *= 1e-8  # no action is mature, so the apprentice follows the rules
    return p


def _log(p: EnginePolicy, n: int, engine_reward: float, rules_reward: float, seed: int = 0):
    """Engine rows: uniform random actions (propensity 1/k), the favourite paying
    ``engine_reward``, the rest 0; holdout rows: the rules' action paying ``rules_reward``."""
    rng = np.random.default_rng(seed)
    k = len(p.ids)
    d = len(p.features([ContactView(contact=Contact(id=1))], NOW).names)
    a = rng.integers(0, k, n)
    actions = [p.ids[i] for i in a]
    rewards = np.where(a == p.ids.index(FAVOURITE), engine_reward, 0.0) + rng.normal(0, 1, n)
    arms = ["engine"] * n
    props = np.full(n, 1.0 / k)
    hold = n // 2
    actions += ["email_nurture_business"] * hold
    rewards = np.concatenate([rewards, rules_reward + rng.normal(0, 1, hold)])
    arms += ["holdout"] * hold
    props = np.concatenate([props, np.ones(hold)])
    return np.zeros((n + hold, d)), actions, arms, rewards, props


def _batch(n: int) -> list[ContactView]:
    return [ContactView(contact=Contact(id=i + 1), profile=build_profile([], NOW)) for i in range(n)]


def _engine_actions(p: EnginePolicy) -> set[str]:
    return {d.action for d in p.decide(_batch(60), NOW) if d.arm == "engine"}


def test_graduates_once_the_engine_beats_the_rules_and_then_chooses_freely():
    p = _engine()
    assert _engine_actions(p) == {"email_nurture_business"}  # apprentice: the rules' action
    assert not p.measure_graduation(*_log(p, 300, engine_reward=2.0, rules_reward=0.5, seed=1))  # ~30 matched rows
    graduated = False
    for step in range(2, 12):
        graduated = p.measure_graduation(*_log(p, 300, engine_reward=2.0, rules_reward=0.5, seed=step))
        if graduated:
            break
    assert graduated and p.model.graduated
    ev = p.graduation.report()
    assert ev["engine_ess"] >= 100 and ev["lower_bound"] > 0 and abs(ev["engine_value"] - 2.0) < 0.4
    assert abs(ev["rules_value"] - 0.5) < 0.15 and ev["agreement"] == 0.0  # greedy never picks the rules' action
    assert _engine_actions(p) == {FAVOURITE}  # free of the rules now, though nothing is "mature"
    again = _engine()
    again.load_model(2, p.snapshot())
    assert again.model.graduated and _engine_actions(again) == {FAVOURITE}


def test_no_graduation_when_the_engine_is_not_better_or_there_is_no_holdout():
    tie = _engine()
    for step in range(12):
        assert not tie.measure_graduation(*_log(tie, 300, engine_reward=1.0, rules_reward=1.0, seed=step))
    assert tie.graduation.report()["engine_ess"] > 300 and not tie.model.graduated
    worse = _engine()
    for step in range(12):
        assert not worse.measure_graduation(*_log(worse, 300, engine_reward=0.5, rules_reward=2.0, seed=step))
    no_rules = EnginePolicy(DecisionSettings(engine={"graduation_min_evidence": 10}))
    X, actions, arms, rewards, props = _log(no_rules, 300, 2.0, 0.5)
    no_holdout = [a if a == "engine" else "engine" for a in arms]
    assert not no_rules.measure_graduation(X, actions, no_holdout, rewards, props)
    assert no_rules.graduation.report()["rules_n"] == 0
