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
