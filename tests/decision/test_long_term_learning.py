"""Learned long-term value: the stated prior with no data, the true causal lift with enough
randomized data (not the lift a confounded logging policy suggests), saved with the model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select

from decision.engine import EnginePolicy
from decision.interface import ContactView
from decision.long_term import HORIZON_DAYS, LongTermValue
from hub.config import DecisionSettings, Settings
from hub.models import Activity, ActivityType, Contact, Identity
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.pipeline.learn import learn_step, list_models
from hub.pipeline.outcomes import record_outcomes
from hub.store import Store
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store.schema import decision_features, decisions

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ACTIONS = [
    {"id": "email_nurture_business", "kind": "email", "channel": "email", "attribution_days": 3},
    {"id": "sales_outreach", "kind": "sales_outreach", "channel": "phone", "attribution_days": 3},
    {"id": "wait", "kind": "wait", "attribution_days": 3},
]


def test_with_no_data_the_lift_is_the_stated_prior():
    prior = np.array([[0.01, 0.02], [-0.03, 0.0], [0.0, 0.0]])
    ltv = LongTermValue(3, 2, prior_lift=prior, wait_action=2)
    assert np.array_equal(ltv.lift(), prior)
    ltv.learn(np.array([], dtype=int), np.array([], dtype=int), np.array([]), 2, np.array([]))
    assert np.array_equal(ltv.lift(), prior)
    engine = EnginePolicy(DecisionSettings(actions=ACTIONS))
    assert np.array_equal(engine.long_term.lift(), engine.long_term.prior)
    assert engine.learn_long_term(np.zeros((0, 1)), [], [], np.zeros(0), np.zeros(0)) == 0


def test_the_learned_lift_moves_from_the_prior_to_the_causal_truth_not_the_confounded_one():
    """Email truly adds 0.10 to the conversion chance; calls add nothing but the logging policy
    calls the promising half (base 0.30 against 0.05) with probability 0.8. The naive call-minus-
    wait gap is about +0.10; weighted by 1 / propensity it is about 0."""
    engine = EnginePolicy(DecisionSettings(actions=ACTIONS))
    email, call, wait = (engine.ids.index(a) for a in ("email_nurture_business", "sales_outreach", "wait"))
    d = len(engine.features([ContactView(contact=Contact(id=1))], NOW).names)
    rng = np.random.default_rng(4)
    n = 60_000
    promising = rng.random(n) < 0.5
    p_call = np.where(promising, 0.8, 0.1)
    p_email = (1 - p_call) / 2
    u = rng.random(n)
    a = np.where(u < p_call, call, np.where(u < p_call + p_email, email, wait))
    prop = np.where(a == call, p_call, p_email)  # email and wait share the rest evenly
    base = np.where(promising, 0.30, 0.05)
    converted = rng.random(n) < base + np.where(a == email, 0.10, 0.0)
    before = engine.long_term.lift()[:, 0].copy()  # stage 0: early (no lifecycle stage)
    learned = engine.learn_long_term(np.zeros((n, d)), [engine.ids[i] for i in a], ["engine"] * n, prop, converted)
    assert learned == n
    lift = engine.long_term.lift()[:, 0]
    assert before[email] == 0.004 and abs(lift[email] - 0.10) < 0.02
    assert before[call] == -0.03 and abs(lift[call]) < 0.02
    naive = converted[a == call].mean() - converted[a == wait].mean()
    assert naive > 0.08  # what the log says without the weights
    # rows whose action was certain (propensity 1, not the control arm) teach nothing
    assert (
        engine.learn_long_term(np.zeros((5, d)), ["sales_outreach"] * 5, ["holdout"] * 5, np.ones(5), np.ones(5)) == 0
    )
    assert np.array_equal(engine.long_term.lift()[:, 0], lift)


def _called_convert_later(tmp_path, learning: bool):  # noqa: ANN202
    """Every contact in the random-control arm. Emailed contacts open an opportunity inside the
    3-day attribution window (the immediate reward's, not long-term value's); called contacts
    open one after it closes, within the horizon. Returns the context, the prior lift, the first
    learn step's report (windows closed, horizon not passed) and the decided contacts."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    settings = Settings.model_validate(
        {
            "store_url": url,
            "decision": {
                "actions": ACTIONS,
                "engine": {
                    "holdout_share": 0.0,
                    "experiments": {"random_control": 1.0},
                    "long_term_learning": learning,
                },
            },
        }
    )
    ctx = HubContext.build(settings, embedded=True, store=Store(url, auto_migrate=True))
    ctx.clock = lambda: NOW
    people = [Contact(identities=[Identity(connector="crm", external_id=str(i))]) for i in range(120)]
    with ctx.store.begin() as conn:
        cids = sorted(contact_store.upsert_contacts(conn, people).changed)
    assert decide_contacts(ctx, cids, "r1").decided == 120
    with ctx.store.connect() as conn:
        logged = conn.execute(
            select(decisions.c.contact_id, decisions.c.arm, decision_features.c.action).join(
                decision_features, decision_features.c.decision_id == decisions.c.id
            )
        ).all()
    emailed = [cid for cid, _, action in logged if action == "email_nurture_business"]
    called = [cid for cid, _, action in logged if action == "sales_outreach"]
    assert {arm for _, arm, _ in logged} == {"random"} and 20 < len(emailed) < 60 and 20 < len(called) < 60

    def opportunity(cid: int, days: float) -> Activity:
        return Activity(
            contact_id=cid,
            type=ActivityType.OPPORTUNITY_CREATED,
            occurred_at=NOW + timedelta(days=days),
            source="crm",
            external_id=f"o{cid}",
        )

    acts = [opportunity(cid, 1) for cid in emailed] + [opportunity(cid, 10) for cid in called]
    with ctx.store.begin() as conn:
        ids = activity_store.insert_activities(conn, acts).new_ids
    record_outcomes(ctx, ids)
    prior = ctx.policy.long_term.lift().copy()
    first = learn_step(ctx, NOW + timedelta(days=3, hours=1))
    assert first.learned == 120
    assert np.array_equal(ctx.policy.long_term.lift(), prior)  # the horizon has not passed yet
    assert list_models(ctx)[-1]["metrics"]["long_term_learned"] == 0
    return ctx, prior, first, cids


