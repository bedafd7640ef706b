"""ensure_schema and check from describe; registration through the entry point."""

from __future__ import annotations

import json

import responses

from hub.plugins import build_plugin_manager

from .wire import BASE, connector, describe, query_page, session_settings

ALL_HUB = {
    "Hub_Next_Best_Action__c": "string",
    "Hub_Reason__c": "textarea",
    "Hub_Lead_Score__c": "double",
    "Hub_Conversion_Probability__c": "double",
    "Hub_Expected_Value__c": "currency",
    "Hub_Best_Send_Time__c": "datetime",
    "Hub_Best_Channel__c": "picklist",
    "Hub_Content_Subject__c": "string",
    "Hub_Content_Hero__c": "string",
    "Hub_Content_Body__c": "string",
    "Hub_Content_Cta__c": "string",
    "Hub_Experiment_Arm__c": "string",
    "Hub_Decision_Id__c": "string",
}


def test_the_entry_point_registers_the_connector() -> None:
    plugins = build_plugin_manager()
    assert plugins.types["salesforce"].__name__ == "SalesforceConnector"
    assert not [p for p in plugins.load_errors if p.name == "salesforce"]


@responses.activate
def test_complete_schema_is_all_existing() -> None:
    responses.get(f"{BASE}/sobjects/Contact/describe", json=describe("Contact", ALL_HUB))
    report = connector(session_settings(objects=["Contact"])).ensure_schema()
    assert report.problems == [] and report.created == []
    assert len(report.existing) == 13 and "Contact.Hub_Lead_Score__c" in report.existing


@responses.activate
def test_missing_and_mistyped_fields_are_spelled_out_for_an_admin() -> None:
    fields = dict(ALL_HUB, Hub_Lead_Score__c="string")
    del fields["Hub_Reason__c"]
    responses.get(f"{BASE}/sobjects/Lead/describe", json=describe("Lead", fields))
    responses.post("https://na1.example.my.salesforce.com/services/Soap/m/59.0", status=500, body="<fault/>")
    conn = connector(session_settings(objects=["Lead"]), mapping={"decision_id": "ns__Decision__c"})
    report = conn.ensure_schema()
    assert report.created == []
    by_field = {p.split()[0]: p for p in report.problems}
    assert set(by_field) == {"Lead.Hub_Reason__c", "Lead.Hub_Lead_Score__c", "Lead.ns__Decision__c"}
    spec = json.loads(by_field["Lead.Hub_Reason__c"].split("custom field: ", 1)[1])
    assert spec["fullName"] == "Lead.Hub_Reason__c" and spec["type"] == "LongTextArea"
    assert "is string, the hub writes number" in by_field["Lead.Hub_Lead_Score__c"]


@responses.activate
def test_check_reports_version_user_access_and_usage() -> None:
    settings = session_settings(objects=["Contact"])
    for name in ("Task", "Event", "Campaign"):
        responses.get(f"{BASE}/sobjects/{name}/describe", json=describe(name))
    responses.get(f"{BASE}/sobjects/CampaignMember/describe", json=describe("CampaignMember", createable=False))
    responses.get(f"{BASE}/sobjects/Contact/describe", json=describe("Contact", dict(ALL_HUB, Hub_Reason__c="string")))
    responses.get(f"{BASE}/query/", json=query_page([{"attributes": {}, "TimeZoneSidKey": "Europe/Paris"}]))
    report = connector(settings).check()
    assert report.details["api_version"] == "59.0" and report.details["auth"] == "session"
    assert report.details["time_zone"] == "Europe/Paris"  # where a bare send hour lands
    assert report.details["objects"]["Contact"]["updateable"] is True
    assert not report.ok
    assert any("CampaignMember cannot be created" in p for p in report.problems)
    assert report.details["usage"]["calls"] == 6  # five describes and the org's time zone


@responses.activate
def test_check_never_raises_on_a_dead_session() -> None:
    responses.get(
        f"{BASE}/sobjects/Contact/describe", json=[{"errorCode": "INVALID_SESSION_ID", "message": "x"}], status=401
    )
    report = connector(session_settings(objects=["Contact"])).check()
    assert not report.ok and "session" in report.problems[0]


@responses.activate
def test_check_names_the_user() -> None:
    settings = session_settings(objects=["Contact"], username="hub@example.com")
    for name in ("Contact", "Task", "Event", "Campaign", "CampaignMember"):
        responses.get(f"{BASE}/sobjects/{name}/describe", json=describe(name, ALL_HUB if name == "Contact" else None))
    responses.get(
        f"{BASE}/query/",
        json=query_page([{"attributes": {}, "Id": "005U", "Username": "hub@example.com", "IsActive": True}]),
    )
    report = connector(settings).check()
    assert report.ok, report.problems
    assert report.details["user"] == {"Id": "005U", "Username": "hub@example.com", "IsActive": True}


def _metadata_ok(names: list[str]) -> str:
    results = "".join(f"<result><fullName>{n}</fullName><success>true</success></result>" for n in names)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="http://soap.sforce.com/2006/04/metadata"><soapenv:Body><createMetadataResponse>'
        f"{results}</createMetadataResponse></soapenv:Body></soapenv:Envelope>"
    )


@responses.activate
def test_missing_fields_are_created_through_the_metadata_api() -> None:
    fields = {k: v for k, v in ALL_HUB.items() if k not in ("Hub_Reason__c", "Hub_Lead_Score__c")}
    responses.get(f"{BASE}/sobjects/Contact/describe", json=describe("Contact", fields))
    # the second describe (the check after creating) shows them, as when a profile grants new fields
    responses.get(f"{BASE}/sobjects/Contact/describe", json=describe("Contact", ALL_HUB))
    wanted = ["Contact.Hub_Reason__c", "Contact.Hub_Lead_Score__c"]
    soap = responses.post(
        "https://na1.example.my.salesforce.com/services/Soap/m/59.0/",
        body=_metadata_ok(wanted),
        content_type="text/xml",
    )
    report = connector(session_settings(objects=["Contact"])).ensure_schema()
    assert report.problems == [] and report.created == wanted
    sent = soap.calls[0].request.body.decode()
    assert "Contact.Hub_Reason__c" in sent and "LongTextArea" in sent and ">Number<" in sent
