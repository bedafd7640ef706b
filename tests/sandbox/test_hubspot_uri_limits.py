"""Request size: a GET whose URI is too long is refused with 414 before anything else, as
HubSpot's edge refuses a long ``?properties=`` list (dlt-hub/verified-sources#305). HubSpot
documents no number; the sandbox draws the line at 8,192 bytes of request-target, the
conservative end of what has been reported (~8 KB to ~16,200 characters)."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException

from hub.sandbox.hubspot_server import MAX_URI_BYTES
from hub.sandbox.serve import SandboxHandle


def _api(sb: SandboxHandle) -> HubSpot:
    return HubSpot(access_token=sb.hubspot_token, host=sb.hubspot_url)


def _props(n: int) -> list[str]:
    return [f"custom_property_number_{k:04d}" for k in range(n)]  # 39 bytes each as sent


def test_a_list_read_whose_uri_is_too_long_is_refused_with_414(sandbox: SandboxHandle) -> None:
    contacts = _api(sandbox).crm.contacts.basic_api
    fits = contacts.get_page(limit=1, properties=_props(200), _preload_content=False)  # ~7,900 bytes
    assert fits.status == 200
    with pytest.raises(ApiException) as e:
        contacts.get_page(limit=1, properties=_props(220))  # ~8,700 bytes
    assert e.value.status == 414
    assert len("&properties=custom_property_number_0000") * 220 > MAX_URI_BYTES


def test_the_same_properties_in_a_post_body_are_taken(sandbox: SandboxHandle) -> None:
    """Batch read and search carry their properties in the body, which has no such limit."""
    api = _api(sandbox).crm.contacts
    ids = [r["id"] for r in (api.basic_api.get_page(limit=3, _preload_content=False).json())["results"]]
    res = api.batch_api.read(
        {"inputs": [{"id": i} for i in ids], "properties": _props(400), "propertiesWithHistory": []},
        _preload_content=False,
    )
    assert res.status == 200 and len(res.json()["results"]) == 3
