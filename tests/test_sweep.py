"""hub.sweep's query: contacts a sync changed that no decision has seen since (lost decide tasks)."""

from __future__ import annotations

import pytest

from hub.pipeline.decide import decide_contacts
from hub.pipeline.sweep import undecided_contacts
from hub.pipeline.sync import sync_connector
from tests.plugins.memory_crm import MemoryCRM
from tests.test_pipeline import make_ctx, seed


@pytest.fixture
def crm(redis_url):
    c = MemoryCRM(redis_url, "memcrm")
    c.clear()
    yield c
    c.clear()


def test_changed_but_undecided_contacts_are_found_until_decided(tmp_path, redis_url, crm):
    seed(crm, n=6, hot=0)
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)
    changed = sorted(sync_connector(ctx, "crm").changed)  # the decide fan-out is "lost"
    assert undecided_contacts(ctx, grace_seconds=3600) == [], "within the grace period: maybe still queued"
    assert undecided_contacts(ctx, grace_seconds=0) == changed
    decide_contacts(ctx, changed[:4], "k1")
    assert undecided_contacts(ctx, grace_seconds=0) == changed[4:]
    crm.put_contact("0", email="p0@example.com", first_name="Changed")  # changed after its decision
    sync_connector(ctx, "crm")
    assert undecided_contacts(ctx, grace_seconds=0) == sorted([changed[0], *changed[4:]])
    ctx.close()


def test_only_one_sweep_runs_per_grace_period(redis_url):
    from hub.locks import RedisLocks

    locks = RedisLocks(redis_url)
    assert locks.once("sweep", 30) and not locks.once("sweep", 30)


def test_a_change_decided_by_one_task_is_not_decided_again_by_the_other(tmp_path, redis_url, crm):
    """The sync's decide and the sweep's can both be queued for one change; the second is a no-op."""
    seed(crm, n=4, hot=0)
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)
    changed = sorted(sync_connector(ctx, "crm").changed)
    first = decide_contacts(ctx, changed, "sweep-1", owed_only=True)
    second = decide_contacts(ctx, changed, "sync-1", owed_only=True)
    assert first.decided == len(changed) and second.decided == 0 and second.already == len(changed)
    crm.put_contact("1", email="p1@example.com", first_name="Changed")  # a new change is owed again
    sync_connector(ctx, "crm")
    third = decide_contacts(ctx, changed, "sync-2", owed_only=True)
    assert third.decided == 1
    assert decide_contacts(ctx, changed, "api-1").decided == len(changed)  # without owed_only: decides all
    ctx.close()


def test_new_activity_alone_is_a_change_the_contact_is_owed_a_decision_for(tmp_path, redis_url, crm):
    """Three page views turn a lead hot; no field of its record changed. The sync queues a
    decide task for it, and the task (owed_only) and the sweep must both see it owed: only a
    record's re-merge moved changed_at, so the worker skipped it and it kept the old action."""
    from datetime import UTC, datetime, timedelta

    seed(crm, n=3, hot=0)
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)
    changed = sorted(sync_connector(ctx, "crm").changed)
    assert decide_contacts(ctx, changed, "first", owed_only=True).decided == 3
    now = datetime.now(UTC)
    for k in range(3):
        crm.add_activity(f"pv-{k}", "1", "page_view", now - timedelta(minutes=k))
    (hot,) = sync_connector(ctx, "crm").changed
    assert undecided_contacts(ctx, grace_seconds=0) == [hot]
    again = decide_contacts(ctx, changed, "after-visits", owed_only=True)
    assert (again.decided, again.already) == (1, 2)
    ctx.close()


def test_pages_committed_before_a_sync_fails_are_credited_to_their_decisions(tmp_path, redis_url, crm):
    """Activities page 1 commits, then the CRM answers 503. The retry resumes after page 1, so
    its activities are never read again: they must be credited now, from what the failed sync
    had committed (the task queues them for hub.learn; `hub run --once` records them)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, select

    from hub.errors import RetryableError
    from hub.pipeline.run import run_once
    from hub.pipeline.sync import committed_of
    from hub.store.schema import outcomes, sync_state

    seed(crm, n=2, hot=0)
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url, **{"connectors.crm.settings.page_size": 2})
    run_once(ctx)  # both decided
    later = datetime.now(UTC) + timedelta(minutes=1)
    for k, (who, kind) in enumerate([("0", "email_click"), ("0", "form_submit"), ("1", "email_click")]):
        crm.add_activity(f"a{k}", who, kind, later)
    crm.set_fault("activities_fail_after_pages", 1)
    with pytest.raises(RetryableError) as failed:
        sync_connector(ctx, "crm")
    assert len(committed_of(failed.value).new_activity_ids) == 2  # page 1, stored for good
    with ctx.store.connect() as conn:
        states = dict(conn.execute(select(sync_state.c.stream, sync_state.c.last_status)).all())
    assert states["activities"] == "failed"
    # `hub run --once` credits what its failed sync committed before it raises
    crm.add_activity("a3", "1", "form_submit", later)
    crm.set_fault("activities_fail_after_pages", 1)
    with pytest.raises(RetryableError):
        run_once(ctx)
    with ctx.store.connect() as conn:
        credited = conn.execute(select(func.count()).select_from(outcomes)).scalar()
    # page 1 of this pass (a2 and a3), and a0 and a1, which the failed task above never handed
    # to learning: the store still owed them credit (unattributed_activities)
    assert credited == 4
    ctx.close()
