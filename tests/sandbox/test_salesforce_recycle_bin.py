"""The Recycle Bin: queryAll sees a deleted record only while the bin holds it.

Deleted records stay 15 days, then are deleted for good; the bin holds at most 5,000 records a
user license, and past that Salesforce removes the oldest that have been in it two hours (SOAP API
guide, emptyRecycleBin(), Usage). ``GET /sobjects/{T}/deleted`` reports as
``earliestDateAvailable`` when the last record deleted for good had been deleted (SOAP
GetDeletedResult): a reader that last looked before it may have missed deletions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceResourceNotFound

from hub.sandbox.clock import parse_datetime_ms, sf_datetime
from hub.sandbox.salesforce_server import SalesforceLimits
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World

from .conftest import salesforce_client

HOUR_MS = 3_600_000


def _org(limits: SalesforceLimits) -> Iterator[tuple[World, Salesforce]]:
    world = World(n_contacts=10, seed=2)
    with start_sandbox(world, salesforce_limits=limits) as sb:
        yield world, salesforce_client(sb)


@pytest.fixture
def org() -> Iterator[tuple[World, Salesforce]]:
    yield from _org(SalesforceLimits())


@pytest.fixture
def small_bin() -> Iterator[tuple[World, Salesforce]]:
    yield from _org(SalesforceLimits(recycle_bin_records=3))


def _deleted_ids(sf: Salesforce) -> set[str]:
    rows = sf.query_all("SELECT Id FROM Contact WHERE IsDeleted = true", include_deleted=True)["records"]
    return {r["Id"] for r in rows}


def _gone(sf: Salesforce, n: int) -> list[str]:
    ids = [sf.Contact.create({"LastName": f"Gone {k}"})["id"] for k in range(n)]
    for rid in ids:
        sf.Contact.delete(rid)
    return ids


def _earliest(sf: Salesforce, world: World) -> int:
    now = datetime.fromtimestamp(world.clock.peek_ms() / 1000, UTC)
    answer = sf.Contact.deleted(datetime.fromtimestamp(world.clock.peek_ms() / 1000 - 300, UTC), now)
    return parse_datetime_ms(answer["earliestDateAvailable"])


def test_a_deleted_record_leaves_query_all_after_15_days(org) -> None:
    world, sf = org
    world.clock.skip(60_000)  # deleted a minute after the org's first stamp
    [rid] = _gone(sf, 1)
    deleted_at = world.salesforce.objects["Contact"][rid]["SystemModstamp"]
    before = _earliest(sf, world)
    world.clock.set_day(15)  # 15 days less the minute: still in the bin
    assert rid in _deleted_ids(sf)
    assert _earliest(sf, world) == before < deleted_at  # nothing of it deleted for good yet
    world.clock.skip(2 * 60_000)
    assert rid not in _deleted_ids(sf)
    assert _earliest(sf, world) == deleted_at, sf_datetime(deleted_at)
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Contact.update(rid, {"LastName": "Back"})
    assert gone.value.content[0]["errorCode"] == "NOT_FOUND"


def test_a_full_bin_drops_its_oldest_records_after_two_hours(small_bin) -> None:
    world, sf = small_bin
    ids = _gone(sf, 5)
    assert set(ids) <= _deleted_ids(sf)  # over the bin's size, but none held two hours yet
    world.clock.skip(2 * HOUR_MS)
    assert _deleted_ids(sf) & set(ids) == set(ids[2:])
    oldest_kept = world.salesforce.objects["Contact"][ids[1]]["SystemModstamp"]
    assert _earliest(sf, world) == oldest_kept
