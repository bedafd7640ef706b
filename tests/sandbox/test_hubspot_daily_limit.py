"""HubSpot's daily limit resets at midnight in the account's time zone, not in UTC (usage
guidelines, integration-anchors.md A): seen through the real client."""

from __future__ import annotations

import pytest
from hubspot.crm.contacts.exceptions import ApiException

from hub.sandbox.hubspot_server import HubSpotLimits
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World, WorldConfig

from .conftest import hubspot_client

HOUR_MS = 3_600_000


def _refused(hs) -> bool:
    try:
        hs.crm.contacts.basic_api.get_page(limit=1)
    except ApiException as e:
        assert e.status == 429 and "DAILY" in e.body
        return True
    return False


def test_the_daily_count_resets_at_the_account_s_midnight() -> None:
    world = World(n_contacts=20, seed=1)
    with start_sandbox(world, hubspot_limits=HubSpotLimits(per_day=3, time_zone="America/New_York")) as sb:
        hs = hubspot_client(sb)
        world.clock.skip(6 * HOUR_MS)  # 06:00 UTC, 01:00 in New York (January: UTC-5)
        usage = hs.api_request({"method": "GET", "path": "/account-info/v3/api-usage/daily/private-apps"}).json()
        assert usage[0]["resetsAt"].startswith("2026-01-06T05:00:00")  # New York's next midnight
        details = hs.api_request({"method": "GET", "path": "/account-info/v3/details"}).json()
        assert details["timeZone"] == "America/New_York" and details["utcOffset"] == "-05:00"
        assert not _refused(hs)
        assert _refused(hs)  # three calls spent
        world.clock.set_day(1)  # UTC midnight: 19:00 the evening before in New York
        assert _refused(hs)
        world.clock.skip(5 * HOUR_MS - 60_000)  # 04:59 UTC
        assert _refused(hs)
        world.clock.skip(60_000)  # 05:00 UTC: New York's midnight
        assert not _refused(hs)


@pytest.mark.parametrize(("zone", "reset"), [("UTC", "2026-01-06T00:00"), ("Asia/Tokyo", "2026-01-05T15:00")])
def test_resets_at_follows_the_zone(zone, reset) -> None:
    with start_sandbox(World(n_contacts=5, seed=1), hubspot_limits=HubSpotLimits(time_zone=zone)) as sb:
        usage = hubspot_client(sb).api_request(
            {"method": "GET", "path": "/account-info/v3/api-usage/daily/private-apps"}
        )
        assert usage.json()[0]["resetsAt"].startswith(reset)


def test_reads_that_change_nothing_move_no_record_stamp() -> None:
    """The daily quota's day and account details read the clock without taking a stamp: a
    client's account-details read before its first call leaves a realtime=False world's
    stamps as they were."""
    world = World(WorldConfig(n_contacts=20, seed=1, realtime_clock=False))
    with start_sandbox(world) as sb:
        hs = hubspot_client(sb)
        before = world.clock.last_ms
        hs.api_request({"method": "GET", "path": "/account-info/v3/details"})
        assert world.clock.last_ms == before
