"""Fields Salesforce requires on insert (describe: createable, not nillable, not defaulted on
create): a record without them is refused with REQUIRED_FIELD_MISSING naming each, in order, as
Salesforce words it ("Required fields are missing: [Username, LastName, Email, Alias,
TimeZoneSidKey, LocaleSidKey, EmailEncodingKey, ProfileId, LanguageLocaleKey]" for a bare User,
Ph33rr/cirrusgo#10; Object Reference: Lead.Company, Account.Name, Campaign.Name and an
Opportunity's Name, StageName and CloseDate are "Required")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce

from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World

from .conftest import salesforce_client

USER_REQUIRED = [
    "Username",
    "LastName",
    "Email",
    "Alias",
    "TimeZoneSidKey",
    "LocaleSidKey",
    "EmailEncodingKey",
    "ProfileId",
    "LanguageLocaleKey",
]


@pytest.fixture
def org() -> Iterator[tuple[World, Salesforce]]:
    world = World(n_contacts=10, seed=2)
    with start_sandbox(world) as sb:
        yield world, salesforce_client(sb)


def _missing(fields: list[str]) -> dict[str, object]:
    return {
        "statusCode": "REQUIRED_FIELD_MISSING",
        "message": f"Required fields are missing: [{', '.join(fields)}]",
        "fields": fields,
    }


def _post(sf: Salesforce, records: list[dict[str, object]]) -> list[dict[str, object]]:
    return sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})


def test_a_user_needs_salesforce_s_nine_fields(org) -> None:
    world, sf = org
    before = len(world.salesforce.objects["User"])
    bare = {"attributes": {"type": "User"}, "FirstName": "Ann"}
    assert _post(sf, [bare]) == [{"success": False, "errors": [_missing(USER_REQUIRED)]}]
    profile = sf.query("SELECT Id FROM Profile WHERE Name = 'Standard User'")["records"][0]["Id"]
    full = {
        **bare,
        "Username": "ann@sandbox.example.com",
        "LastName": "Lee",
        "Email": "ann@example.com",
        "Alias": "alee",
        "TimeZoneSidKey": "America/New_York",
        "LocaleSidKey": "en_US",
        "EmailEncodingKey": "UTF-8",
        "ProfileId": profile,
        "LanguageLocaleKey": "en_US",
    }
    made = _post(sf, [full])[0]
    assert made["success"] and made["id"].startswith("005")
    assert len(world.salesforce.objects["User"]) == before + 1
    described = {f["name"]: f for f in sf.User.describe()["fields"]}
    assert [n for n in USER_REQUIRED if described[n]["nillable"]] == []
    assert described["ProfileId"]["referenceTo"] == ["Profile"]


def test_standard_objects_refuse_a_record_without_their_required_fields(org) -> None:
    _, sf = org
    rows = [
        {"attributes": {"type": "Lead"}, "LastName": "No company"},
        {"attributes": {"type": "Lead"}, "Email": "x@example.com"},
        {"attributes": {"type": "Account"}, "Industry": "Banking"},
        {"attributes": {"type": "Campaign"}, "Name": "  "},  # saved as null: missing too
        {"attributes": {"type": "Opportunity"}, "Amount": 5},
    ]
    assert [r["errors"] for r in _post(sf, rows)] == [
        [_missing(["Company"])],
        [_missing(["LastName", "Company"])],
        [_missing(["Name"])],
        [_missing(["Name"])],
        [_missing(["Name", "StageName", "CloseDate"])],
    ]
    lead = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    assert (lead["Company"]["nillable"], lead["Title"]["nillable"], lead["IsConverted"]["nillable"]) == (
        False,
        True,
        False,  # a checkbox is never null
    )
