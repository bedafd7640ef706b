"""Every fault switch, seen through the real clients."""

from __future__ import annotations

import time

import pytest
import requests
import urllib3
from hubspot.crm.contacts.exceptions import ApiException
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceRefusedRequest

from .conftest import salesforce_client


def test_error_rate_gives_5xx(sandbox, hs) -> None:
    sf = salesforce_client(sandbox)
    sandbox.hubspot_faults.set(error_rate=1.0)
    sandbox.salesforce_faults.set(error_rate=1.0)
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.basic_api.get_page(limit=1)
    assert e.value.status in (500, 502, 503)
    with pytest.raises(SalesforceGeneralError) as e2:
        sf.query("SELECT Id FROM User")
    assert e2.value.status in (500, 502, 503)
    sandbox.hubspot_faults.clear()
    sandbox.salesforce_faults.clear()
    assert hs.crm.contacts.basic_api.get_page(limit=1).results
    assert sandbox.world.log.faults[("hubspot", "error")] == 1


def test_429_burst_then_recovery(sandbox, hs) -> None:
    sandbox.hubspot_faults.set(burst_429=2)
    for _ in range(2):
        with pytest.raises(ApiException) as e:
            hs.crm.contacts.basic_api.get_page(limit=1)
        assert e.value.status == 429 and "policyName" in e.value.body
    assert hs.crm.contacts.basic_api.get_page(limit=1).results
    sf = salesforce_client(sandbox)
    sandbox.salesforce_faults.set(burst_429=1)
    with pytest.raises(SalesforceRefusedRequest):
        sf.query("SELECT Id FROM User")
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 7


def test_latency(sandbox, hs) -> None:
    sandbox.hubspot_faults.set(latency_s=0.3)
    t = time.perf_counter()
    hs.crm.owners.owners_api.get_page()
    assert time.perf_counter() - t >= 0.3


def test_dropped_connections(sandbox, hs) -> None:
    sandbox.hubspot_faults.set(drop_rate=1.0)
    with pytest.raises((urllib3.exceptions.HTTPError, ConnectionError)):
        hs.crm.contacts.basic_api.get_page(limit=1)
    sf = salesforce_client(sandbox)
    sandbox.salesforce_faults.set(drop_rate=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.query("SELECT Id FROM User")
    assert sandbox.world.log.faults[("hubspot", "drop")] >= 1


def test_malformed_records(sandbox, hs) -> None:
    sandbox.hubspot_faults.set(malformed_rate=1.0)
    page = hs.crm.contacts.basic_api.get_page(limit=3, properties=["email"])
    assert all(c.properties["email"] == "@@not-an-email" for c in page.results)
    sf = salesforce_client(sandbox)
    sandbox.salesforce_faults.set(malformed_rate=0.5, seed=3)
    recs = sf.query("SELECT Id, Email, LastModifiedDate FROM Lead LIMIT 50")["records"]
    bad = [r for r in recs if r["Id"] is None]
    assert 0 < len(bad) < 50 and all(r["LastModifiedDate"] == "not a date" for r in bad)


def test_unknown_switch_is_refused(sandbox) -> None:
    with pytest.raises(AttributeError):
        sandbox.hubspot_faults.set(explode=True)


def test_throttle_refuses_by_time_not_by_count(sandbox, hs) -> None:
    sandbox.hubspot_faults.set(throttle_s=0.5)
    time.sleep(0.6)  # armed: the window starts at the next request, however late it comes
    for _ in range(3):
        with pytest.raises(ApiException) as e:
            hs.crm.contacts.basic_api.get_page(limit=1)
        assert e.value.status == 429 and "TEN_SECONDLY_ROLLING" in e.value.body
    time.sleep(0.6)
    assert hs.crm.contacts.basic_api.get_page(limit=1).results
    assert sandbox.world.log.faults[("hubspot", "429")] == 3


def test_transient_statuses_answer_as_hubspot_and_its_gateway(sandbox, hs) -> None:
    """HubSpot's error-handling guide: 423 (a 2 s lock), 477 with Retry-After, 502/503/504 and
    Cloudflare's 524 (an HTML page, not HubSpot's JSON). None of them applies the request."""
    sandbox.hubspot_faults.set(statuses=[423, 477, 503, 524], retry_after_s=120)
    seen = []
    for _ in range(4):
        with pytest.raises(ApiException) as e:
            hs.crm.contacts.basic_api.get_page(limit=1)
        seen.append(e.value)
    assert [x.status for x in seen] == [423, 477, 503, 524]
    assert seen[1].headers["Retry-After"] == "120" and "MIGRATION" in seen[1].body
    assert seen[3].body.lstrip().startswith("<html") and "524" in seen[3].body
    assert hs.crm.contacts.basic_api.get_page(limit=1).results
    assert sandbox.world.log.faults[("hubspot", "477")] == 1


def test_a_lost_answer_was_applied(world, sandbox, hs) -> None:
    """A gateway timeout on the way back (504, 524): HubSpot made the change, the client saw an
    error. Only requests the ``match`` pattern finds are hit."""
    rid = next(r["id"] for r in world.hubspot.records.values() if not r["archived"])
    sandbox.hubspot_faults.set(lost=[504], match=r"^PATCH /crm/v3/objects/contacts/")
    assert hs.crm.contacts.basic_api.get_page(limit=1).results  # not matched: answered
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.basic_api.update(rid, simple_public_object_input={"properties": {"firstname": "Lost"}})
    assert e.value.status == 504
    assert world.hubspot.records[rid]["properties"]["firstname"] == "Lost"
    assert sandbox.world.log.faults[("hubspot", "lost 504")] == 1
