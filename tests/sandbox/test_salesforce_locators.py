"""Query locators (``nextRecordsUrl``) expire after about 15 idle minutes on the sandbox clock,
as Salesforce's do: seen through simple-salesforce."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

MINUTE_MS = 60_000


def _first_batch(sf):
    sf.headers["Sforce-Query-Options"] = "batchSize=200"
    first = sf.query("SELECT Id FROM Lead")
    assert not first["done"] and first["nextRecordsUrl"]
    return first


def test_a_locator_used_within_fifteen_minutes_goes_on(sandbox, sf, world) -> None:
    first = _first_batch(sf)
    world.clock.skip(14 * MINUTE_MS)
    more = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert more["records"] and more["records"][0]["Id"] != first["records"][0]["Id"]


def test_a_locator_idle_longer_is_invalid(sandbox, sf, world) -> None:
    first = _first_batch(sf)
    world.clock.skip(16 * MINUTE_MS)
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert e.value.status == 400 and e.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
