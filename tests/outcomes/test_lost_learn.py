"""Activities whose ids never reach learning (a lost ``hub.learn`` message, a worker killed
mid-sync, a broker down at publish time) are still credited: the store keeps what is owed
(``unattributed_activities``) and the next learn step credits it, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from hub.models import Activity, ActivityType, Identity
from hub.pipeline.outcomes import record_outcomes
from hub.pipeline.run import run_once
from hub.pipeline.sync import sync_connector
from hub.store import activities as activity_store
from hub.store.schema import activities, outcomes, unattributed_activities
from tests.plugins.memory_crm import MemoryCRM
from tests.test_pipeline import make_ctx, seed


@pytest.fixture
def crm(redis_url):
    c = MemoryCRM(redis_url, "memcrm")
    c.clear()
    yield c
    c.clear()


def _count(ctx, table) -> int:
    with ctx.store.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_activities_whose_ids_were_lost_are_credited_by_the_next_learn(tmp_path, store_url, redis_url, crm):
    seed(crm, n=5, hot=0)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)  # one decision per contact
    now = datetime.now(UTC)
    for k in range(12):
        crm.add_activity(f"pv-{k}", str(k % 5), "page_view", now)
    res = sync_connector(ctx, "crm")  # as a sync task whose learn messages never arrived
    assert len(res.new_activity_ids) == 12
    assert _count(ctx, outcomes) == 0
    assert record_outcomes(ctx, []) == 12  # the scheduled learn, handed no ids
    assert _count(ctx, outcomes) == 12
    assert _count(ctx, unattributed_activities) == 0
    # the lost message turning up after all credits nothing twice
    assert record_outcomes(ctx, res.new_activity_ids) == 0
    assert _count(ctx, outcomes) == 12
    ctx.close()


def test_a_hint_credits_its_ids_and_they_are_not_owed_again(tmp_path, store_url, redis_url, crm):
    seed(crm, n=3, hot=0)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    now = datetime.now(UTC)
    for k in range(4):
        crm.add_activity(f"pv-{k}", str(k % 3), "page_view", now)
    res = sync_connector(ctx, "crm")
    assert record_outcomes(ctx, res.new_activity_ids) == 4
    assert _count(ctx, unattributed_activities) == 0
    assert record_outcomes(ctx, []) == 0
    assert _count(ctx, outcomes) == 4
    ctx.close()


def test_an_activity_committed_after_a_later_id_is_still_credited(tmp_path, pg_url, redis_url, crm):
    """Two concurrent writers: the lower id commits after the higher one was credited. A
    watermark "credited up to the highest id" would skip it for good."""
    seed(crm, n=2, hot=0)
    ctx = make_ctx(tmp_path, pg_url, redis_url)
    run_once(ctx)
    now = datetime.now(UTC)

    def act(ext: str, who: str) -> Activity:
        ref = Identity(connector="crm", external_id=who)
        return Activity(contact_ref=ref, type=ActivityType.PAGE_VIEW, occurred_at=now, source="t", external_id=ext)

    with ctx.store.engine.connect() as slow:
        tx = slow.begin()
        first = activity_store.insert_activities(slow, [act("a-1", "0")]).new_ids  # not committed yet
        with ctx.store.begin() as conn:
            second = activity_store.insert_activities(conn, [act("a-2", "1")]).new_ids
        assert first[0] < second[0]
        assert record_outcomes(ctx, []) == 1  # only a-2 is visible
        tx.commit()
    assert record_outcomes(ctx, []) == 1  # a-1, committed late, is not skipped
    with ctx.store.connect() as conn:
        credited = set(conn.execute(select(outcomes.c.activity_id)).scalars())
        ids = set(conn.execute(select(activities.c.id)).scalars())
    assert credited == ids == {first[0], second[0]}
    ctx.close()
