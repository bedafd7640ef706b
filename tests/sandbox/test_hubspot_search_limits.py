"""CRM search bodies past HubSpot's limits are refused, through the real hubspot-api-client."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts import ApiException


def _filters(n: int) -> list[dict]:
    return [{"propertyName": "hs_object_id", "operator": "GT", "value": str(k)} for k in range(n)]


@pytest.mark.parametrize(
    "body",
    [
        {"filterGroups": [{"filters": _filters(1)}] * 6},  # at most 5 groups
        {"filterGroups": [{"filters": _filters(11)}]},  # at most 10 filters in a group
        {"filterGroups": [{"filters": _filters(9)}] * 3},  # at most 25 filters in all
        {"sorts": [{"propertyName": "email"}, {"propertyName": "hs_object_id"}]},  # one sort
        {"limit": 201},  # at most 200 a page
    ],
)
def test_a_search_past_hubspots_limits_is_a_400(hs, body: dict) -> None:  # noqa: ANN001
    """The limits of the anchors (changelog "Breaking change: expanded filtering", Aug 2024: 5
    groups, 10 filters a group, 25 in all; one sort; 200 a page). HubSpot's wording for each is
    not known: only the status and category are checked."""
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.search_api.do_search(public_object_search_request=body)
    assert e.value.status == 400 and json.loads(e.value.body)["category"] == "VALIDATION_ERROR"


def test_a_search_at_hubspots_limits_is_answered(hs) -> None:  # noqa: ANN001
    body = {"filterGroups": [{"filters": _filters(5)}] * 5, "limit": 200, "sorts": [{"propertyName": "email"}]}
    assert hs.crm.contacts.search_api.do_search(public_object_search_request=body).total >= 0
