"""Deletions the Recycle Bin let go of before the next sync, read through simple-salesforce on
the sandbox.

Salesforce keeps deleted records 15 days, but a full bin (5,000 records a user license) lets
the oldest go after two hours (SOAP API guide, emptyRecycleBin()): after a big cleanup, queryAll
no longer shows deletions a few hours old. ``GET /sobjects/{T}/deleted`` says so: its
``earliestDateAvailable`` (the last record deleted for good) is then later than the last sync,
and the connector lists the live ids instead of trusting queryAll.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from hub.models import Contact, Page
from hub.sandbox.salesforce_server import SalesforceLimits
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World

HOUR_MS = 3_600_000


@pytest.fixture
def world() -> World:
    w = World(n_contacts=10, seed=5)
    for k in range(10):
        w.salesforce.create("Contact", {"LastName": f"Kept {k}", "Email": f"kept{k}@example.com"})
    return w


@pytest.fixture
def small_bin(world: World) -> Iterator[SandboxHandle]:
    with start_sandbox(world, salesforce_limits=SalesforceLimits(recycle_bin_records=3)) as handle:
        yield handle


def _connector(sb: SandboxHandle, world: World) -> SalesforceConnector:
    settings = SalesforceSettings(**sb.salesforce_password_login, objects=["Contact"], bulk_threshold=None)
    conn = SalesforceConnector("sf", settings, {})
    conn.clock = lambda: datetime.fromtimestamp(world.clock.peek_ms() / 1000, UTC)
    return conn


def _sync(sb: SandboxHandle, world: World, cursor: str | None) -> list[Page[Contact]]:
    return list(_connector(sb, world).pull_contacts(cursor))


def _contacts(world: World) -> list[str]:
    return sorted(r for r, rec in world.salesforce.objects["Contact"].items() if not rec["IsDeleted"])


def test_deletions_purged_from_a_full_bin_within_hours_reach_the_hub(small_bin: SandboxHandle, world: World) -> None:
    first = _sync(small_bin, world, None)
    world.clock.skip(60_000)
    gone = _contacts(world)[:5]
    with world.lock:
        for rid in gone:
            world.salesforce.delete("Contact", rid, "DELETE /sobjects/Contact/{id}")
    world.clock.skip(3 * HOUR_MS)  # the bin holds 3: the two oldest were deleted for good
    pages = _sync(small_bin, world, first[-1].cursor)
    deleted = {i.external_id for p in pages for i in p.deleted}
    lives = [p.live for p in pages if p.live is not None]
    assert len(lives) == 1 and lives[0].object_type == "contact"
    assert sorted(lives[0].external_ids) == _contacts(world)
    assert set(gone) - deleted <= set(gone) - set(lives[0].external_ids)  # each deletion is seen
    assert len(deleted & set(gone)) == 3  # the three still in the bin come as deletions too


def test_a_sync_after_an_hour_with_nothing_deleted_for_good_lists_no_ids(
    small_bin: SandboxHandle, world: World
) -> None:
    first = _sync(small_bin, world, None)
    world.clock.skip(HOUR_MS)
    assert all(p.live is None for p in _sync(small_bin, world, first[-1].cursor))


def test_a_deletion_window_salesforce_refuses_leaves_the_sync_to_the_15_day_horizon(
    small_bin: SandboxHandle, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Salesforce refuses a ``/deleted`` window that starts more than 30 days ago with 400
    INVALID_REPLICATION_DATE (getomnico/omni PR #450). A connector whose clock reads a month
    behind the org's (a skewed host) asks for one: the sync goes on without the Recycle Bin's
    answer, says why, and does not take the refusal for a purge (no list of live ids)."""
    first = _sync(small_bin, world, None)
    behind = datetime.fromtimestamp(world.clock.peek_ms() / 1000 + 3600, UTC)
    world.clock.set_day(31)
    conn = _connector(small_bin, world)
    conn.clock = lambda: behind
    with caplog.at_level("WARNING", logger="connectors.salesforce.connector"):
        pages = list(conn.pull_contacts(first[-1].cursor))
    assert pages and all(p.live is None for p in pages)
    assert any("INVALID_REPLICATION_DATE" in r.getMessage() for r in caplog.records)
