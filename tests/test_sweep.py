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
