"""What HubSpot's read endpoints return and refuse, copied by the sandbox: default properties of
engagement searches, search paging tokens, batch reads keyed by a unique property, and the
types of HubSpot's own dropdowns."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot

from hub.sandbox.serve import SandboxHandle
from hub.sandbox.world import World


def test_an_engagement_search_without_properties_returns_hubspots_defaults_only(
    hs: HubSpot, world: World, sandbox: SandboxHandle
) -> None:
    """HubSpot's search guide, engagements table: calls and meetings return ``hs_createdate``,
    ``hs_lastmodifieddate`` and ``hs_object_id`` by default; no contact keys such as
    ``createdate`` come back, not even as null."""
    rid = next(r for r, rec in world.hubspot.records.items() if not rec["archived"])
    with world.lock:
        mid = world.hubspot.add_engagement("meetings", rid, world.clock.now_ms(), {"hs_meeting_outcome": "COMPLETED"})
    sandbox.hubspot.catch_up_search()
    found = hs.api_request({"method": "POST", "path": "/crm/v3/objects/meetings/search", "body": {}}).json()
    row = next(r for r in found["results"] if r["id"] == mid)
    assert set(row["properties"]) == {"hs_createdate", "hs_lastmodifieddate", "hs_object_id"}
    asked = hs.api_request(
        {"method": "POST", "path": "/crm/v3/objects/meetings/search", "body": {"properties": ["hs_meeting_outcome"]}}
    ).json()
    row = next(r for r in asked["results"] if r["id"] == mid)
    assert row["properties"]["hs_meeting_outcome"] == "COMPLETED"
    assert None not in row["properties"].values() and "createdate" not in row["properties"]


@pytest.mark.parametrize("after", ["abc", "1.5", "-10"])
def test_a_search_after_that_is_not_a_whole_offset_is_a_400(hs: HubSpot, after: str) -> None:
    """Search pages by an ``after`` HubSpot hands out as a decimal offset ("10", "20"); anything
    else is a bad request, not a server error."""
    resp = hs.api_request(
        {"method": "POST", "path": "/crm/v3/objects/contacts/search", "body": {"after": after, "limit": 10}}
    )
    assert resp.status_code == 400 and resp.json()["category"] == "VALIDATION_ERROR"


def test_a_batch_read_by_a_unique_property_finds_records_by_its_values(hs: HubSpot, world: World) -> None:
    """Batch read takes ``idProperty``: record ids without it, else the values of a property with
    unique values (batch read reference: "retrieve records by a custom unique value
    property"); a property whose values are not unique cannot key the read."""
    hs.crm.properties.core_api.create(
        "contacts",
        {
            "name": "crm_key",
            "label": "CRM key",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
            "hasUniqueValue": True,
        },
    )
    rid = sorted((r for r, rec in world.hubspot.records.items() if not rec["archived"]), key=int)[5]
    hs.crm.contacts.basic_api.update(rid, {"properties": {"crm_key": "K-77"}})
    got = hs.crm.contacts.batch_api.read(
        {"inputs": [{"id": "K-77"}, {"id": rid}], "idProperty": "crm_key", "properties": ["crm_key"]}
    )
    assert [r.id for r in got.results] == [rid]
    assert got.errors and got.errors[0].context["ids"] == [rid]
    resp = hs.api_request(
        {
            "method": "POST",
            "path": "/crm/v3/objects/contacts/batch/read",
            "body": {"inputs": [{"id": rid}], "idProperty": "firstname"},
        }
    )
    assert resp.status_code == 400 and resp.json()["category"] == "VALIDATION_ERROR"


def test_time_zone_and_owner_are_dropdowns_and_owner_options_are_the_active_owners(hs: HubSpot, world: World) -> None:
    """``hs_timezone`` and ``hubspot_owner_id`` are enumerations shown as a select in HubSpot;
    the owner property takes its options from the owners (``externalOptions``,
    ``referencedObjectType: OWNER``), and a time zone outside its options is refused."""
    tz = hs.crm.properties.core_api.get_by_name("contacts", "hs_timezone")
    assert (tz.type, tz.field_type) == ("enumeration", "select")
    assert "america_slash_new_york" in {o.value for o in tz.options}
    owner = hs.api_request({"method": "GET", "path": "/crm/v3/properties/contacts/hubspot_owner_id"}).json()
    assert (owner["type"], owner["fieldType"], owner["externalOptions"]) == ("enumeration", "select", True)
    assert owner["referencedObjectType"] == "OWNER"
    active = {o["id"] for o in world.hubspot.owners if not o["archived"]}
    assert {o["value"] for o in owner["options"]} == active
    rid = next(r for r, rec in world.hubspot.records.items() if not rec["archived"])
    resp = hs.api_request(
        {
            "method": "PATCH",
            "path": f"/crm/v3/objects/contacts/{rid}",
            "body": {"properties": {"hs_timezone": "Mars/Base"}},
        }
    )
    assert resp.status_code == 400 and "INVALID_OPTION" in json.dumps(resp.json())
