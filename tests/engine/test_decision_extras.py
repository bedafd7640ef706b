"""Channel, content slots, long-term value and the fields the engine pushes with an action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from decision.channel import CHANNELS, ChannelModel, allowed_channels
from decision.content import ContentSlots
from decision.engine import EnginePolicy
from decision.interface import ContactView
from decision.long_term import LongTermValue, rerank
from hub.config import DecisionSettings
from hub.models import Activity, ActivityType, Company, Consent, Contact
from hub.profile import build_profile

NOW = datetime(2026, 3, 2, 6, tzinfo=UTC)


def test_channel_respects_consent_and_action_then_prefers_the_responsive_one():
    allowed = allowed_channels(["phone", "phone", "email", "ads"], [False, True, True, False], [False] * 4)
    assert allowed[1, CHANNELS.index("email")] == 0 and allowed[1, CHANNELS.index("sales_call")]
    assert not allowed[2].any()  # an email action for an opted-out contact has no channel
    assert allowed[3].tolist() == [False, True, False, False]
    m = ChannelModel()
    touches = np.zeros((200, 4))
    responses = np.zeros((200, 4))
    touches[:, 0], responses[:, 0] = 10, 0  # ignores email
    touches[:, 2], responses[:, 2] = 6, 6  # answers calls
    idx, names = m.choose(touches, responses, allowed_channels(["phone"] * 200, [False] * 200, [False] * 200))
    assert np.mean(idx == CHANNELS.index("sales_call")) > 0.9
    none, names = m.choose(touches[:1], responses[:1], np.zeros((1, 4), bool))
    assert none[0] == -1 and names == ["none"]


def test_channel_model_survives_more_responses_than_touches():
    """A meeting booked from a web form counts as a sales-call response without any call: raw
    counts with responses above touches must not break the lifts or the population rate."""
    touches = np.zeros((50, 4))
    responses = np.zeros((50, 4))
    touches[:, 2], responses[:, 2] = 0, 3  # meetings, never called
    touches[:, 0], responses[:, 0] = 4, 1
    m = ChannelModel().fit(touches, responses)
    assert ((m.population_rate >= 0) & (m.population_rate <= 1)).all(), m.population_rate
    idx, _ = m.choose(touches, responses, np.ones((50, 4), dtype=bool))
    assert (idx >= 0).all() and np.isfinite(m.lift(touches, responses)).all()


def test_content_slots_learn_the_winning_variant_per_slot():
    s = ContentSlots({"subject": ["a", "b", "c"], "cta": ["x", "y"]}, seed=1)
    rng = np.random.default_rng(0)
    for _ in range(20):
        chosen = s.choose(100)
        subj, cta = chosen["content_subject"], chosen["content_cta"]
        opened = rng.random(100) < np.array([{"a": 0.1, "b": 0.4, "c": 0.1}[v] for v in subj])
        clicked = opened & (rng.random(100) < np.array([{"x": 0.1, "y": 0.5}[v] for v in cta]))
        pushed = [{"content_subject": a, "content_cta": b} for a, b in zip(subj, cta, strict=True)]
        s.learn_outcomes(pushed, opened, clicked)
    assert s.best() == {"content_subject": "b", "content_cta": "y"}
    late = s.choose(500)
    assert late["content_subject"].count("b") > 400
    assert s.learn("subject", ["retired"], [1.0]) == 0  # variants no longer configured are ignored


def test_long_term_learns_lift_and_overrules_a_harmful_short_term_pick():
    lt = LongTermValue(n_actions=3, n_stages=2, prior_strength=5)  # 0 nurture, 1 sales, 2 wait
    rng = np.random.default_rng(0)
    acts = rng.integers(0, 3, 3000)
    stages = np.zeros(3000, dtype=int)
    p = np.where(acts == 0, 0.15, np.where(acts == 1, 0.02, 0.08))  # sales burns early leads
    lt.learn(acts, stages, rng.random(3000) < p, wait_action=2)
    lift = lt.lift()[:, 0]
    # sales' harm (-0.06) counts less two standard errors (about 0.02): still clearly a harm
    assert lift[0] > 0.04 and lift[1] < -0.03 and abs(lift[2]) < 0.01
    value = lt.value(np.full(2, 0.1), np.zeros(2, dtype=int), np.array([10_000.0, 20_000.0]))
    assert value[1, 1] < value[0, 1] < 0 < value[0, 0]
    short = np.array([[1.0, 3.0, 0.0]])  # sales looks best today
    mask = np.ones((1, 3), bool)
    pts = value[:1] / 100
    assert rerank(np.array([1]), short, pts, mask, 0.0)[0].tolist() == [1]  # weight 0: immediate only
    new, over = rerank(np.array([1]), short, pts, mask, 0.5)
    assert new.tolist() == [0] and over.tolist() == [True]
    # a choice with no long-term harm is left to the bandit
    assert rerank(np.array([2]), short, pts, mask, 0.5)[1].tolist() == [False]


def _engine(**kw) -> EnginePolicy:
    rules = [
        {
            "name": "call",
            "when": "True",
            "actions": [{"kind": "set_fields", "fields": {"next_best_action": "sales_outreach"}}],
        }
    ]
    p = EnginePolicy(DecisionSettings(rules=rules, engine={"holdout_share": 0.0, **kw}))
    X = np.zeros((1, len(p.features([ContactView(contact=Contact(id=1))], NOW).names)))
    inner = p.model.policy
    inner.choose_many(X)
    inner.mean_[p.ids.index("sales_outreach"), -1] = 1.0  # sales a little better today
    inner.mean_[p.ids.index("email_nurture_business"), -1] = 0.9
    inner.n_obs_[:] = 1000
    inner.cov_ *= 1e-8
    return p


def _lead(i: int, tz: str | None = "Europe/Berlin") -> ContactView:
    views = [
        Activity(
            source="x",
            external_id=f"{i}-{k}",
            type=ActivityType.PAGE_VIEW,
            occurred_at=NOW - timedelta(days=k, hours=-9),
        )
        for k in range(1, 8)
    ]
    c = Contact(id=i, lifecycle_stage="lead", company=Company(timezone=tz), consent=Consent())
    return ContactView(contact=c, profile=build_profile(views, NOW))


def test_engine_prefers_nurture_over_a_premature_sales_push_and_says_why():
    batch = [_lead(i) for i in range(1, 21)]
    short_only = _engine(long_term_weight=0.0, explore_share=0.0).decide(batch, NOW)
    assert all(d.action == "sales_outreach" for d in short_only)
    blended = _engine(long_term_weight=0.5, explore_share=0.0).decide(batch, NOW)
    assert all(d.action == "email_nurture_business" for d in blended)
    assert all(d.propensity == 1.0 for d in blended)
    assert "raises the chance of an eventual deal" in blended[0].explanation
    assert "over sales_outreach" in blended[0].explanation


def test_engine_pushes_send_time_channel_content_and_value_fields():
    batch = [_lead(i) for i in range(1, 11)] + [_lead(99, tz=None)]
    decisions = _engine(long_term_weight=0.5, explore_share=0.0).decide(batch, NOW)
    for d in decisions:
        fields = d.actions[0].payload["fields"]
        assert fields["next_best_action"] == "email_nurture_business"
        assert fields["best_channel"] == "email"
        assert {"content_subject", "content_hero", "content_body", "content_cta"} <= set(fields)
        assert 0 <= fields["lead_score"] <= 100 and 0 < fields["conversion_probability"] < 1
        assert fields["expected_value"] > 0
    berlin = decisions[0].actions[0].payload["fields"]["best_send_time"]
    sent = datetime.fromisoformat(berlin)
    assert sent > NOW and sent.utcoffset() == timedelta(hours=1)
    # a week of page views at 15:00 UTC = 16:00 Berlin moves the send from the 10:00 convention
    assert abs(sent.hour - 16) <= 2
    unknown = datetime.fromisoformat(decisions[-1].actions[0].payload["fields"]["best_send_time"])
    assert unknown.utcoffset() == timedelta(0)  # unknown zone: an instant on the UTC clock


def _send_hour(decision) -> int:  # noqa: ANN001
    return datetime.fromisoformat(decision.actions[0].payload["fields"]["best_send_time"]).hour


def test_one_contact_gets_the_send_time_of_its_batch_once_the_prior_is_learned():
    """A real-time decision is a batch of one: fitted on itself, a silent contact got the 10:00
    convention while the decide batch gave it its segment's hour. The learn step's prior, kept
    in the snapshot's metrics, makes both start from the same segment hours."""
    import json

    from hub.pipeline.learn import learned_state, restore_learned

    readers = [_lead(i) for i in range(1, 31)]  # their segment reads at 16:00 Berlin
    silent = ContactView(
        contact=Contact(id=99, lifecycle_stage="lead", company=Company(timezone="Europe/Berlin"), consent=Consent()),
        profile=build_profile([], NOW),
    )
    cold = _engine(long_term_weight=0.5, explore_share=0.0)
    in_batch = _send_hour(cold.decide([*readers, silent], NOW)[-1])
    alone = _send_hour(cold.decide([silent], NOW)[0])
    assert abs(in_batch - 16) <= 2 and abs(alone - 10) <= 1  # the disagreement this fixes

    learner = _engine(long_term_weight=0.5, explore_share=0.0)
    assert learner.learn_send_time(readers, NOW) == len(readers)
    kept = json.loads(json.dumps(learned_state(learner)))  # as model_snapshots.metrics keeps it
    served = _engine(long_term_weight=0.5, explore_share=0.0)
    restore_learned(served, kept)
    assert served.extras.send_time_prior == kept["send_time"]
    alone = _send_hour(served.decide([silent], NOW)[0])
    in_batch = _send_hour(served.decide([*readers[:5], silent], NOW)[-1])
    assert alone == in_batch and abs(alone - 16) <= 2
    restore_learned(served, {})  # a snapshot from before the prior: each batch its own again
    assert served.extras.send_time_prior is None
    assert abs(_send_hour(served.decide([silent], NOW)[0]) - 10) <= 1
