"""Decides handed out during a long sync: after each committed page, a full chunk at a time.

``hub.sync`` feeds ``sync_connector``'s ``on_commit`` into a ``DecideFeed``; here the feed's
``send`` records what a worker would be handed, and checks the store at that moment. A short
sync decides once at its end (after activities); the feed's clock is injected, nothing waits.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from hub.pipeline.decide import decide_contacts
from hub.pipeline.sync import DecideFeed, sync_connector
from hub.store.schema import contacts, decisions
from tests.plugins.memory_crm import MemoryCRM
from tests.test_pipeline import make_ctx, seed


@pytest.fixture
def crm(redis_url):
    c = MemoryCRM(redis_url, "memcrm")
    c.clear()
    yield c
    c.clear()


def test_on_a_long_sync_full_chunks_go_out_as_pages_commit_and_the_rest_at_its_end(tmp_path, store_url, redis_url, crm):
    seed(crm, n=110, hot=0)  # 5 pages of 25 (the last one short); chunks of 20
    ctx = make_ctx(tmp_path, store_url, redis_url)
    sent: list[tuple[list[int], str, int]] = []
    pages_committed = []

    def send(ids: list[int], key: str) -> None:
        with ctx.store.connect() as conn:  # what a worker would see: these contacts are committed
            stored = conn.execute(select(func.count()).where(contacts.c.id.in_(ids))).scalar()
        assert stored == len(ids)
        sent.append((ids, key, len(pages_committed)))

    feed = DecideFeed(ctx.settings.decision.chunk_size, send, "sync-t1", after_seconds=0)  # long from the start

    def on_commit(stream, cursor, ids):
        pages_committed.append(stream)
        feed.committed(stream, cursor, ids)

    res = sync_connector(ctx, "crm", on_commit=on_commit)
    during = [s for s in sent if s[2] < len(pages_committed)]
    feed.finish()
    assert len(res.changed) == 110
    assert len(during) >= 4, "decides went out before the last page was read"
    handed = [i for ids, _, _ in sent for i in ids]
    assert sorted(handed) == sorted(res.changed) and len(handed) == len(set(handed))
    assert all(len(ids) == 20 for ids, _, _ in sent[:-1]) and len(sent) == 6
    assert len({key for _, key, _ in sent}) == len(sent)
    # handing the same chunks out again (a redelivered task) decides nothing twice
    for ids, key, _ in sent:
        assert decide_contacts(ctx, ids, key).decided == len(ids)
    for ids, key, _ in sent:
        assert decide_contacts(ctx, ids, key).already == len(ids)
    with ctx.store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(decisions)).scalar() == 110
    ctx.close()


def test_a_short_sync_is_decided_at_its_end_once_activities_are_read(tmp_path, store_url, redis_url, crm):
    """Deciding the hot contacts from their record pages would push ``email_nurture`` and then,
    once their page views are read, ``sales_outreach``: a flip-flop the CRM would see."""
    seed(crm, n=60, hot=4)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    sent = []
    feed = DecideFeed(ctx.settings.decision.chunk_size, lambda ids, key: sent.append(ids), "sync-t2")
    res = sync_connector(ctx, "crm", on_commit=feed.committed)
    assert sent == [], "nothing before the sync is done: it is short"
    feed.finish()
    assert sorted(i for ids in sent for i in ids) == sorted(res.changed) and len(res.changed) == 60
    for k, ids in enumerate(sent):
        decide_contacts(ctx, ids, f"k{k}")
    with ctx.store.connect() as conn:
        actions = [a for (acts,) in conn.execute(select(decisions.c.actions)) for a in acts]
    outreach = [
        a for a in actions if a.get("payload", {}).get("fields", {}).get("next_best_action") == "sales_outreach"
    ]
    assert len(outreach) == 4, "the hot ones were decided with their page views"
    ctx.close()


def test_the_feed_starts_handing_out_once_the_sync_has_run_long_enough():
    now = [0.0]
    sent: list[list[int]] = []
    feed = DecideFeed(2, lambda ids, key: sent.append(ids), "sync-t4", after_seconds=300, clock=lambda: now[0])
    feed.committed("contacts", "1", {1, 2, 3})
    now[0] = 299.0
    feed.committed("contacts", "2", {4, 5})
    assert sent == []
    now[0] = 301.0
    feed.committed("contacts", "3", {6})
    assert sent == [[1, 2], [3, 4], [5, 6]]
    feed.committed("activities", "9", {1, 7})  # a contact again: its activities came in
    assert sent[-1] == [1, 7]
    feed.finish()
    assert len(sent) == 4


def test_a_page_rolled_back_is_not_handed_out(tmp_path, redis_url, crm):
    """The lock is gone by the first commit (its Redis restarted): that page is rolled back and
    nothing goes out. Embedded locks are in-process, so the lost lock is stood in for here."""
    seed(crm, n=30, hot=0)
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)
    sent = []
    feed = DecideFeed(5, lambda ids, key: sent.append(ids), "sync-t3")

    class Gone:
        acquired = True

        def refresh(self):
            return False

    @contextmanager
    def hold(name, ttl):
        yield Gone()

    ctx.locks.hold = hold  # a lock that is lost by the first commit (Redis restarted)
    sync_connector(ctx, "crm", on_commit=feed.committed)
    feed.finish()
    assert sent == []
    with ctx.store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contacts)).scalar() == 0
    ctx.close()


def test_keys_follow_the_committed_cursor_so_a_retry_never_reuses_one():
    got: list[str] = []
    feed = DecideFeed(2, lambda ids, key: got.append(key), "sync-same-task-id")
    feed.committed("contacts", "100", {1, 2, 3})
    feed.finish()
    again = DecideFeed(2, lambda ids, key: got.append(key), "sync-same-task-id")
    again.committed("contacts", "200", {1, 2, 3})  # the retry reads on from where the cursor is
    again.finish()
    assert len(got) == 4 and len(set(got)) == 4
