"""The Salesforce look-alike refuses field values as Salesforce does (simple-salesforce over HTTP)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from hub.sandbox.world import World

NO_ASSIGN = {"Sforce-Auto-Assign": "FALSE"}


def _lead(world: World, k: int = 0) -> str:
    return [r for r, rec in world.salesforce.objects["Lead"].items() if not rec["IsConverted"]][k]


def _patch(sf: Salesforce, records: list[dict[str, Any]], all_or_none: bool = False) -> list[dict[str, Any]]:
    body = {"allOrNone": all_or_none, "records": records}
    return sf.restful("composite/sobjects", method="PATCH", json=body, headers=NO_ASSIGN)


def _post(sf: Salesforce, records: list[dict[str, Any]], all_or_none: bool = False) -> list[dict[str, Any]]:
    return sf.restful("composite/sobjects", method="POST", json={"allOrNone": all_or_none, "records": records})


def test_describe_reports_real_lengths_types_and_picklists(sf) -> None:
    lead = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    assert [lead[n]["length"] for n in ("FirstName", "LastName", "Title", "Email", "Company")] == [40, 80, 128, 80, 255]
    assert lead["Email"]["type"] == "email"
    assert lead["NumberOfEmployees"]["type"] == "int" and lead["AnnualRevenue"]["type"] == "currency"
    assert lead["Hub_Reason__c"]["type"] == "textarea" and lead["Hub_Reason__c"]["length"] == 32_768
    assert lead["Hub_Lead_Score__c"]["type"] == "double" and lead["Hub_Lead_Score__c"]["scale"] == 4
    channel = lead["Hub_Best_Channel__c"]
    assert channel["type"] == "picklist" and channel["restrictedPicklist"] is False
    assert [v["value"] for v in channel["picklistValues"]] == ["email", "ad_audience", "sales_call", "direct_mail"]
    campaign = {f["name"]: f for f in sf.Campaign.describe()["fields"]}
    assert campaign["Name"]["length"] == 80


def test_a_string_over_the_field_length_is_refused_not_truncated(sf, world: World) -> None:
    rid = _lead(world)
    before = world.salesforce.objects["Lead"][rid]["Title"]
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.Lead.update(rid, {"Title": "x" * 129}, headers=NO_ASSIGN)
    err = e.value.content[0]
    assert err["errorCode"] == "STRING_TOO_LONG" and err["fields"] == ["Title"]
    assert err["message"] == f"Title: data value too large: {'x' * 129} (max length=128)"
    assert world.salesforce.objects["Lead"][rid]["Title"] == before
    sf.Lead.update(rid, {"Title": "x" * 128}, headers=NO_ASSIGN)  # exactly the length is fine
    other = _lead(world, 1)
    res = _patch(
        sf,
        [
            {"attributes": {"type": "Lead"}, "Id": rid, "Hub_Next_Best_Action__c": "y" * 256},
            {"attributes": {"type": "Lead"}, "Id": other, "Hub_Next_Best_Action__c": "ok"},
        ],
    )
    assert [r["success"] for r in res] == [False, True]  # per record: the other one is written
    assert res[0]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert world.salesforce.objects["Lead"][other]["Hub_Next_Best_Action__c"] == "ok"


def test_an_emoji_counts_two_toward_the_field_length(sf, world: World) -> None:
    """Salesforce measures text in UTF-16 units, as Java does (help 005166849): 65 emoji are
    65 characters but 130 units, too many for Title's 128."""
    rid = _lead(world)
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.Lead.update(rid, {"Title": "\U0001f525" * 65}, headers=NO_ASSIGN)
    assert e.value.content[0]["errorCode"] == "STRING_TOO_LONG"
    sf.Lead.update(rid, {"Title": "\U0001f525" * 64}, headers=NO_ASSIGN)  # 128 units: taken


