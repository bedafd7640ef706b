"""Bulk API 2.0 pieces at the wire: CSV typed back to REST records, and REST when Bulk refuses."""

from __future__ import annotations

from datetime import UTC, datetime

import responses

from connectors.salesforce.bulk import parse_csv

from .wire import BASE, add_describe, connector, person, query_page, session_settings

TYPES = {
    "Id": "id",
    "IsDeleted": "boolean",
    "NumberOfEmployees": "int",
    "AnnualRevenue": "currency",
    "Email": "email",
    "Account.Name": "string",
    "Account.Industry": "picklist",
}


def test_csv_values_come_back_as_the_rest_json_carries_them() -> None:
    """Quoted values with commas and doubled quotes, empty for null, true/false, numbers by
    describe type, ``Account.*`` columns nested (null when the parent is absent)."""
    text = (
        '"Id","IsDeleted","NumberOfEmployees","AnnualRevenue","Email","Account.Name","Account.Industry"\n'
        '"003A","false","250","1200.5","a@x.com","Acme, ""Inc""","Retail"\n'
        '"003B","true","","","","",""\n'
    )
    a, b = parse_csv(text, TYPES)
    assert a == {
        "Id": "003A",
        "IsDeleted": False,
        "NumberOfEmployees": 250,
        "AnnualRevenue": 1200.5,
        "Email": "a@x.com",
        "Account": {"Name": 'Acme, "Inc"', "Industry": "Retail"},
    }
    assert b == {
        "Id": "003B",
        "IsDeleted": True,
        "NumberOfEmployees": None,
        "AnnualRevenue": None,
        "Email": None,
        "Account": None,
    }
    assert parse_csv("", TYPES) == []


@responses.activate
def test_a_bulk_refusal_falls_back_to_rest() -> None:
    """An object Bulk does not serve is refused at job creation (400 INVALIDENTITY "... is not
    supported by the Bulk API", as handled in airbytehq/airbyte#8206); the window is read over
    REST instead, nothing lost."""
    add_describe(responses, "Lead")
    responses.get(f"{BASE}/queryAll/", json={"totalSize": 50_000, "done": True, "records": []})  # the COUNT()
    responses.post(
        f"{BASE}/jobs/query",
        status=400,
        json=[{"errorCode": "INVALIDENTITY", "message": "Entity 'Lead' is not supported by the Bulk API."}],
    )
    responses.get(f"{BASE}/queryAll/", json=query_page([person("00Q1", "2026-01-10T10:00:00.000+0000")]))
    conn = connector(session_settings(objects=["Lead"], bulk_threshold=10_000))
    conn.clock = lambda: datetime(2026, 1, 10, 12, tzinfo=UTC)
    pages = list(conn.pull_contacts(None))
    assert [c.identities[0].external_id for p in pages for c in p.items] == ["00Q1"]
    assert [c.request.method for c in responses.calls if "jobs/query" in c.request.url] == ["POST"]
