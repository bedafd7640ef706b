"""Salesforce keeps SystemModstamp to the second and ignores milliseconds in SOQL, read through
simple-salesforce on the sandbox (which now does the same).

A sync at 10:00:00.400 that reads the rows stamped 10:00:00 has not seen that second's end: a
row changed at 10:00:00.700 is stamped 10:00:00 again, with the same (Id, SystemModstamp) as the
version read, and no later window can tell it apart. The reader reads whole seconds that are over.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from hub.models import Contact, Page
from hub.sandbox.serve import SandboxHandle
from hub.sandbox.world import World


@pytest.fixture
def world() -> World:
    return World(n_contacts=60, seed=5, realtime_clock=False)  # time moves only when told


def _connector(sb: SandboxHandle, world: World) -> SalesforceConnector:
    settings = SalesforceSettings(**sb.salesforce_password_login, objects=["Lead"], bulk_threshold=None)
    # the connector's clock is the org's: a sync starts "now"
    return SalesforceConnector(
        "sf", settings, {}, clock=lambda: datetime.fromtimestamp(world.clock.peek_ms() / 1000, UTC)
    )


def _titles(pages: list[Page[Contact]]) -> dict[str, str | None]:
    return {c.identities[0].external_id: c.job_title for p in pages for c in p.items}


def test_a_row_changed_later_in_the_second_a_sync_read_is_read_again(sb: SandboxHandle, world: World) -> None:
    conn = _connector(sb, world)
    start = list(conn.pull_contacts(None))[-1].cursor  # the population
    world.clock.skip(5_000)
    with world.lock:
        first = world.salesforce.create("Lead", {"LastName": "First", "Company": "Acme"})
        second = world.salesforce.create("Lead", {"LastName": "Second", "Company": "Acme"})
    assert first < second
    world.clock.skip(400)  # a sync starts 400 ms into the second both were stamped in
    cursor = list(conn.pull_contacts(start))[-1].cursor
    world.clock.skip(300)  # later in that same second, someone edits the first
    with world.lock:
        world.salesforce.update("Lead", first, {"Title": "CFO"}, "test", source="market")
    stamps = {world.salesforce.objects["Lead"][i]["SystemModstamp"] for i in (first, second)}
    assert len(stamps) == 1  # as Salesforce stamps them: one second
    world.clock.skip(5_000)
    later = list(conn.pull_contacts(cursor))
    assert _titles(later).get(first) == "CFO"