def test_the_pipeline_learns_it_after_the_window_once_and_saves_it_with_the_model(tmp_path):
    """The learn step teaches long-term value only once the horizon has passed, each decision
    once; the snapshot carries it (and its cursor) and a new worker reloads it."""
    from hub.console.insights import long_term_state

    ctx, prior, first, cids = _called_convert_later(tmp_path, learning=True)
    assert "nothing learned yet" in long_term_state(ctx.policy)  # what the console's Models page says
    later = NOW + timedelta(days=3 + HORIZON_DAYS, hours=1)
    second = learn_step(ctx, later)
    assert second.learned == 0 and second.version == first.version + 1  # long-term value alone
    email, call = (ctx.policy.ids.index(a) for a in ("email_nurture_business", "sales_outreach"))
    learned = ctx.policy.long_term.lift()
    assert learned[call, 0] > prior[call, 0] + 0.3  # called contacts all converted after the window
    assert learned[email, 0] <= prior[email, 0]  # emailed ones converted inside it: not long-term value
    metrics = list_models(ctx)[-1]["metrics"]
    assert metrics["long_term_learned"] == 120 and metrics["mean_reward"] is None and second.mean_reward is None
    assert f"learned from decisions through {(NOW + timedelta(days=3)):%Y-%m-%d}" in long_term_state(ctx.policy)
    assert sum(map(sum, metrics["long_term"]["counts"])) > 0
    # no holdout and no rules: the apprentice's hand-over evidence has no rules' side
    assert metrics["graduated"] is False and metrics["graduation_evidence"]["rules_n"] == 0
    third = learn_step(ctx, later + timedelta(hours=1))  # nothing new: no decision learned twice
    assert third.version == second.version and np.array_equal(ctx.policy.long_term.lift(), learned)
    other = HubContext.build(ctx.settings, embedded=True, store=ctx.store)  # a decide worker
    other.clock = ctx.clock
    decide_contacts(other, cids[:1], "w1")  # loads the newest snapshot
    assert np.allclose(other.policy.long_term.lift(), learned)
    assert other.policy.long_term.learned_through == ctx.policy.long_term.learned_through
    ctx.close()


def test_with_learning_off_the_prior_stands_and_no_snapshot_is_saved_for_it(tmp_path):
    ctx, prior, first, _ = _called_convert_later(tmp_path, learning=False)
    later = learn_step(ctx, NOW + timedelta(days=3 + HORIZON_DAYS, hours=1))
    assert later.version == first.version  # nothing to learn: no new model version
    assert np.array_equal(ctx.policy.long_term.lift(), prior)
    assert ctx.policy.long_term.learned_through is None  # switched on, it would learn from the first decision
    ctx.close()


def test_the_lift_moves_off_the_prior_only_by_what_clears_its_standard_errors():
    """Cells with a few unlucky (or lucky) rows read as harmful (or helpful) at their means; with
    evidence_z the move off the prior must clear two standard errors first, while a move shown
    by many rows, and the stated prior, stand."""
    prior = np.zeros((4, 1))
    prior[1, 0] = -0.02  # a stated harm: no sampling error
    few = LongTermValue(4, 1, prior_lift=prior, wait_action=3, evidence_z=0.0)
    z = LongTermValue(4, 1, prior_lift=prior, wait_action=3)
    assert np.array_equal(z.lift(), prior)
    rng = np.random.default_rng(1)
    waits = (rng.random(400) < 0.2).astype(float)  # waiting converts 20%
    for m in (few, z):
        m.learn(np.full(400, 3), np.zeros(400, int), waits, 3)
        m.learn(np.zeros(30, int), np.zeros(30, int), np.r_[np.ones(3), np.zeros(27)], 3)  # 10% of 30
        m.learn(np.full(30, 2), np.zeros(30, int), np.r_[np.ones(10), np.zeros(20)], 3)  # 33% of 30
    assert few.lift()[0, 0] < -0.05 and few.lift()[2, 0] > 0.05  # noise read as harm and as gain
    assert -0.01 < z.lift()[0, 0] <= 0.0 and 0.0 <= z.lift()[2, 0] < 0.01  # within two errors: the prior
    assert z.lift()[1, 0] == -0.02
    many = LongTermValue(4, 1, prior_lift=prior, wait_action=3)
    many.learn(np.full(4000, 3), np.zeros(4000, int), (rng.random(4000) < 0.2).astype(float), 3)
    many.learn(np.zeros(4000, int), np.zeros(4000, int), (rng.random(4000) < 0.1).astype(float), 3)
    assert many.lift()[0, 0] < -0.06  # shown by many rows: it stands
