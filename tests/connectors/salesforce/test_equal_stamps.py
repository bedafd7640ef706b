"""Runs of equal SystemModstamps longer than a batch, read through simple-salesforce on the sandbox.

A Bulk load or a mass update stamps thousands of rows with one SystemModstamp. Those rows must
be read completely and exactly once: in one go, after a sync stopped between two batches of the
run (limit spent, crash), and when every query locator expires between batches. The cursor
remembers the (SystemModstamp, Id) read last, so a resumed read starts right after that row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice

import pytest

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.cursor import StreamCursor
from hub.models import Contact, Page
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World

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


@pytest.fixture
def sb(world: World) -> Iterator[SandboxHandle]:
    with start_sandbox(world) as handle:
        yield handle


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


def test_a_sync_stopped_inside_the_run_resumes_after_the_last_row_read(sb: SandboxHandle, world: World) -> None:
    """Stopped after 13 batches (2,600 rows, most on the run's stamp): the next sync reads only
    the rest. Keeping the ids read at the stamp could not do it: the cursor keeps 2,000."""
    first = list(islice(_connector(sb, world).pull_contacts(None), 13))
    cursor = first[-1].cursor
    assert StreamCursor.loads(cursor).objects["Lead"].read_ms is None  # stopped inside the window
    rest = list(_connector(sb, world).pull_contacts(cursor))
    read = Counter(i for p in first + rest for i in _ids(p))
    assert sorted(read) == _leads(world)
    assert [i for i, n in read.items() if n > 1] == []
    assert [i for p in _connector(sb, world).pull_contacts(rest[-1].cursor) for i in _ids(p)] == []


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


def test_the_next_sync_s_overlap_does_not_read_the_run_again(sb: SandboxHandle, world: World) -> None:
    """The 60 s overlap re-reads the run; the cursor keeps 2,000 ids, so 600 of the run used to
    come again. Kept as (stamp, last Id), the run is left out of the overlap in the query."""
    pages = list(_connector(sb, world).pull_contacts(None))
    assert StreamCursor.loads(pages[-1].cursor).objects["Lead"].runs  # the run, by its stamp and last Id
    again = list(_connector(sb, world).pull_contacts(pages[-1].cursor))
    assert [i for p in again for i in _ids(p)] == []


def test_a_row_changed_after_the_run_is_read_by_the_next_sync(sb: SandboxHandle, world: World) -> None:
    """Leaving the run out by its last Id skips only what was read: a row of the run updated
    since (a new stamp) comes in the next sync, once."""
    pages = list(_connector(sb, world).pull_contacts(None))
    bulk = [r["Id"] for r in world.salesforce.objects["Lead"].values() if r["LastName"] == "Bulk 7"]
    world.clock.skip(1_000)  # a new stamp: a later second
    with world.lock:
        world.salesforce.update("Lead", bulk[0], {"Title": "changed"}, "test", source="market")
    again = list(_connector(sb, world).pull_contacts(pages[-1].cursor))
    assert [i for p in again for i in _ids(p)] == bulk
