"""Answers from the vendors' own docs and from open-source connectors' fixtures, replayed through our
readers and mapping, and used as the reference the sandbox's answers are held to.

Sources (fixtures/README.md): Salesforce REST API Developer Guide "Execute a SOQL Query"; airbytehq/
airbyte source-hubspot unit_tests/test_components.py @ 98760863c5630de10e2d781a9b130af03c9ae2e9;
HubSpot "Email Events API Overview" and the "Get email events" reference.
"""

from __future__ import annotations

import json
from pathlib import Path

import responses

from connectors.hubspot.activities import associated_ids
from connectors.hubspot.mapping import email_event_activity
from hub.models import ActivityType
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from tests.connectors.salesforce.wire import BASE, connector

FIXTURES = Path(__file__).parent / "fixtures"
JSON_TYPES = {"string": str, "integer": int, "boolean": bool, "array": list}


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@responses.activate
def test_the_salesforce_docs_query_pages_are_read_to_the_end_through_next_records_url() -> None:
    docs = _load("salesforce_query_docs.json")
    first = responses.get(f"{BASE}/query/", json=docs["first_page"])
    rest = responses.get(
        f"https://na1.example.my.salesforce.com{docs['first_page']['nextRecordsUrl']}", json=docs["remaining_page"]
    )
    batches = list(connector().client.query_pages("SELECT Name FROM Account"))
    assert [[r["Name"] for r in b] for b in batches] == [["Test 1", "Test 2"], []]
    assert first.call_count == 1 and rest.call_count == 1


def test_the_sandbox_query_page_has_the_docs_shape() -> None:
    """Same keys and JSON types as the docs' page, records with ``attributes`` {type, url}."""
    docs = _load("salesforce_query_docs.json")["first_page"]
    with start_sandbox(World(n_contacts=600, seed=4)) as sb:
        from tests.sandbox.conftest import salesforce_client

        sf = salesforce_client(sb)
        page = sf.query("SELECT Id, Email FROM Lead", headers={"Sforce-Query-Options": "batchSize=200"})
        small = sf.query("SELECT Id FROM Lead LIMIT 1")
    assert set(page) == set(docs) and set(small) == set(docs) - {"nextRecordsUrl"}
    for key, value in docs.items():
        if key in small:
            assert type(small[key]) is type(value), key
    attrs = page["records"][0]["attributes"]
    assert set(attrs) == {"type", "url"} and attrs["type"] == "Lead"
    assert attrs["url"].startswith("/services/data/v") and page["records"][0]["Id"] in attrs["url"]


def test_airbytes_recorded_v4_associations_become_contact_ids_as_text_merged_per_record() -> None:
    by_record = associated_ids(_load("hubspot_v4_associations_airbyte.json"))
    assert by_record == {"123": [{"id": "909"}, {"id": "424"}], "456": [{"id": "606"}, {"id": "510"}]}


def test_sandbox_email_events_carry_every_field_hubspot_documents() -> None:
    """The fields every event type but UNBOUNCE carries, with their documented JSON types; then
    each event replays through our mapping (an opt-out STATUSCHANGE is an unsubscribe)."""
    docs = _load("hubspot_email_event_fields_docs.json")
    world = World(n_contacts=400, seed=3)
    with start_sandbox(world) as sb:
        from tests.sandbox.conftest import hubspot_client

        hs = hubspot_client(sb)
        # as a hub push would: a list named after an email action makes the market send it
        made = hs.crm.lists.lists_api.create(
            {"name": "hub: email_nurture_business", "objectTypeId": "0-1", "processingType": "MANUAL"}
        )
        ids = sorted(r for r, rec in world.hubspot.records.items() if not rec["archived"])[:150]
        hs.crm.lists.memberships_api.add_and_remove(made.list.list_id, {"recordIdsToAdd": ids, "recordIdsToRemove": []})
        world.advance_days(3)
        res = hs.api_request({"method": "GET", "path": "/email/public/v1/events", "qs": {"limit": 1000}})
        body = res.json()
    assert {k: JSON_TYPES[t] for k, t in docs["page"].items()} == {k: type(body[k]) for k in docs["page"]}
    events = body["events"]
    assert events, "the market sent no email in four days"
    for e in events:
        for key, kind in docs["required"].items():
            if key == "emailCampaignId" and e["type"] == "STATUSCHANGE" and e.get(key) is None:
                continue  # an opt-out from a list link, outside any campaign
            assert isinstance(e.get(key), JSON_TYPES[kind]), (key, e)
    kinds = {email_event_activity("hs", e).type for e in events if e["type"] in ("SENT", "OPEN", "STATUSCHANGE")}
    assert ActivityType.EMAIL_SENT in kinds
