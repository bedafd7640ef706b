"""Runs of equal SystemModstamps longer than a batch, read through simple-salesforce on the sandbox.

A Bulk load or a mass update stamps thousands of rows with one SystemModstamp. Within one sync
those rows are read completely and exactly once, in one go and when every query locator
expires between batches: the reader goes on right after the (SystemModstamp, Id) it read last.
Across syncs (after one stopped inside the run, or the next sync's overlap) nothing is lost and
nothing doubled in the store; rows beyond the ``MAX_SEEN`` ids the cursor keeps are read again,
because a position inside a second cannot be kept across syncs (test_late_commits.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from itertools import islice

import pytest

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.cursor import MAX_SEEN, StreamCursor
from hub.models import Contact, Page
from hub.sandbox.serve import SandboxHandle
from hub.sandbox.world import World
from hub.store import Store
from tests.connectors.salesforce.stored import store_pages, stored

RUN = 2_600  # rows on one stamp: more than a batch, and more than the cursor keeps ids of
BATCH = 200  # the smallest batch Salesforce gives (Sforce-Query-Options: batchSize)
MINUTE_MS = 60_000


@pytest.fixture
def world() -> World:
    w = World(n_contacts=60, seed=5)
    stamp = w.clock.now_ms()
    for k in range(RUN):  # one Bulk job's rows: one transaction time
        w.salesforce.create("Lead", {"LastName": f"Bulk {k}", "Email": f"bulk{k}@example.com"}, at_ms=stamp)
    w.clock.skip(1_000)  # Salesforce stamps to the second: a later stamp is a later second
    w.salesforce.create("Lead", {"LastName": "After", "Email": "after@example.com"})
    return w


def _connector(sb: SandboxHandle, world: World) -> SalesforceConnector:
    settings = SalesforceSettings(
        **sb.salesforce_password_login, objects=["Lead"], batch_size=BATCH, overlap_seconds=60, bulk_threshold=None
    )
    conn = SalesforceConnector("sf", settings, {})
    end = datetime.fromtimestamp((world.clock.now_ms() + MINUTE_MS) / 1000, UTC)
    conn.clock = lambda: end
    return conn


def _ids(page: Page[Contact]) -> list[str]:
    return [c.identities[0].external_id for c in page.items] + [i.external_id for i in page.deleted]


def _leads(world: World) -> list[str]:
    return sorted(world.salesforce.objects["Lead"])


def test_a_run_of_equal_stamps_longer_than_a_batch_is_read_once(sb: SandboxHandle, world: World) -> None:
    read = Counter(i for p in _connector(sb, world).pull_contacts(None) for i in _ids(p))
    assert sorted(read) == _leads(world) and max(read.values()) == 1


def test_a_sync_stopped_inside_the_run_loses_nothing_and_doubles_nothing(
    sb: SandboxHandle, world: World, store: Store
) -> None:
    """Stopped after 13 batches (2,600 rows, most on the run's stamp): the next sync starts at
    the overlap again and reads only the rows the cursor's ``seen`` does not hold; the store ends
    with every lead once."""
    first = list(islice(_connector(sb, world).pull_contacts(None), 13))
    cursor = first[-1].cursor
    assert StreamCursor.loads(cursor).objects["Lead"].read_ms is None  # stopped inside the window
    rest = list(_connector(sb, world).pull_contacts(cursor))
    assert StreamCursor.loads(rest[-1].cursor).objects["Lead"].read_ms is not None  # read to its end
    store_pages(store, first + rest)
    titles, count = stored(store)
    assert sorted(titles) == _leads(world) and count == len(_leads(world))
    read = Counter(i for p in first + rest for i in _ids(p))
    assert sum(n - 1 for n in read.values()) <= 13 * BATCH - MAX_SEEN  # only what seen could not hold


def test_every_locator_expiring_inside_the_run_still_reads_each_row_once(sb: SandboxHandle, world: World) -> None:
    """Each batch is followed by 16 idle minutes: every nextRecordsUrl has expired when it is
    used, and each re-query must start after the last row read, not at the run's first row."""
    conn = _connector(sb, world)
    pages = []
    for page in islice(conn.pull_contacts(None), 100):  # a reader going round in circles stops here
        pages.append(page)
        world.clock.skip(16 * MINUTE_MS)
    read = Counter(i for p in pages for i in _ids(p))
    assert sorted(read) == _leads(world)
    assert [i for i, n in read.items() if n > 1] == []
    leads = len(_leads(world))
    assert conn.client.calls <= 2 * -(-leads // BATCH) + 10  # a query and an expired locator per batch, at most


def test_the_next_sync_s_overlap_reads_again_only_what_seen_cannot_hold(
    sb: SandboxHandle, world: World, store: Store
) -> None:
    """The 60 s overlap holds the run and the lead after it (2,601 rows); the cursor keeps the
    ids of 2,000, so the next sync reads the other 601 again, and the store is unchanged by it."""
    pages = list(_connector(sb, world).pull_contacts(None))
    store_pages(store, pages)
    since = StreamCursor.loads(pages[-1].cursor).objects["Lead"].since_ms
    assert since is not None
    overlap = [r for r in world.salesforce.objects["Lead"].values() if r["SystemModstamp"] >= since - MINUTE_MS]
    assert len(overlap) == RUN + 1
    again = list(_connector(sb, world).pull_contacts(pages[-1].cursor))
    assert len([i for p in again for i in _ids(p)]) == len(overlap) - MAX_SEEN
    store_pages(store, again)
    titles, count = stored(store)
    assert sorted(titles) == _leads(world) and count == len(_leads(world))


def test_a_row_changed_after_the_run_is_read_by_the_next_sync(sb: SandboxHandle, world: World, store: Store) -> None:
    """A row of the run updated since (a new stamp) comes in the next sync and is stored."""
    pages = list(_connector(sb, world).pull_contacts(None))
    store_pages(store, pages)
    bulk = [r["Id"] for r in world.salesforce.objects["Lead"].values() if r["LastName"] == "Bulk 7"]
    world.clock.skip(1_000)  # a new stamp: a later second
    with world.lock:
        world.salesforce.update("Lead", bulk[0], {"Title": "changed"}, "test", source="market")
    again = list(_connector(sb, world).pull_contacts(pages[-1].cursor))
    assert Counter(i for p in again for i in _ids(p))[bulk[0]] == 1
    store_pages(store, again)
    titles, count = stored(store)
    assert titles[bulk[0]] == "changed"
    assert sorted(titles) == _leads(world) and count == len(_leads(world))
