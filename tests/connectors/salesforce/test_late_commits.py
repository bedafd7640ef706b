"""A transaction that commits late, at a second a sync has already read, read through
simple-salesforce on the sandbox and stored in a real store.

Salesforce stamps every row a transaction writes with one whole second, and transactions
started in the same second commit at different times. Ids are not commit order either: an
update of an older record keeps its low Id. So a sync can read a second's rows with high Ids
(one transaction, committed) before rows with lower Ids land at that same stamp (another
transaction, committed later). The next sync must store them: a cursor that resumes across
syncs after the (stamp, Id) it read last skips them for ever.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from hub.models import Contact, Page
from hub.sandbox.serve import SandboxHandle
from hub.sandbox.world import World
from hub.store import Store
from tests.connectors.salesforce.stored import store_pages, stored


@pytest.fixture
def world() -> World:
    return World(n_contacts=60, seed=5, realtime_clock=False)  # time moves only when told


class Syncs:
    """Syncs of Lead whose start (the connector's clock) the test sets, each stored as the
    hub's sync stores pages (an idempotent upsert per identity)."""

    def __init__(self, sb: SandboxHandle, store: Store) -> None:
        settings = SalesforceSettings(**sb.salesforce_password_login, objects=["Lead"], bulk_threshold=None)
        self.start_ms = 0
        self.conn = SalesforceConnector(
            "sf", settings, {}, clock=lambda: datetime.fromtimestamp(self.start_ms / 1000, UTC)
        )
        self.store = store

    def run(self, cursor: str | None, start_ms: int) -> tuple[str, list[Contact]]:
        self.start_ms = start_ms
        pages: list[Page[Contact]] = list(self.conn.pull_contacts(cursor))
        store_pages(self.store, pages)
        return pages[-1].cursor, [c for p in pages for c in p.items]


def _as_before(cursor: str, lead: str, second: int) -> str:
    """The cursor as the previous version wrote it: the Id read last at ``since`` ("t"), the rows
    read there ("n") and a run of equal stamps by its last Id ("u"). Loaded, they are ignored."""
    data = json.loads(cursor)
    data["o"]["Lead"].update({"t": lead, "n": 3, "u": {str(second - 1_000): lead}})
    return json.dumps(data)


@pytest.mark.parametrize("written_by", ["this version", "the previous version"])
def test_rows_committed_late_at_a_second_already_read_are_stored_by_the_next_sync(
    sb: SandboxHandle, world: World, store: Store, written_by: str
) -> None:
    syncs = Syncs(sb, store)
    cursor, _ = syncs.run(None, world.clock.peek_ms() + 2_000)  # the population
    world.clock.skip(5_000 + 1_000 - world.clock.peek_ms() % 1_000 + 100)  # 100 ms into a later second
    second = world.clock.peek_ms() // 1_000 * 1_000
    with world.lock, world.salesforce.transaction():  # one transaction: three new leads, high Ids
        early = [world.salesforce.create("Lead", {"LastName": f"Early {k}", "Company": "Acme"}) for k in range(3)]
    # a sync starting two seconds later reads that second: the second transaction has not
    # committed yet (the org's clock is still in that second, the sync's is not)
    cursor, read = syncs.run(cursor, second + 2_000)
    assert {c.identities[0].external_id for c in read} == set(early)
    if written_by == "the previous version":
        cursor = _as_before(cursor, max(early), second)
    # the second transaction commits now: it updates three older leads, at the same stamp
    late = sorted(world.salesforce.objects["Lead"])[:3]
    with world.lock, world.salesforce.transaction():
        for rid in late:
            world.salesforce.update("Lead", rid, {"Title": "Committed late"}, "test", source="market")
    assert max(late) < min(early)  # lower Ids than those the sync read last at that second
    stamps = {world.salesforce.objects["Lead"][i]["SystemModstamp"] for i in late + early}
    assert stamps == {second}  # one second, as Salesforce stamps it
    world.clock.skip(3_000)
    cursor, _ = syncs.run(cursor, second + 3_000)
    titles, count = stored(store)
    assert {rid: titles.get(rid) for rid in late} == dict.fromkeys(late, "Committed late")
    assert sorted(titles) == sorted(world.salesforce.objects["Lead"])  # nothing lost
    assert count == len(world.salesforce.objects["Lead"])  # nothing doubled
