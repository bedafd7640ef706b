"""Segment values in the product engine: the pipeline logs each decision's segment, the learn
step teaches them from attributed rewards and closed opportunities and saves them with the
snapshot, a decide worker reloads them, and then they choose with honest propensities and say so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from decision.interface import ContactView
from hub.config import Settings
from hub.models import Activity, ActivityType, Contact, Identity
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.pipeline.learn import learn_step, list_models, rollback
from hub.pipeline.outcomes import record_outcomes
from hub.profile import empty_profile
from hub.store import Store
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store.schema import decision_features, decisions

T0 = datetime(2026, 2, 2, 9, tzinfo=UTC)
ACTIONS = [
    {"id": "email_nurture_business", "kind": "email", "channel": "email", "attribution_days": 3},
    {"id": "sales_outreach", "kind": "sales_outreach", "channel": "phone", "attribution_days": 3},
    {"id": "wait", "kind": "wait", "attribution_days": 3},
]


class Clock:
    def __init__(self, t: datetime):
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def make_ctx(store_url: str, **engine) -> HubContext:
    settings = Settings.model_validate(
        {
            "store_url": store_url,
            "decision": {
                "actions": ACTIONS,
                "engine": {"holdout_share": 0.0, "explore_share": 0.0, "apprentice_min_observations": 1, **engine},
                "rules": [
                    {
                        "name": "nurture",
                        "when": "True",
                        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "email_nurture_business"}}],
                    }
                ],
            },
        }
    )
    c = HubContext.build(settings, embedded=True, store=Store(store_url, auto_migrate=True))
    c.clock = Clock(T0)
    return c


@pytest.fixture
def ctx(store_url):
    c = make_ctx(store_url)
    yield c
    c.close()


def add_contacts(ctx, n: int) -> list[int]:
    people = [
        Contact(
            identities=[Identity(connector="crm", external_id=str(i))],
            emails=[f"p{i}@x.example"],
            lifecycle_stage="lead",
            job_title="Marketing Manager",
        )
        for i in range(n)
    ]
    with ctx.store.begin() as conn:
        return sorted(contact_store.upsert_contacts(conn, people).changed)


def add(ctx, cid: int, kind: ActivityType, at: datetime, key: str, **props) -> list[int]:
    a = Activity(contact_id=cid, type=kind, occurred_at=at, source="crm", external_id=key, properties=props)
    with ctx.store.begin() as conn:
        return activity_store.insert_activities(conn, [a]).new_ids


def test_segments_are_logged_learned_saved_reloaded_and_then_choose(ctx):
    cids = add_contacts(ctx, 60)
    decide_contacts(ctx, cids, "d1")  # cold: the apprentice follows the rule (e-mail), no segment values yet
    with ctx.store.connect() as conn:
        traces = [t for (t,) in conn.execute(select(decision_features.c.trace))]
        first = [e for (e,) in conn.execute(select(decisions.c.explanation))]
    seg = {t["segment"] for t in traces}
    assert len(seg) == 1 and not any("segment value" in e for e in first)  # one segment: lead, manager, 0 touches
    ids = []
    for cid in cids[:30]:  # half of them click
        ids += add(ctx, cid, ActivityType.EMAIL_CLICK, T0 + timedelta(hours=2), f"c{cid}")
    ids += add(ctx, cids[0], ActivityType.OPPORTUNITY_WON, T0 + timedelta(hours=3), "won", amount=40_000)
    ids += add(ctx, cids[1], ActivityType.OPPORTUNITY_LOST, T0 + timedelta(hours=3), "lost")
    record_outcomes(ctx, ids)
    learn_step(ctx, T0 + timedelta(days=3, hours=1))

    step = ctx.policy.segment_step
    (s,) = seg
    assert step.chooser.values.n[s].sum() == 60 and step.chooser.active
    assert step.outcomes.closed == 2 and step.outcomes.won == 40_000  # the closed deals, read from the store
    assert step.outcomes.days.sum() == 60  # 60 contacts counted for a day at the first step
    saved = list_models(ctx)[-1]["metrics"]["segment_values"]
    assert saved["outcomes"]["closed"] == 2 and saved["cursor"][:2] > [0, 0]

    other = HubContext.build(ctx.settings, embedded=True, store=ctx.store)  # a decide worker
    other.clock = Clock(T0 + timedelta(days=4))
    decide_contacts(other, cids, "d2")
    np.testing.assert_array_equal(other.policy.segment_step.chooser.values.n, step.chooser.values.n)
    with ctx.store.connect() as conn:
        rows = conn.execute(
            select(
                decisions.c.explanation, decisions.c.propensity, decision_features.c.action, decision_features.c.trace
            )
            .join(decision_features, decision_features.c.decision_id == decisions.c.id)
            .where(decisions.c.request_key == "d2")
        ).all()
    assert all("segment value:" in e for e, *_ in rows)
    assert all("lead, manager" in e for e, *_ in rows)
    for _, p, action, trace in rows:
        j = trace["actions"].index(action)
        assert 0 < p <= 1 and trace["probability"][j] > 0  # the action taken had a chance to be drawn
        assert abs(sum(x for x in trace["probability"] if x is not None) - 1) < 1e-3  # rounded to 4 places

    # rollback to the version before any segment value was learned: they are gone again
    assert rollback(ctx, 1) == 2
    third = HubContext.build(ctx.settings, embedded=True, store=ctx.store)
    third.clock = other.clock
    decide_contacts(third, cids[:1], "d3")
    assert third.policy.segment_step.chooser.values.n.sum() == 60  # version 1 is the one that learned them
    other.close()
    third.close()


def test_off_policy_probabilities_mirror_the_segment_choice(store_url):
    # without the long-term rerank, which reads the bandit's (cold) prediction, not the segment's
    ctx = make_ctx(store_url, long_term_weight=0.0)
    cids = add_contacts(ctx, 4)
    engine = ctx.policy
    with ctx.store.connect() as conn:
        contacts = contact_store.load_contacts(conn, cids)
    views = [ContactView(contact=c, profile=empty_profile(), decided=[]) for c in contacts]
    step = engine.segment_step
    seg = step.segments(views, engine.features(views, T0), np.zeros(4))
    sales = engine.ids.index("sales_outreach")
    step.chooser.values.learn(np.repeat(seg, 100), np.full(400, sales), np.full(400, 50.0))
    probs = engine.action_probabilities(views, T0)
    assert (probs[:, sales] > 0.95).all()  # the segment's evidence, not the cold bandit's rule
    decided = engine.decide(views, T0)
    assert all(d.action == "sales_outreach" and d.propensity > 0.95 for d in decided)
    assert all(d.explanation.startswith("sales_outreach (segment value: +") for d in decided)
    ctx.close()


def test_switched_off_the_engine_logs_no_segment_and_the_bandit_chooses(store_url):
    c = make_ctx(store_url, segment_values=False)
    try:
        cids = add_contacts(c, 3)
        decide_contacts(c, cids, "d1")
        with c.store.connect() as conn:
            traces = [t for (t,) in conn.execute(select(decision_features.c.trace))]
        assert c.policy.segment_step is None and all("segment" not in t for t in traces)
    finally:
        c.close()


def test_segments_count_sales_calls_as_touches_felt(ctx):
    """A contact called twice this week is not untouched: the segment counts the calls the CRM
    shows (as the sandbox's fatigue does), while the marketing touch cap still counts e-mail only."""
    called, quiet = add_contacts(ctx, 2)
    for k in (1, 2):
        add(ctx, called, ActivityType.CALL, T0 - timedelta(days=k), f"call{k}")
    decide_contacts(ctx, [called, quiet], "d1")
    with ctx.store.connect() as conn:
        rows = conn.execute(
            select(decisions.c.contact_id, decision_features.c.trace).join(
                decision_features, decision_features.c.decision_id == decisions.c.id
            )
        ).all()
    label = {cid: ctx.policy.segment_step.label(t["segment"]) for cid, t in rows}
    assert label[called].endswith("2 touches this week") and label[quiet].endswith("0 touches this week")


def test_touches_felt_and_relief_count_the_engines_own_sales_orders(ctx):
    """An order not yet synced back counts too: two sales decisions this week are two touches felt
    (not marketing ones, so the cap is untouched), and waiting relieves when the older one leaves."""
    (cid,) = add_contacts(ctx, 1)
    with ctx.store.connect() as conn:
        (contact,) = contact_store.load_contacts(conn, [cid])
    decided = [(T0 - timedelta(days=2), "sales_outreach"), (T0 - timedelta(days=1), "sales_outreach")]
    view = ContactView(contact=contact, profile=empty_profile(), decided=decided)
    engine = ctx.policy
    parts: dict = {}
    engine.mask([view], T0, engine.features([view], T0), parts)
    assert parts["felt"].tolist() == [2.0] and parts["touches"].tolist() == [0.0]
    assert engine.segment_step.relief_days([view], T0, engine._touching).tolist() == [5.0]


def test_segment_values_leave_an_action_without_evidence_to_the_rules_and_free_draws(store_url):
    """A bandit that has seen a handful of lucrative calls predicts the same for everyone; the
    segment values, whose cell for these contacts is empty, must not call them all on that."""
    ctx = make_ctx(store_url, apprentice_min_observations=50, long_term_weight=0.0)
    try:
        cids = add_contacts(ctx, 4)
        engine = ctx.policy
        with ctx.store.connect() as conn:
            contacts = contact_store.load_contacts(conn, cids)
        views = [ContactView(contact=c, profile=empty_profile(), decided=[]) for c in contacts]
        F = engine.features(views, T0)
        step, sales = engine.segment_step, engine.ids.index("sales_outreach")
        email = engine.ids.index("email_nurture_business")
        seg = step.segments(views, F, np.zeros(4))
        step.chooser.values.learn(np.repeat(seg, 15), np.full(60, email), np.full(60, 0.5))  # active: 60 rows
        X = np.repeat(F.X[:1], 10, axis=0)
        engine.model.learn_many(X, np.full(10, sales), np.full(10, 5.0), np.ones(10))  # 50 points each, 10 rows
        assert engine.model.predict_many(F.X)[:, sales].min() > 1.0 and engine.model.n_obs_[sales] < 50
        probs = engine.action_probabilities(views, T0)
        assert (probs[:, sales] == 0).all()  # explore_share 0 here: only the rules' choice and evidence
        assert all(d.action != "sales_outreach" for d in engine.decide(views, T0))
    finally:
        ctx.close()


def test_an_ad_audience_is_no_touch_for_the_cap_or_the_segment(store_url):
    """The cap counts e-mails (as ``email_sent`` activities do), segments e-mails and calls: an
    ad audience order is marketing but neither, so three of them leave the contact untouched."""
    ad = {"id": "ad_retarget", "kind": "ad_audience", "channel": "ads", "attribution_days": 3}
    ACTIONS.append(ad)
    try:
        ctx = make_ctx(store_url)
    finally:
        ACTIONS.remove(ad)
    try:
        (cid,) = add_contacts(ctx, 1)
        with ctx.store.connect() as conn:
            (contact,) = contact_store.load_contacts(conn, [cid])
        decided = [(T0 - timedelta(days=k), "ad_retarget") for k in (1, 2, 3)]
        decided.append((T0 - timedelta(days=1), "email_nurture_business"))
        view = ContactView(contact=contact, profile=empty_profile(), decided=decided)
        parts: dict = {}
        ctx.policy.mask([view], T0, ctx.policy.features([view], T0), parts)
        assert parts["touches"].tolist() == [1.0] and parts["felt"].tolist() == [1.0]
    finally:
        ctx.close()
