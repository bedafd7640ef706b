"""The connector writes what the org's fields can hold: describe lengths, restricted picklists,
Campaign names within 80 characters, and a refused Campaign create reported as itself."""

from __future__ import annotations

from dataclasses import replace

import pytest
import responses

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.mapping import campaign_name
from hub.models import Action, ActionKind, Identity, PushRequest
from hub.sandbox.serve import SandboxHandle
from hub.sandbox.world import World

from .wire import BASE, connector, query_page


@pytest.fixture
def world() -> World:
    return World(n_contacts=60, seed=8, salesforce_hub_fields=True)  # an admin created them (and changes some)


def _connector(sb: SandboxHandle, mapping: dict[str, str] | None = None) -> SalesforceConnector:
    settings = SalesforceSettings(
        **sb.salesforce_password_login,
    )
    return SalesforceConnector("sf", settings, mapping or {})


def _req(pid: int, rid: str, kind: ActionKind, obj: str = "contact", **payload) -> PushRequest:
    return PushRequest(
        push_id=pid,
        identity=Identity(connector="sf", object_type=obj, external_id=rid),
        action=Action(kind=kind, payload=payload),
    )


def test_text_is_clipped_to_the_mapped_field_s_describe_length_with_an_ellipsis(
    sb: SandboxHandle, world: World
) -> None:
    contact = next(iter(world.salesforce.objects["Contact"]))
    conn = _connector(sb, {"content_body": "Title"})  # Contact.Title holds 128 characters
    [res] = conn.push([_req(1, contact, ActionKind.SET_FIELDS, fields={"content_body": "b" * 300})])
    assert res.status == "ok", res.reason
    assert world.salesforce.objects["Contact"][contact]["Title"] == "b" * 127 + "\u2026"


def test_text_with_emoji_is_clipped_by_salesforce_s_count_on_a_whole_character(sb: SandboxHandle, world: World) -> None:
    """An emoji is two UTF-16 units to Salesforce: 100 of them are 200 units, over Title's 128,
    though only 100 characters to Python; the cut keeps 63 whole emoji and the ellipsis."""
    contact = next(iter(world.salesforce.objects["Contact"]))
    conn = _connector(sb, {"content_subject": "Title"})
    subject = "\U0001f525" * 100
    [res] = conn.push([_req(1, contact, ActionKind.SET_FIELDS, fields={"content_subject": subject})])
    assert res.status == "ok", res.reason
    assert world.salesforce.objects["Contact"][contact]["Title"] == "\U0001f525" * 63 + "\u2026"


def test_a_number_past_the_field_s_precision_fails_before_the_call(sb: SandboxHandle, world: World) -> None:
    contact = next(iter(world.salesforce.objects["Contact"]))
    [res] = _connector(sb).push([_req(1, contact, ActionKind.SET_FIELDS, fields={"expected_value": 1e15})])
    assert res.status == "failed" and res.reason.startswith("INVALID_VALUE: expected_value")


def test_check_flags_a_short_field_and_a_restricted_picklist_without_the_hub_s_values(
    sb: SandboxHandle, world: World
) -> None:
    org = world.salesforce
    for sobject in ("Contact", "Lead"):
        org.field_specs[(sobject, "Hub_Best_Channel__c")] = replace(
            org.spec(sobject, "Hub_Best_Channel__c"), picklist=("email", "sales_call"), restricted=True
        )
    problems = _connector(sb, {"decision_id": "Title"}).check().problems
    assert "Contact.Title holds 128 characters; decision_id values longer than that are cut to 128" in problems
    assert (
        "Lead.Hub_Best_Channel__c is a restricted picklist without ad_audience, direct_mail; "
        "add them or Salesforce refuses those values"
    ) in problems
    assert not [p for p in _connector(sb).check().problems if "Hub_Next_Best_Action__c" in p]