def test_text_is_saved_trimmed_and_never_empty_as_salesforce_saves_it(sf, world: World) -> None:
    """Apex developer guide, "Primitive Data Types": sObject string fields, as in the SOAP API,
    are never empty (only null) and never keep leading or trailing whitespace."""
    rid = _lead(world)
    sf.Lead.update(rid, {"Hub_Content_Subject__c": "  Hello\n", "Title": ""}, headers=NO_ASSIGN)
    got = sf.Lead.get(rid)
    assert got["Hub_Content_Subject__c"] == "Hello" and got["Title"] is None
    sf.Lead.update(rid, {"Hub_Content_Subject__c": "\u00a0Hi"}, headers=NO_ASSIGN)  # not Java whitespace
    assert sf.Lead.get(rid)["Hub_Content_Subject__c"] == "\u00a0Hi"


def test_a_number_is_saved_rounded_half_up_to_the_field_s_decimal_places(sf, world: World) -> None:
    rid = _lead(world)
    org = world.salesforce
    org.field_specs[("Lead", "Hub_Conversion_Probability__c")] = replace(
        org.spec("Lead", "Hub_Conversion_Probability__c"), scale=2
    )
    sf.Lead.update(rid, {"Hub_Conversion_Probability__c": 0.125, "Hub_Lead_Score__c": 80.123456}, headers=NO_ASSIGN)
    got = sf.Lead.get(rid)
    assert got["Hub_Conversion_Probability__c"] == 0.13 and got["Hub_Lead_Score__c"] == 80.1235


def test_campaign_name_over_80_characters_is_refused(sf) -> None:
    res = _post(sf, [{"attributes": {"type": "Campaign"}, "Name": "n" * 81}])
    assert res[0]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert "(max length=80)" in res[0]["errors"][0]["message"]


def test_a_bad_email_is_refused(sf, world: World) -> None:
    res = _post(sf, [{"attributes": {"type": "Lead"}, "LastName": "X", "Company": "Y", "Email": "not-an-email"}])
    assert res[0]["errors"][0] == {
        "statusCode": "INVALID_EMAIL_ADDRESS",
        "message": "Email: invalid email address: not-an-email",
        "fields": ["Email"],
    }


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("Hub_Lead_Score__c", "high", "double"),
        ("Hub_Lead_Score__c", True, "double"),
        ("Hub_Best_Send_Time__c", "2026-01-05 10:00:00", "datetime"),
        ("Hub_Best_Send_Time__c", "2026-02-30T10:00:00Z", "datetime"),
        ("DoNotCall", "yes", "boolean"),
        ("Title", {"a": 1}, "string"),
    ],
)
def test_a_value_of_the_wrong_json_kind_refuses_the_whole_request(sf, world: World, field, value, kind) -> None:
    rid, other = _lead(world), _lead(world, 1)
    with pytest.raises(SalesforceMalformedRequest) as e:
        _patch(
            sf,
            [
                {"attributes": {"type": "Lead"}, "Id": other, "Hub_Next_Best_Action__c": "written?"},
                {"attributes": {"type": "Lead"}, "Id": rid, field: value},
            ],
        )
    err = e.value.content[0]
    assert e.value.status == 400 and err["errorCode"] == "JSON_PARSER_ERROR"
    assert err["message"].startswith(f"Cannot deserialize instance of {kind} from ")
    assert "or request may be missing a required field at [line:1, column:" in err["message"]
    assert world.salesforce.objects["Lead"][other]["Hub_Next_Best_Action__c"] != "written?"


def test_numbers_and_booleans_as_strings_are_read_as_salesforce_reads_them(sf, world: World) -> None:
    rid = _lead(world)
    sf.Lead.update(rid, {"Hub_Lead_Score__c": "12.5", "DoNotCall": "true"}, headers=NO_ASSIGN)
    rec = world.salesforce.objects["Lead"][rid]
    assert rec["Hub_Lead_Score__c"] == 12.5 and rec["DoNotCall"] is True


