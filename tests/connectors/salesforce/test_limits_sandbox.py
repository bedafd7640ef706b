"""Short-lived limits and query timeouts against the sandbox: the sync narrows or waits, and finishes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from hub.sandbox.salesforce_server import SalesforceLimits
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World


def _connector(sb: SandboxHandle, waits: list[float]) -> SalesforceConnector:
    settings = SalesforceSettings(
        **sb.salesforce_password_login,
        objects=["Lead"],
        activity_objects=[],
    )
    conn = SalesforceConnector("sf", settings, {}, clock=lambda: datetime(2027, 1, 1, tzinfo=UTC))
    conn.client.sleep = waits.append
    return conn


def test_query_timeouts_narrow_the_window_and_every_lead_arrives() -> None:
    """The population was loaded in one second (one SystemModstamp for all, as a data load has):
    no narrower window exists, so that second is read LIMIT rows at a time."""
    world = World(n_contacts=400, seed=21)
    with start_sandbox(world, salesforce_limits=SalesforceLimits(query_timeout_rows=60)) as sb:
        leads = {rid for rid, r in world.salesforce.objects["Lead"].items()}
        assert len(leads) > 200
        waits: list[float] = []
        pages = list(_connector(sb, waits).pull_contacts(None))
        got = (
            {c.identities[0].external_id for p in pages for c in p.items}
            | {m.source.external_id for p in pages for m in p.moved}
            | {d.external_id for p in pages for d in p.deleted}
        )
        assert got == leads
        assert len(pages) > 4  # several narrowed windows, each read to its end


def test_query_timeouts_narrow_by_whole_seconds_and_every_lead_arrives_once() -> None:
    """Leads ten to a second over 30 seconds, and a second loaded with the population: windows
    narrow in whole seconds (Salesforce ignores milliseconds, so half a second is the same second
    again) and the loaded second is read LIMIT rows at a time."""
    world = World(n_contacts=200, seed=21)
    base = world.clock.now_ms() + 60_000
    with world.lock:
        made = [
            world.salesforce.create("Lead", {"LastName": f"L{k}", "Company": "Acme"}, at_ms=base + 1000 * (k // 10))
            for k in range(300)
        ]
    with start_sandbox(world, salesforce_limits=SalesforceLimits(query_timeout_rows=25)) as sb:
        conn = _connector(sb, [])
        pages = list(conn.pull_contacts(None))
        read = Counter(c.identities[0].external_id for p in pages for c in p.items)
        assert set(made) <= set(read) and max(read.values()) == 1
        assert conn.client.calls < 200


def test_a_concurrency_burst_is_waited_out_within_the_sync() -> None:
    world = World(n_contacts=400, seed=21)
    with start_sandbox(world) as sb:
        waits: list[float] = []
        conn = _connector(sb, waits)
        conn.client.describe("Lead")
        sb.salesforce_faults.set(burst_429=2)  # ConcurrentPerOrgLongTxn, twice
        pages = list(conn.pull_contacts(None))
        assert sum(len(p.items) for p in pages) > 200
        assert waits == [2.0, 4.0]


def test_a_query_locator_that_expired_between_batches_is_requeried_from_the_cursor() -> None:
    """The sync stops between batches (a slow consumer, a paused worker) longer than the 15 idle
    minutes a locator lives: the reader queries again from its cursor, and every lead arrives
    exactly once."""
    world = World(n_contacts=1000, seed=21)
    with start_sandbox(world) as sb:
        leads = set(world.salesforce.objects["Lead"])
        assert len(leads) > 400
        settings = SalesforceSettings(
            **sb.salesforce_password_login, objects=["Lead"], activity_objects=[], batch_size=200
        )
        conn = SalesforceConnector("sf", settings, {}, clock=lambda: datetime(2027, 1, 1, tzinfo=UTC))
        conn.client.sleep = lambda s: None
        got: list[str] = []
        before = sb.world.log.calls.copy()
        for n, page in enumerate(conn.pull_contacts(None)):
            got += [c.identities[0].external_id for c in page.items]
            got += [m.source.external_id for m in page.moved] + [d.external_id for d in page.deleted]
            if n in (0, 1):
                world.clock.skip(16 * 60_000)  # the next batch's locator has expired
        assert sorted(got) == sorted(leads) and len(got) == len(set(got))
        calls = sb.world.log.calls - before
        starts = sum(v for (_, ep), v in calls.items() if ep.endswith("/queryAll"))  # leads: deletes too
        assert starts == 4, calls  # COUNT() first, then the query, then once per expired locator


def test_a_consumer_slower_than_a_locator_lives_after_every_batch_still_reads_every_lead() -> None:
    """Every batch outlives its locator (15 idle minutes): each re-query started again at the
    cursor less the whole overlap, whose rows (more than a batch here: every lead is within the
    minute) were all read already, so it brought nothing new and the restarts ran out. A
    re-query starts at the cursor itself (ties by the cursor's ids), and restarts that bring
    rows do not count against the limit."""
    world = World(n_contacts=1000, seed=21)
    with start_sandbox(world) as sb:
        leads = set(world.salesforce.objects["Lead"])
        assert len(leads) > 400
        settings = SalesforceSettings(
            **sb.salesforce_password_login, objects=["Lead"], activity_objects=[], batch_size=200
        )
        conn = SalesforceConnector("sf", settings, {}, clock=lambda: datetime(2027, 1, 1, tzinfo=UTC))
        conn.client.sleep = lambda s: None
        got: list[str] = []
        for page in conn.pull_contacts(None):
            got += [c.identities[0].external_id for c in page.items]
            got += [m.source.external_id for m in page.moved] + [d.external_id for d in page.deleted]
            world.clock.skip(16 * 60_000)  # every next batch's locator has expired
        assert sorted(got) == sorted(leads) and len(got) == len(set(got))