def test_a_list_name_over_80_characters_gets_one_stable_campaign(sb: SandboxHandle, world: World) -> None:
    prefix = "Quarterly re-engagement for dormant enterprise accounts in the EMEA region, "
    long_a, long_b = prefix + "wave one", prefix + "wave two"
    assert len(campaign_name(long_a)) == 80 and campaign_name(long_a) != campaign_name(long_b)
    people = list(world.salesforce.objects["Contact"])[:2]
    conn = _connector(sb)
    first = conn.push(
        [
            _req(1, people[0], ActionKind.ADD_TO_LIST, list=long_a),
            _req(2, people[1], ActionKind.ADD_TO_LIST, list=long_b),
        ]
    )
    assert [r.status for r in first] == ["ok", "ok"], [r.reason for r in first]
    again = _connector(sb).push([_req(3, people[1], ActionKind.ADD_TO_LIST, list=long_a)])  # a new session
    assert again[0].status == "ok"
    campaigns = [c for c in world.salesforce.objects["Campaign"].values() if c["Name"].startswith(prefix[:40])]
    assert sorted(c["Name"] for c in campaigns) == sorted([campaign_name(long_a), campaign_name(long_b)])
    a_id = next(c["Id"] for c in campaigns if c["Name"] == campaign_name(long_a))
    members = [m for m in world.salesforce.objects["CampaignMember"].values() if m["CampaignId"] == a_id]
    assert sorted(m["ContactId"] for m in members) == sorted(people)


def test_many_long_non_latin_list_names_are_looked_up_in_queries_salesforce_takes(
    sb: SandboxHandle, world: World
) -> None:
    """An 80-character Japanese Campaign name takes ~730 bytes of ``?q=`` (three UTF-8 bytes a
    character, each sent as %XX): one lookup of 30 names would be a 414 URI Too Long, which no
    retry mends. The lookups are cut to fit; a second push finds every Campaign again."""
    contacts = list(world.salesforce.objects["Contact"])[:3]
    lists = [f"{k:02d} " + "顧客再活性化キャンペーン" * 7 for k in range(30)]
    people = [contacts[k % 3] for k in range(30)]
    pushes = [(p, name) for p, name in zip(people, lists, strict=True)]
    first = _connector(sb).push([_req(i, p, ActionKind.ADD_TO_LIST, list=name) for i, (p, name) in enumerate(pushes)])
    assert [r.status for r in first] == ["ok"] * 30, {r.reason for r in first}
    again = _connector(sb).push([_req(i, p, ActionKind.ADD_TO_LIST, list=n) for i, (p, n) in enumerate(pushes)])
    assert [r.status for r in again] == ["ok"] * 30, {r.reason for r in again}  # found, not created again
    names = {campaign_name(n) for n in lists}
    ours = [c for c in world.salesforce.objects["Campaign"].values() if c["Name"] in names]
    assert len(names) == len(ours) == 30  # one Campaign per list, none created twice
    by_name = {c["Name"]: c["Id"] for c in ours}
    members = {(m["CampaignId"], m["ContactId"]) for m in world.salesforce.objects["CampaignMember"].values()}
    assert all((by_name[campaign_name(name)], p) in members for p, name in zip(people, lists, strict=True))


@responses.activate
def test_a_refused_campaign_create_is_the_push_s_error() -> None:
    responses.get(f"{BASE}/query/", json=query_page([]))  # no Campaign for the list yet
    refused = {"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "Campaigns need an owner team"}
    responses.post(f"{BASE}/composite/sobjects", json=[{"success": False, "errors": [refused]}])
    [res] = connector().push([_req(1, "003A", ActionKind.ADD_TO_LIST, list="vip")])
    assert res.status == "failed"
    assert res.reason == (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION: Salesforce refused to create the Campaign for list 'vip': "
        "Campaigns need an owner team"
    )


def test_check_flags_a_percent_field_and_a_scale_that_rounds_what_the_hub_writes(
    sb: SandboxHandle, world: World
) -> None:
    """A probability written into a Percent field shows 0.1235 as 0.12 %; a field keeping fewer
    decimal places rounds the value, which then reads back changed and is written again."""
    org = world.salesforce
    for sobject in ("Contact", "Lead"):
        org.field_specs[(sobject, "Hub_Conversion_Probability__c")] = replace(
            org.spec(sobject, "Hub_Conversion_Probability__c"), type="percent", precision=18, scale=4
        )
        org.field_specs[(sobject, "Hub_Expected_Value__c")] = replace(
            org.spec(sobject, "Hub_Expected_Value__c"), precision=18, scale=0
        )
    problems = _connector(sb).check().problems
    assert any("Hub_Conversion_Probability__c is a Percent field" in p for p in problems), problems
    assert any(
        "Hub_Expected_Value__c keeps 0 decimal places; the hub writes expected_value with 2" in p for p in problems
    )
    assert not [p for p in problems if "Hub_Lead_Score__c" in p]  # a whole number: scale 0 is enough