def test_a_date_field_takes_only_a_date(sf, world: World) -> None:
    who = next(iter(world.salesforce.objects["Contact"]))
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.Task.create({"WhoId": who, "Subject": "Call", "ActivityDate": "2026-01-05T00:00:00Z"})
    assert e.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert sf.Task.create({"WhoId": who, "Subject": "Call", "ActivityDate": "2026-01-05"})["success"]


def test_a_number_beyond_the_field_precision_is_refused(sf, world: World) -> None:
    res = _patch(sf, [{"attributes": {"type": "Lead"}, "Id": _lead(world), "Hub_Expected_Value__c": 1e15}])
    assert res[0]["errors"][0]["statusCode"] == "NUMBER_OUTSIDE_VALID_RANGE"


def test_a_restricted_picklist_refuses_values_outside_its_list(sf, world: World) -> None:
    org = world.salesforce
    org.field_specs[("Lead", "Hub_Best_Channel__c")] = replace(org.spec("Lead", "Hub_Best_Channel__c"), restricted=True)
    described = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    assert described["Hub_Best_Channel__c"]["restrictedPicklist"] is True
    rid = _lead(world)
    res = _patch(sf, [{"attributes": {"type": "Lead"}, "Id": rid, "Hub_Best_Channel__c": "fax"}])
    assert res[0]["errors"][0] == {
        "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "message": "Hub Best Channel: bad value for restricted picklist field: fax",
        "fields": ["Hub_Best_Channel__c"],
    }
    assert _patch(sf, [{"attributes": {"type": "Lead"}, "Id": rid, "Hub_Best_Channel__c": "email"}])[0]["success"]


# -- allOrNone: every per-record check runs before anything is written --------------------------
def test_all_or_none_create_rolls_back_when_a_lead_has_no_last_name(sf, world: World) -> None:
    before = len(world.salesforce.objects["Lead"])
    res = _post(
        sf,
        [
            {"attributes": {"type": "Lead"}, "LastName": "Fine", "Company": "Y"},
            {"attributes": {"type": "Lead"}, "Company": "No last name"},
        ],
        all_or_none=True,
    )
    assert [r["success"] for r in res] == [False, False]
    assert res[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert res[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert len(world.salesforce.objects["Lead"]) == before


def test_all_or_none_create_rolls_back_a_duplicate_campaign_member(sf, world: World) -> None:
    campaign = sf.Campaign.create({"Name": "AON test"})["id"]
    a, b = _lead(world), _lead(world, 1)

    def member(who: str) -> dict[str, Any]:
        return {"attributes": {"type": "CampaignMember"}, "CampaignId": campaign, "LeadId": who}

    members = world.salesforce.objects["CampaignMember"]
    before = len(members)
    within = _post(sf, [member(a), member(b), member(a)], all_or_none=True)  # a twice in one batch
    assert [r["success"] for r in within] == [False, False, False]
    assert within[2]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"
    assert len(members) == before
    assert _post(sf, [member(a)])[0]["success"]
    existing = _post(sf, [member(b), member(a)], all_or_none=True)  # a is a member already
    assert existing[1]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"
    assert existing[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert len(members) == before + 1


def test_all_or_none_update_rolls_back_when_a_lead_is_converted(sf, world: World) -> None:
    leads = world.salesforce.objects["Lead"]
    fine, converted = _lead(world), _lead(world, 1)
    leads[converted]["IsConverted"] = True  # as after a rep converted it
    res = _patch(
        sf,
        [
            {"attributes": {"type": "Lead"}, "Id": fine, "Hub_Next_Best_Action__c": "rolled back"},
            {"attributes": {"type": "Lead"}, "Id": converted, "Hub_Next_Best_Action__c": "rolled back"},
        ],
        all_or_none=True,
    )
    assert res[1]["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert leads[fine]["Hub_Next_Best_Action__c"] != "rolled back"
