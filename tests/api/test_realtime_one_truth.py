"""A real-time decision sees a contact as a decide worker sees it: its stored profile (all of its
history, not the last 90 days rescanned) and the hub's own decisions for it in the last 7 days."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from decision.interface import ContactView
from hub.api.realtime import RealtimeDecider
from hub.api.schemas import ContactRef
from hub.models import Activity, ActivityType, Decision, utcnow
from hub.pipeline.context import HubContext
from hub.profile import empty_profile
from hub.store import contacts as contact_store
from hub.store import decisions as decision_store
from hub.store import profiles as profile_store
from hub.store import realtime as rt_store
from hub.store.activities import insert_activities
from tests.api.conftest import make_config, seed

ENGINE = {"decision.policy": "engine", "decision.engine": {"holdout_share": 0.0, "control_share": 0.0}}


def test_a_real_time_decision_reads_the_contact_a_decide_batch_reads(tmp_path, store_url, api_redis_url, crm):
    ctx = HubContext.build(make_config(tmp_path, store_url, api_redis_url, **ENGINE), embedded=True)
    seed(ctx, crm)
    now = utcnow()
    old_open = Activity(  # older than the 90 days a rescan of history read
        contact_id=2,
        type=ActivityType.EMAIL_OPEN,
        channel="email",
        occurred_at=now - timedelta(days=120),
        source="crm",
        external_id="old-open",
    )
    mail = ctx.policy.ids[0]  # the engine's own decision, ordered yesterday, not synced back yet
    ordered = Decision(
        contact_id=2,
        actions=[],
        policy="engine",
        policy_version="v",
        created_at=now - timedelta(days=1),
        action=mail,
        features=[0.0],
    )
    with ctx.store.begin() as conn:
        insert_activities(conn, [old_open])
        decision_store.insert_decisions(conn, [ordered], "yesterday")
    decider = RealtimeDecider(ctx, 0.0)
    got = decider.decide(ContactRef(contact_id=2), None)
    with ctx.store.connect() as conn:  # what hub/pipeline/decide.py hands the engine
        batch = ContactView(
            contact=contact_store.load_contacts(conn, [2])[0],
            profile=profile_store.load_profiles(conn, [2]).get(2, empty_profile()),
            decided=decision_store.recent_actions(conn, [2], now - timedelta(days=7)).get(2, []),
        )
    assert (ordered.created_at, mail) in batch.decided
    F = ctx.policy.features([batch], got.created_at)
    np.testing.assert_allclose(got.features, F.X[0], rtol=1e-9, atol=1e-12)
    seen = F.X[0][F.names.index("days_since_email_open")]
    assert seen < 1.0  # 120 days ago, not "never seen" (1.0: 365 days)
    decider.close()
    ctx.close()


def test_the_legacy_rules_count_a_contacts_activity_windows_alike_in_the_api_and_a_decide_batch(
    tmp_path, store_url, api_redis_url, crm
):
    """Both read the stored profile's day buckets: a page view 7 days less a second ago is in
    calendar day 7, outside a 7-day window on either path (a rescan of activities had counted it
    in the batch, by the clock, and not in the API)."""
    from hub.pipeline.decide import decide_contacts

    week = {
        "name": "week",
        "when": "activities_7d['page_view'] >= 1",
        "actions": [{"kind": "add_to_list", "list": "w"}],
    }
    ctx = HubContext.build(make_config(tmp_path, store_url, api_redis_url, **{"decision.rules": [week]}), embedded=True)
    seed(ctx, crm)  # c0 (contact 1) viewed a page a day ago
    now = utcnow()
    edge = Activity(
        contact_id=2,
        type=ActivityType.PAGE_VIEW,
        occurred_at=now - timedelta(days=7) + timedelta(seconds=1),
        source="crm",
        external_id="edge",
    )
    with ctx.store.begin() as conn:
        insert_activities(conn, [edge])
    decide_contacts(ctx, [1, 2], "again")
    decider = RealtimeDecider(ctx, 0.0)
    with ctx.store.connect() as conn:
        for cid, matched in ((1, True), (2, False)):
            batch = decision_store.recent_decisions(conn, limit=1, contact_id=cid)[0]
            api = decider.decide(ContactRef(contact_id=cid), None)
            assert [a.payload for a in api.actions] == [a.payload for a in batch.actions]
            assert api.explanation == batch.explanation
            assert any(a.payload.get("list") == "w" for a in api.actions) is matched
    decider.close()
    ctx.close()


def test_a_real_time_decision_is_logged_credited_and_learned_as_a_batch_decision(
    tmp_path, store_url, api_redis_url, crm
):
    """Outcomes go to a contact's latest decision. A real-time decision recorded without its
    learning-log row took the outcomes after a visit away from learning: they were credited to
    it and never learned, by it or by the decision before it."""
    from sqlalchemy import select

    from hub.api.schemas import SessionContext
    from hub.pipeline.learn import learn_step
    from hub.pipeline.outcomes import record_outcomes
    from hub.store.schema import decision_features, outcomes

    ctx = HubContext.build(make_config(tmp_path, store_url, api_redis_url, **ENGINE), embedded=True)
    seed(ctx, crm)
    decider = RealtimeDecider(ctx, 0.0)
    got = decider.decide(ContactRef(contact_id=2), SessionContext(page="/pricing"))
    assert got.action is not None and got.features is not None
    with ctx.store.connect() as conn:
        logged = conn.execute(select(decision_features).where(decision_features.c.decision_id == got.id)).one()
    assert logged.action == got.action and logged.feature_version == got.feature_version
    np.testing.assert_allclose(logged.features, got.features)
    assert logged.trace["actions"] == list(ctx.policy.ids)  # the console inspector's trace
    assert logged.window_ends_at is not None and logged.finalized_at is None
    since = got.created_at - timedelta(days=7)
    with ctx.store.connect() as conn:  # a visit is no touch: neither path counts it against the contact policy
        assert got.created_at not in [at for at, _ in decision_store.recent_actions(conn, [2], since).get(2, [])]
        assert got.created_at not in [at for at, _ in rt_store.profiles(conn, [2], since)[0][2]]

    form = Activity(
        contact_id=2,
        type=ActivityType.FORM_SUBMIT,
        channel="web",
        occurred_at=got.created_at + timedelta(hours=1),
        source="crm",
        external_id="form-after-visit",
    )
    with ctx.store.begin() as conn:
        ids = insert_activities(conn, [form]).new_ids
    assert record_outcomes(ctx, ids) == 1
    with ctx.store.connect() as conn:
        credited = conn.execute(select(outcomes.c.decision_id).where(outcomes.c.activity_id == ids[0])).scalar_one()
    assert credited == got.id

    report = learn_step(ctx, got.created_at + timedelta(days=30))
    assert report.finalized >= 1 and report.learned >= 1
    with ctx.store.connect() as conn:
        done = conn.execute(select(decision_features).where(decision_features.c.decision_id == got.id)).one()
    assert done.reward_total is not None and done.reward_total > 0
    assert done.learned_version == report.version
    decider.close()
    ctx.close()


def test_a_visit_between_a_change_and_its_decide_task_does_not_take_the_crm_update_away(
    tmp_path, store_url, api_redis_url, crm
):
    """The worker's decide task skips contacts decided since their last change. A real-time
    decision pushes nothing, so it must not count: a person who clicks a mail (a change) and
    lands on the site (a real-time decision) before the task runs still gets the CRM's fields."""
    from datetime import UTC, datetime

    from hub.pipeline.decide import decide_contacts
    from hub.pipeline.sweep import undecided_contacts
    from hub.pipeline.sync import sync_connector
    from hub.store.queries import stale_contacts

    ctx = HubContext.build(make_config(tmp_path, store_url, api_redis_url, **ENGINE), embedded=True)
    seed(ctx, crm)
    later = datetime.now(UTC) + timedelta(seconds=1)
    crm.put_contact("c1", email="person1@example.com", first_name="Changed", updated_at=later.isoformat())
    changed = sorted(sync_connector(ctx, "crm").changed)
    assert len(changed) == 1
    decider = RealtimeDecider(ctx, 0.0)
    decider.decide(ContactRef(contact_id=changed[0]), None)  # after the change, before the task
    assert undecided_contacts(ctx, grace_seconds=0) == changed  # the sweep finds it still owed
    with ctx.store.connect() as conn:  # and the periodic re-decide finds its fields as old as they are
        assert changed[0] in stale_contacts(conn, datetime.now(UTC) - timedelta(milliseconds=1))
    res = decide_contacts(ctx, changed, "sync-2", owed_only=True)
    assert res.decided == 1 and res.pushes >= 1
    again = decide_contacts(ctx, changed, "sweep-2", owed_only=True)  # the batch decision does count
    assert again.decided == 0 and undecided_contacts(ctx, grace_seconds=0) == []
    decider.close()
    ctx.close()
