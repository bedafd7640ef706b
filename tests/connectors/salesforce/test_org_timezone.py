"""A bare local send hour ("9") is placed in the org's own time zone when ``org_timezone`` is
not set: it defaulted to UTC, so "9" landed at 9:00 UTC (4:00 in New York) for an org in
America/New_York. Through the real simple-salesforce against the sandbox org."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.mapping import needs_local_zone, org_time_zone
from hub.models import Action, ActionKind, Identity, PushRequest
from hub.sandbox.clock import parse_datetime_ms
from hub.sandbox.salesforce_server import SalesforceCredentials, SalesforceLimits
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World

FIELD = "Hub_Best_Send_Time__c"


def _connector(sb: SandboxHandle, **settings: Any) -> SalesforceConnector:
    s = SalesforceSettings(**sb.salesforce_password_login, bulk_threshold=None, **settings)
    return SalesforceConnector("salesforce", s, {})


def _push_hour(conn: SalesforceConnector, lead: str, hour: str = "9") -> None:
    req = PushRequest(
        push_id=1,
        identity=Identity(connector="salesforce", object_type="lead", external_id=lead),
        action=Action(kind=ActionKind.SET_FIELDS, payload={"fields": {"best_send_time": hour}}),
    )
    assert [r.status for r in conn.push([req])] == ["ok"]


def _local(world: World, lead: str, zone: str) -> tuple[int, int]:
    stored = parse_datetime_ms(world.salesforce.objects["Lead"][lead][FIELD])
    at = datetime.fromtimestamp(stored / 1000, UTC).astimezone(ZoneInfo(zone))
    return at.hour, at.minute


def _world() -> World:
    return World(n_contacts=20, seed=3, salesforce_hub_fields=True)


def test_a_bare_hour_is_read_in_the_org_s_own_zone_unless_one_is_set() -> None:
    world = _world()
    limits = SalesforceLimits(time_zone="America/New_York")
    with start_sandbox(world, salesforce_limits=limits) as sb:
        a, b = list(world.salesforce.objects["Lead"])[:2]
        own = _connector(sb)  # its first call is the push: the zone is read before the value is written
        _push_hour(own, a)
        assert _local(world, a, "America/New_York") == (9, 0)
        set_ = _connector(sb, org_timezone="Europe/Berlin")  # set: it wins over the org's
        _push_hour(set_, b)
        assert _local(world, b, "Europe/Berlin") == (9, 0)
        own.close()
        set_.close()


def test_the_org_s_zone_is_read_once_per_client() -> None:
    world = _world()
    with start_sandbox(world, salesforce_limits=SalesforceLimits(time_zone="America/New_York")) as sb:
        a, b, c = list(world.salesforce.objects["Lead"])[:3]
        first = _connector(sb)
        _push_hour(first, a)
        world.salesforce.set_time_zone("Asia/Tokyo")  # an admin changes it: this client keeps what it read
        _push_hour(first, b)
        assert _local(world, b, "America/New_York") == (9, 0)
        later = _connector(sb)  # a new client (a restarted worker) reads it again
        _push_hour(later, c)
        assert _local(world, c, "Asia/Tokyo") == (9, 0)
        first.close()
        later.close()


def test_an_org_zone_the_user_may_not_read_is_utc_with_one_warning(caplog) -> None:
    world = _world()
    creds = SalesforceCredentials(view_setup=False)  # no "View Setup and Configuration"
    with start_sandbox(
        world, salesforce_limits=SalesforceLimits(time_zone="America/New_York"), salesforce_credentials=creds
    ) as sb:
        a, b = list(world.salesforce.objects["Lead"])[:2]
        conn = _connector(sb)
        with caplog.at_level(logging.WARNING, logger="connectors.salesforce"):
            _push_hour(conn, a)
            _push_hour(conn, b, "14")
        assert _local(world, a, "UTC") == (9, 0)
        assert _local(world, b, "UTC") == (14, 0)
        warned = [r.getMessage() for r in caplog.records if "time zone" in r.getMessage()]
        assert len(warned) == 1, warned
        assert "org_timezone" in warned[0] and "View Setup and Configuration" in warned[0]
        conn.close()
        # set, the org is not asked and nothing is said
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="connectors.salesforce"):
            berlin = _connector(sb, org_timezone="Europe/Berlin")
            _push_hour(berlin, a)
        assert _local(world, a, "Europe/Berlin") == (9, 0)
        assert not [r for r in caplog.records if "time zone" in r.getMessage()]
        berlin.close()


def test_only_a_known_zone_is_taken_from_the_org() -> None:
    assert org_time_zone([{"TimeZoneSidKey": "America/New_York"}]) == "America/New_York"
    assert org_time_zone([{"TimeZoneSidKey": "Mars/Olympus"}]) is None  # then UTC, with a warning
    assert org_time_zone([{"TimeZoneSidKey": None}]) is None
    assert org_time_zone([]) is None


def test_only_a_bare_hour_for_a_datetime_field_needs_the_zone() -> None:
    assert needs_local_zone("best_send_time", "9") and needs_local_zone("best_send_time", "14:30")
    assert not needs_local_zone("best_send_time", "2026-03-02T14:00:00+01:00")
    assert not needs_local_zone("next_best_action", "9")  # text, not a time


def test_the_check_names_the_zone_a_bare_hour_lands_in_and_why_it_is_utc() -> None:
    """`hub connectors list --check` said nothing of it: a user without View Setup learned of the
    UTC fallback from a worker's log line at the first push."""
    world = _world()
    limits = SalesforceLimits(time_zone="America/New_York")
    with start_sandbox(world, salesforce_limits=limits) as sb:
        conn = _connector(sb)
        report = conn.check()
        assert report.details["time_zone"] == "America/New_York"
        assert not [p for p in report.problems if "time zone" in p], report.problems
        conn.close()
    with start_sandbox(
        world, salesforce_limits=limits, salesforce_credentials=SalesforceCredentials(view_setup=False)
    ) as sb:
        conn = _connector(sb)
        report = conn.check()
        assert report.details["time_zone"] == "UTC"
        (why,) = [p for p in report.problems if "time zone" in p]
        assert "org_timezone" in why and "View Setup and Configuration" in why
        assert report.ok, report.problems  # what it does without: not a failed check
        berlin = _connector(sb, org_timezone="Europe/Berlin")
        assert berlin.check().details["time_zone"] == "Europe/Berlin"  # set: the org is not asked
        conn.close()
        berlin.close()
