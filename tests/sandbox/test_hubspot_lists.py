"""Lists v3 as HubSpot answers them: a list is fetched by name without regard to case, among the
lists of the object type asked for."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.lists import ListCreateRequest
from hubspot.crm.lists.exceptions import ApiException


def test_a_list_is_fetched_by_its_name_in_any_case(hs: HubSpot) -> None:
    """Fetch List by Name, path parameter listName: "This is not case sensitive" (HubSpot's Lists
    v3 reference, GET /crm/v3/lists/object-type-id/{objectTypeId}/name/{listName})."""
    made = hs.crm.lists.lists_api.create(
        ListCreateRequest(name="Sales-Ready Leads", object_type_id="0-1", processing_type="MANUAL")
    )
    found = hs.crm.lists.lists_api.get_by_name(list_name="sales-ready leads", object_type_id="0-1")
    assert found.list.list_id == made.list.list_id and found.list.name == "Sales-Ready Leads"


def test_a_list_of_another_object_type_is_not_found_by_name(hs: HubSpot) -> None:
    """The lookup is by name within ``objectTypeId``: a company list (0-2) is no contact list."""
    hs.crm.lists.lists_api.create(
        ListCreateRequest(name="key accounts", object_type_id="0-2", processing_type="MANUAL")
    )
    with pytest.raises(ApiException) as e:
        hs.crm.lists.lists_api.get_by_name(list_name="key accounts", object_type_id="0-1")
    assert e.value.status == 404
    found = hs.crm.lists.lists_api.get_by_name(list_name="key accounts", object_type_id="0-2")
    assert found.list.object_type_id == "0-2"


def test_add_and_remove_needs_both_id_lists(hs: HubSpot) -> None:
    """MembershipChangeRequest requires recordIdsToAdd and recordIdsToRemove (HubSpot's Lists v3
    spec, HubSpot/HubSpot-public-api-spec-collection); HubSpot words an unset required field
    "Some required fields were not set: [type]" (its Flows v4 answer, airbytehq/airbyte#83314).
    The sandbox took a body with one of them missing as an empty list."""
    made = hs.crm.lists.lists_api.create(
        ListCreateRequest(name="one-sided", object_type_id="0-1", processing_type="MANUAL")
    )
    resp = hs.api_request(
        {
            "method": "PUT",
            "path": f"/crm/v3/lists/{made.list.list_id}/memberships/add-and-remove",
            "body": {"recordIdsToAdd": []},
        }
    )
    assert resp.status_code == 400 and resp.json()["category"] == "VALIDATION_ERROR"
    assert resp.json()["message"] == "Some required fields were not set: [recordIdsToRemove]"
