"""A spent daily limit blocks the connector until midnight in the account's time zone (HubSpot's
usage guidelines), reckoned on the sandbox clock: not an hour's guess, not UTC midnight."""

from __future__ import annotations

import pytest

from hub.errors import RetryableError
from hub.sandbox.hubspot_server import HubSpotLimits
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from tests.connectors.hubspot.conftest import make_connector
from tests.connectors.hubspot.test_push import live, req

HOUR = 3600


def _spent(sb, world, **settings):
    """A connector on the sandbox clock, and the day's calls spent at 01:00 in New York."""
    c = make_connector(sb, **settings)
    c.client.sleep = lambda s: None
    c.client.clock = lambda: world.clock.now_ms() / 1000
    world.clock.skip(6 * HOUR * 1000)  # 06:00 UTC: 01:00 in New York
    return c


@pytest.fixture
def spent_portal():
    world = World(n_contacts=20, seed=2)
    with start_sandbox(world, hubspot_limits=HubSpotLimits(per_day=6, time_zone="America/New_York")) as sb:
        yield sb, world


def _exhaust(c, sb) -> None:
    """Someone else's calls spent the account's day (the limit is per account, shared by apps)."""
    quota = sb.hubspot.daily
    quota._day, quota.used = sb.hubspot.account_day(), quota.limit


def test_pushes_wait_until_the_account_s_midnight(spent_portal):
    sb, world = spent_portal
    c = _spent(sb, world, portal_timezone="America/New_York")
    _exhaust(c, sb)
    (result,) = c.push([req(1, live(world)[0], "add_to_list", list="hot")])
    assert result.status == "blocked"
    # 01:00 to midnight in New York is 23 hours (plus the connector's minute of margin)
    assert 23 * HOUR <= result.retry_after <= 23 * HOUR + 120
    assert "midnight America/New_York" in result.reason and "2026-01-06 05:00 UTC" in result.reason


def test_the_zone_is_learned_from_the_account_by_check(spent_portal):
    sb, world = spent_portal
    c = _spent(sb, world)
    c.check()  # reads the account's details: America/New_York
    _exhaust(c, sb)
    with pytest.raises(RetryableError) as e:
        list(c.pull_contacts(None))
    assert e.value.blocked and 23 * HOUR <= e.value.retry_after <= 23 * HOUR + 120


def test_a_zone_set_in_the_settings_wins_over_the_account_s(spent_portal):
    sb, world = spent_portal
    c = _spent(sb, world, portal_timezone="UTC")
    c.check()
    _exhaust(c, sb)
    with pytest.raises(RetryableError) as e:
        list(c.pull_contacts(None))
    assert 18 * HOUR <= e.value.retry_after <= 18 * HOUR + 120  # 06:00 UTC to UTC midnight


@pytest.fixture
def busy_portal():
    """A portal whose day is spent after the connector's first sync (room for that sync)."""
    world = World(n_contacts=20, seed=2)
    with start_sandbox(world, hubspot_limits=HubSpotLimits(per_day=1000, time_zone="America/New_York")) as sb:
        yield sb, world


def test_without_check_or_setting_the_zone_is_read_from_the_account_once(busy_portal):
    """A worker process never runs check(): the zone is read at its first sync, once."""
    sb, world = busy_portal
    c = _spent(sb, world)
    list(c.pull_contacts(None))
    c.push([req(1, live(world)[0], "add_to_list", list="hot")])
    assert c.client.calls["account.details"] == 1  # once per process, not per call or sync
    _exhaust(c, sb)
    (result,) = c.push([req(2, live(world)[1], "add_to_list", list="hot")])
    assert result.status == "blocked"
    assert 23 * HOUR <= result.retry_after <= 23 * HOUR + 120  # not the hour's guess
    assert "midnight America/New_York" in result.reason


def test_a_zone_set_in_the_settings_is_not_asked_for(busy_portal):
    sb, world = busy_portal
    c = _spent(sb, world, portal_timezone="UTC")
    list(c.pull_contacts(None))
    assert "account.details" not in c.client.calls
