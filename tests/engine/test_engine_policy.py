"""EnginePolicy: hard rules hold whatever the model says; budgets; logging; explanations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from decision.engine import EnginePolicy
from decision.interface import ContactView
from hub.config import DecisionSettings
from hub.models import Activity, ActivityType, Consent, Contact
from hub.profile import build_profile

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
RULES = [
    {
        "name": "nurture",
        "when": "True",
        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "email_nurture_business"}}],
    }
]


def engine(**engine_settings) -> EnginePolicy:
    return EnginePolicy(DecisionSettings(rules=RULES, engine=engine_settings))


def rig(policy: EnginePolicy, favourite: list[str], size: float = 50.0) -> None:
    """Make the model love ``favourite`` actions: any score beats every other action."""
    X = np.zeros((1, len(policy.features([ContactView(contact=Contact(id=1))], NOW).names)))
    policy.model.policy.choose_many(X)  # initialise state
    inner = policy.model.policy
    for a in favourite:
        inner.mean_[policy.ids.index(a), -1] = size
    inner.n_obs_[:] = 1000  # everything mature: the apprentice no longer holds the engine back
    inner.cov_ *= 1e-8  # and certain: Thompson draws sit on the means


def view(i: int, opt_out=False, dnc=False, owner=None, activities=()) -> ContactView:
    c = Contact(id=i, owner=owner, consent=Consent(email_opt_out=opt_out, do_not_contact=dnc))
    return ContactView(contact=c, profile=build_profile(activities, NOW))


EMAIL_IDS = [
    "email_nurture_technical",
    "email_nurture_business",
    "content_offer_whitepaper",
    "content_offer_case_study",
    "webinar_invite",
    "product_demo_offer",
]


@settings(max_examples=30, deadline=None)
@given(
    favourite=st.lists(st.sampled_from(EMAIL_IDS + ["sales_outreach", "ad_retarget"]), min_size=1, max_size=4),
    flags=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=30),
    seed=st.integers(0, 2**16),
    explore=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_opted_out_never_emailed_and_do_not_contact_only_waits(favourite, flags, seed, explore):
    p = engine(seed=seed, explore_share=explore, holdout_share=0.3, control_share=0.1)
    rig(p, favourite)
    batch = [view(i + 1, opt_out=o, dnc=d) for i, (o, d) in enumerate(flags)]
    for v, d in zip(batch, p.decide(batch, NOW), strict=True):
        pushed = [a.payload["fields"]["next_best_action"] for a in d.actions if a.kind == "set_fields"]
        if v.contact.consent.email_opt_out:
            assert not set(pushed) & set(EMAIL_IDS), (d.arm, pushed)
        if v.contact.consent.do_not_contact:
            assert set(pushed) <= {"wait"}, (d.arm, pushed)
        assert d.action is not None and 0 < d.propensity <= 1


def test_marketing_touch_cap_and_sales_quiet_period():
    p = engine(holdout_share=0.0, explore_share=0.0, max_marketing_touches_7d=1, sales_quiet_days=3)
    rig(p, ["email_nurture_business", "sales_outreach"])
    sent = [Activity(type=ActivityType.EMAIL_SENT, occurred_at=NOW - timedelta(days=2), source="t", external_id="1")]
    called = [Activity(type=ActivityType.CALL, occurred_at=NOW - timedelta(days=1), source="t", external_id="2")]
    got = [d.action for d in p.decide([view(1, activities=sent), view(2, activities=called)], NOW)]
    assert got[0] == "sales_outreach"  # emails capped, sales allowed
    assert got[1] == "wait"  # nothing during the quiet period after a call


def test_sales_handoffs_per_owner_go_to_the_best_contacts_in_the_batch():
    p = engine(holdout_share=0.0, explore_share=0.0, sales_handoffs_per_owner_per_day=2)
    rig(p, ["sales_outreach"], size=1.0)
    inner = p.model.policy
    j = p.features([view(1)], NOW).names.index("pricing_7d")
    inner.mean_[p.ids.index("sales_outreach"), j] = 1.0  # pricing-page visitors are worth more
    pricing = lambda i, n: [  # noqa: E731
        Activity(
            type=ActivityType.PAGE_VIEW,
            occurred_at=NOW - timedelta(hours=k + 1),
            properties={"url": "https://x/pricing"},
            source="t",
            external_id=f"{i}-{k}",
        )
        for k in range(n)
    ]
    batch = [view(i, owner="ann", activities=pricing(i, i)) for i in range(1, 6)] + [view(9, owner="bob")]
    out = {d.contact_id: d for d in p.decide(batch, NOW)}
    ann = [cid for cid in range(1, 6) if out[cid].action == "sales_outreach"]
    assert ann == [4, 5] and out[9].action == "sales_outreach"
    assert "budget" in out[1].explanation and out[1].propensity == 1.0
    used = {d.contact_id: d.action for d in p.decide(batch, NOW, budget_used={"ann": 2})}
    assert [cid for cid in range(1, 6) if used[cid] == "sales_outreach"] == []


def test_with_owners_the_router_caps_each_owner_not_one_unassigned_budget():
    """With decision.owners the router picks each hand-off's owner after the engine decides,
    within their max_new_per_day: the engine's per-owner budget must not pool every new lead
    under one pseudo-owner "unassigned" (3 hand-offs for a team of four)."""
    owners = [{"id": o, "capacity": {"max_new_per_day": 10}} for o in ("ana", "bo", "cy", "di")]
    engine_settings = {"holdout_share": 0.0, "explore_share": 0.0, "sales_handoffs_per_owner_per_day": 3}
    p = EnginePolicy(DecisionSettings(rules=RULES, engine=engine_settings, owners=owners))
    rig(p, ["sales_outreach"], size=1.0)
    out = p.decide([view(i) for i in range(1, 21)], NOW, budget_used={"unassigned": 3})
    assert [d.action for d in out] == ["sales_outreach"] * 20
    assert not any("budget" in d.explanation for d in out)


def test_decisions_log_arm_version_propensity_features_and_explain_in_words():
    p = engine(holdout_share=0.0, explore_share=0.0)
    rig(p, ["sales_outreach"], size=1.0)
    j = p.features([view(1)], NOW).names.index("pricing_7d")
    p.model.policy.mean_[p.ids.index("sales_outreach"), j] = 0.1
    visits = [
        Activity(
            type=ActivityType.PAGE_VIEW,
            occurred_at=NOW - timedelta(days=k),
            properties={"url": "https://x/pricing"},
            source="t",
            external_id=str(k),
        )
        for k in range(3)
    ]
    (d,) = p.decide([view(1, activities=visits)], NOW)
    assert d.arm == "engine" and d.policy == "engine" and d.policy_version == p.version
    assert d.features is not None and len(d.features) == len(p.features([view(1)], NOW).names)
    assert "Visited the pricing page 3 times in the last 7 days: +" in d.explanation
    assert d.actions[0].payload["fields"]["reason"] == d.explanation


def test_cold_engine_follows_the_legacy_rules_and_holdout_gets_them_verbatim():
    p = engine(holdout_share=0.5, explore_share=0.0)
    batch = [view(i) for i in range(1, 41)]
    out = p.decide(batch, NOW)
    assert {d.arm for d in out} == {"engine", "holdout"}
    assert all(d.action == "email_nurture_business" for d in out)
    assert all(d.policy == "rules" for d in out if d.arm == "holdout")


def test_touches_already_ordered_by_the_hub_count_before_they_sync_back():
    p = engine(holdout_share=0.0, explore_share=0.0, max_marketing_touches_7d=1, sales_quiet_days=3)
    rig(p, ["email_nurture_business", "sales_outreach"])
    emailed = view(1)
    emailed.decided = [(NOW - timedelta(days=1), "webinar_invite")]
    called = view(2)
    called.decided = [(NOW - timedelta(hours=5), "sales_outreach")]
    got = [d.action for d in p.decide([emailed, called], NOW)]
    assert got == ["sales_outreach", "wait"]


def test_a_long_term_overrule_logs_the_probability_mass_routed_to_the_final_action():
    """The rerank is deterministic given what the bandit drew, so the logged propensity of the
    final action is the bandit's probability of every draw the rerank maps to it: the number
    the offline replay (``action_probabilities``) computes, not 1. (Thompson probabilities are
    Monte-Carlo estimates, so the two agree to sampling error.)"""
    p = engine(holdout_share=0.0, control_share=0.0, explore_share=0.5, long_term_weight=0.5, seed=3)
    rig(p, ["sales_outreach"], size=1.0)
    p.model.policy.mean_[p.ids.index("email_nurture_business"), -1] = 0.9
    p.model.policy.cov_ /= 1e-8  # back to the prior's width: every action can be drawn
    batch = [view(i + 1) for i in range(60)]
    decisions = p.decide(batch, NOW)
    replay = p.action_probabilities(batch, NOW)
    assert "sales_outreach" not in {d.action for d in decisions}  # always overruled for new leads
    over = [d for d in decisions if "over sales_outreach" in d.explanation]
    assert over and all(d.propensity < 0.8 for d in over)
    for i, d in enumerate(decisions):
        assert abs(d.propensity - replay[i, p.ids.index(d.action)]) < 0.15, (d.action, d.propensity)


def test_the_opt_out_model_is_saved_with_the_bandit_and_smooths_what_it_learns():
    policy = engine(seed=3)
    plain = engine(seed=3, opt_out_model=False)
    n_features = len(policy.features([view(1)], NOW).names)
    rng = np.random.default_rng(0)
    X = np.zeros((12_000, n_features))
    X[:, 0] = rng.random(12_000)  # one feature that does not matter
    unsub = np.where(rng.random(12_000) < 0.05, -30.0, 0.0)
    rewards = 1.0 + unsub
    # a technical email's touches teach the email channel's opt-out model; then the business
    # email, on the same channel, learns from that smooth chance instead of its own -30 spikes
    for action, rows in (
        ("email_nurture_technical", slice(0, 10_000)),
        ("email_nurture_business", slice(10_000, None)),
    ):
        for p in (policy, plain):
            n = len(X[rows])
            p.learn(X[rows], [action] * n, rewards[rows], np.ones(n), unsubscribe_points=unsub[rows])
    a = policy.ids.index("email_nurture_business")
    smooth_mean = policy.model.predict_many(X)[:, a] * 10
    plain_mean = plain.model.predict_many(X)[:, a] * 10
    assert smooth_mean.std() < 0.5 * plain_mean.std()
    assert abs(smooth_mean.mean() - (1.0 - 30 * 0.05)) < 0.5

    again = engine(seed=3)
    again.load_model(7, policy.snapshot())
    g = policy.opt_out_groups[[a]]
    assert again.model_version == 7
    assert np.array_equal(
        again.opt_out.probability(X[:5], np.repeat(g, 5)), policy.opt_out.probability(X[:5], np.repeat(g, 5))
    )
    assert np.array_equal(again.model.predict_many(X[:5]), policy.model.predict_many(X[:5]))

    # a snapshot from before the opt-out model (the bandit alone) still loads
    older = engine(seed=3)
    older.load_model(2, plain.model.save())
    assert np.array_equal(older.model.predict_many(X[:5]), plain.model.predict_many(X[:5]))
    assert older.opt_out is not None and not older.opt_out.fitted
