"""Datetime properties: the connector writes instants HubSpot stores as meant, and reads them
back in a form that diffs as unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.hubspot.mapping import field_value
from hub.models import ActionKind
from hub.pipeline.diff import effective_payload
from hub.sandbox.hubspot_server import HubSpotLimits
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from tests.connectors.hubspot.conftest import drain, make_connector
from tests.connectors.hubspot.test_push import live, req


def test_a_bare_hour_is_written_as_the_next_such_hour_in_the_portal_zone_not_1970(world, sandbox):
    """HubSpot reads a bare number as epoch ms (timestamp FAQ, developers.hubspot.com/docs/faq/
    how-should-timestamps-be-formatted-for-hubspots-apis): "14" would be 1970-01-01."""
    c = make_connector(sandbox, portal_timezone="America/New_York")
    c.ensure_schema()
    rid = live(world)[0]
    res = c.push([req(1, rid, fields={"best_send_time": "14"})])
    assert res[0].status == "ok"
    stored = world.hubspot.records[rid]["properties"]["hub_best_send_time"]
    at = datetime.fromisoformat(stored.replace("Z", "+00:00"))
    local = at.astimezone(ZoneInfo("America/New_York"))
    assert at.year >= 2024 and (local.hour, local.minute) == (14, 0)
    c.close()


def test_a_bare_hour_is_read_in_the_account_s_own_zone_unless_one_is_set():
    """Without ``portal_timezone`` a bare hour was read in its default, UTC: "14" landed at 23:00
    for an account in Tokyo. The client reads the account's zone from its details (as the daily
    limit's reset does), before the first push of a connector that has made no other call."""
    world = World(n_contacts=5, seed=3)
    with start_sandbox(world, hubspot_limits=HubSpotLimits(time_zone="Asia/Tokyo")) as sb:
        make_connector(sb).ensure_schema()
        a, b = live(world)[:2]
        for rid, settings, zone in ((a, {}, "Asia/Tokyo"), (b, {"portal_timezone": "Europe/Berlin"}, "Europe/Berlin")):
            c = make_connector(sb, **settings)
            assert c.push([req(1, rid, fields={"best_send_time": "14"})])[0].status == "ok"
            stored = world.hubspot.records[rid]["properties"]["hub_best_send_time"]
            local = datetime.fromisoformat(stored.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
            assert (local.hour, local.minute) == (14, 0), (zone, stored)
            c.close()


def test_an_unchanged_send_time_read_back_in_utc_is_not_pushed_again(world, connector):
    connector.ensure_schema()
    rid = live(world)[0]
    wanted = "2026-03-02T14:00:00+01:00"  # what the engine writes: the contact's own offset
    assert connector.push([req(1, rid, fields={"best_send_time": wanted})])[0].status == "ok"
    assert world.hubspot.records[rid]["properties"]["hub_best_send_time"] == "2026-03-02T13:00:00.000Z"
    items, _, _, _ = drain(connector.pull_contacts(None))
    read = next(c for c in items if c.identities[0].external_id == rid).crm_fields
    assert read["best_send_time"] == "2026-03-02T13:00:00.000Z"
    payload = {"fields": {"best_send_time": wanted}}
    assert effective_payload(ActionKind.SET_FIELDS, payload, read, None, None) is None
    moved = {"fields": {"best_send_time": "2026-03-02T15:00:00+01:00"}}
    assert effective_payload(ActionKind.SET_FIELDS, moved, read, None, None) == moved


def test_a_value_that_is_no_time_fails_that_record_alone(world, connector):
    connector.ensure_schema()
    a, b = live(world)[:2]
    res = connector.push([req(1, a, fields={"best_send_time": "soon"}), req(2, b, fields={"best_send_time": "9"})])
    assert res[0].status == "failed" and "'soon'" in res[0].reason
    assert res[1].status == "ok"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-02T14:00:00+01:00", "2026-03-02T13:00:00.000Z"),
        (1772456400000, "2026-03-02T13:00:00.000Z"),
        (datetime(2026, 3, 2, 13, tzinfo=UTC), "2026-03-02T13:00:00.000Z"),
    ],
)
def test_datetime_values_are_written_as_iso_utc(value, expected):
    assert field_value("best_send_time", value) == expected


def test_a_bare_hour_rolls_to_tomorrow_once_passed():
    now = datetime(2026, 3, 2, 20, tzinfo=UTC)  # 15:00 in New York
    assert field_value("best_send_time", "14", "America/New_York", now) == "2026-03-03T19:00:00.000Z"
    assert field_value("best_send_time", "16:30", "America/New_York", now) == "2026-03-02T21:30:00.000Z"
    with pytest.raises(ValueError, match="hour of the day"):
        field_value("best_send_time", "25", "UTC", now)


def test_a_bare_hour_is_written_again_though_the_store_holds_the_last_one_pushed():
    """A landed push leaves its payload in the store as the CRM's value until the next sync:
    a bare hour "14" there, though HubSpot holds the instant it was resolved to. The next
    decision's "14" (tomorrow's 14:00 once today's has passed) was skipped as unchanged."""
    payload = {"fields": {"best_send_time": "14", "decision_id": "d-2"}}
    stored = {"best_send_time": "14", "decision_id": "d-1"}
    assert effective_payload(ActionKind.SET_FIELDS, payload, stored, None, None) == payload
