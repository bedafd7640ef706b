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
        {"filterGroups": [{"filters": _filters(7)}]},  # at most 6 filters in a group
        {"filterGroups": [{"filters": _filters(5)}] * 4},  # at most 18 filters in all
        {"sorts": [{"propertyName": "email"}, {"propertyName": "hs_object_id"}]},  # one sort
        {"limit": 201},  # at most 200 a page
    ],
)
def test_a_search_past_hubspots_limits_is_a_400(hs, body: dict) -> None:  # noqa: ANN001
    """HubSpot's search guide, "Limits" (developers.hubspot.com/docs/api-reference/latest/crm/
    search-the-crm, last modified 30 March 2026): 5 filter groups, 6 filters a group, 18 in all
    ("you'll receive a VALIDATION_ERROR"); one sort; 200 a page. The August 2024 changelog
    ("Breaking change: expanded filtering") announced 10 a group and 25 in all; the guide, newer,
    says less, and a sandbox must hold callers to the stricter. HubSpot's wording for each is
    not known: only the status and category are checked."""
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.search_api.do_search(public_object_search_request=body)
    assert e.value.status == 400 and json.loads(e.value.body)["category"] == "VALIDATION_ERROR"


def test_a_search_at_hubspots_limits_is_answered(hs) -> None:  # noqa: ANN001
    """18 filters as three full groups, and five groups of three."""
    for groups in ([{"filters": _filters(6)}] * 3, [{"filters": _filters(3)}] * 5):
        body = {"filterGroups": groups, "limit": 200, "sorts": [{"propertyName": "email"}]}
        assert hs.crm.contacts.search_api.do_search(public_object_search_request=body).total >= 0
