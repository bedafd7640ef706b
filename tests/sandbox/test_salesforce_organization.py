"""The Organization object: the org's default time zone, readable with "View Setup and
Configuration" only. A user without it is told the object is not there (400 INVALID_TYPE
"sObject type 'Organization' is not supported.", dxatscale/sfpowerscripts#968). It is read-only to
the API on every write path; so is deleting a User (users are deactivated)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from hub.sandbox.salesforce_server import SalesforceCredentials, SalesforceLimits
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World

from .conftest import salesforce_client

CANNOT = {"errorCode": "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", "fields": []}


def _refusal(verb: str, sobject: str) -> dict[str, object]:
    """A collection row's error for a write the sObject type does not take."""
    return {"statusCode": CANNOT["errorCode"], "message": f"entity type cannot be {verb}: {sobject}", "fields": []}


def test_the_org_s_time_zone_is_queried_from_organization() -> None:
    with start_sandbox(World(n_contacts=5, seed=1), salesforce_limits=SalesforceLimits(time_zone="Asia/Tokyo")) as sb:
        sf = salesforce_client(sb)
        res = sf.query("SELECT Id, TimeZoneSidKey FROM Organization")
        assert res["totalSize"] == 1
        row = res["records"][0]
        assert (row["attributes"]["type"], row["Id"][:3], row["TimeZoneSidKey"]) == (
            "Organization",
            "00D",
            "Asia/Tokyo",
        )
        assert "Organization" in {o["name"] for o in sf.describe()["sobjects"]}
        with pytest.raises(SalesforceMalformedRequest) as refused:  # the org is not made through the API
            sf.restful("sobjects/Organization", method="POST", json={"Name": "Another"})
        assert refused.value.content == [{"message": "entity type cannot be inserted: Organization", **CANNOT}]
        assert len(sb.world.salesforce.objects["Organization"]) == 1


def test_without_view_setup_the_organization_object_is_not_there() -> None:
    creds = SalesforceCredentials(view_setup=False)
    with start_sandbox(World(n_contacts=5, seed=1), salesforce_credentials=creds) as sb:
        sf = salesforce_client(sb)
        with pytest.raises(SalesforceMalformedRequest) as refused:
            sf.query("SELECT TimeZoneSidKey FROM Organization")
        assert refused.value.status == 400
        assert refused.value.content[0]["errorCode"] == "INVALID_TYPE"
        assert "sObject type 'Organization' is not supported" in refused.value.content[0]["message"]
        assert "Organization" not in {o["name"] for o in sf.describe()["sobjects"]}
        assert sf.query("SELECT Id FROM User LIMIT 1")["totalSize"] == 1  # the rest is as before


def test_the_organization_refuses_single_record_writes() -> None:
    with start_sandbox(World(n_contacts=5, seed=1)) as sb:
        sf = salesforce_client(sb)
        org = sf.query("SELECT Id FROM Organization")["records"][0]["Id"]
        with pytest.raises(SalesforceMalformedRequest) as updated:
            sf.Organization.update(org, {"TimeZoneSidKey": "Asia/Tokyo"})
        assert (updated.value.status, updated.value.content) == (
            400,
            [{"message": "entity type cannot be updated: Organization", **CANNOT}],
        )
        with pytest.raises(SalesforceMalformedRequest) as deleted:
            sf.Organization.delete(org)
        assert (deleted.value.status, deleted.value.content) == (
            400,
            [{"message": "entity type cannot be deleted: Organization", **CANNOT}],
        )
        row = sf.query("SELECT Id, TimeZoneSidKey FROM Organization")["records"]
        assert [(r["Id"], r["TimeZoneSidKey"]) for r in row] == [(org, "America/New_York")]


def test_the_organization_refuses_collection_writes_per_record() -> None:
    world = World(n_contacts=5, seed=1)
    with start_sandbox(world) as sb:
        sf = salesforce_client(sb)
        org = sf.query("SELECT Id FROM Organization")["records"][0]["Id"]
        rep = world.salesforce.users[0]
        rows = [
            {"attributes": {"type": "Organization"}, "Id": org, "TimeZoneSidKey": "Asia/Tokyo"},
            {"attributes": {"type": "User"}, "Id": rep, "FirstName": "Renamed"},
        ]
        rolled = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": rows})
        assert rolled[0] == {"id": org, "success": False, "errors": [_refusal("updated", "Organization")]}
        assert rolled[1]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
        assert world.salesforce.objects["User"][rep]["FirstName"] != "Renamed"
        partial = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": rows})
        assert partial == [
            {"id": org, "success": False, "errors": [_refusal("updated", "Organization")]},
            {"id": rep, "success": True, "errors": []},
        ]
        created = sf.restful(
            "composite/sobjects",
            method="POST",
            json={"allOrNone": False, "records": [{"attributes": {"type": "Organization"}, "Name": "Another"}]},
        )
        assert created == [{"success": False, "errors": [_refusal("inserted", "Organization")]}]
        gone = sf.restful("composite/sobjects", method="DELETE", params={"ids": org, "allOrNone": "false"})
        assert gone == [{"id": org, "success": False, "errors": [_refusal("deleted", "Organization")]}]
        dry = sf.restful("composite/sobjects", method="DELETE", params={"ids": org, "allOrNone": "true"})
        assert dry == [{"id": org, "success": False, "errors": [_refusal("deleted", "Organization")]}]
        rows = sf.query("SELECT Id, TimeZoneSidKey FROM Organization")["records"]
        assert [(r["Id"], r["TimeZoneSidKey"]) for r in rows] == [(org, "America/New_York")]


def test_describe_says_what_the_api_may_write() -> None:
    with start_sandbox(World(n_contacts=5, seed=1)) as sb:
        sf = salesforce_client(sb)
        flags = ("createable", "updateable", "deletable")
        listed = {o["name"]: tuple(o[k] for k in flags) for o in sf.describe()["sobjects"]}
        assert listed["Organization"] == (False, False, False)
        assert listed["User"] == (True, True, False)  # a user is deactivated, never deleted
        assert listed["Contact"] == (True, True, True)
        org = sf.Organization.describe()
        assert tuple(org[k] for k in flags) == (False, False, False)
        assert not any(f["createable"] or f["updateable"] for f in org["fields"])


def test_a_user_is_deactivated_never_deleted() -> None:
    world = World(n_contacts=5, seed=1)
    with start_sandbox(world) as sb:
        sf = salesforce_client(sb)
        rep = world.salesforce.users[0]
        with pytest.raises(SalesforceMalformedRequest) as refused:
            sf.User.delete(rep)
        assert refused.value.content == [{"message": "entity type cannot be deleted: User", **CANNOT}]
        gone = sf.restful("composite/sobjects", method="DELETE", params={"ids": rep, "allOrNone": "false"})
        assert gone == [{"id": rep, "success": False, "errors": [_refusal("deleted", "User")]}]
        sf.User.update(rep, {"IsActive": False})  # what an admin does instead
        assert sf.query(f"SELECT IsActive FROM User WHERE Id = '{rep}'")["records"][0]["IsActive"] is False


def test_describe_and_writes_agree_on_computed_fields() -> None:
    """A person's Name is computed from FirstName and LastName, an Opportunity's IsClosed and
    IsWon from its stage: describe calls them neither createable nor updateable and writes are
    refused. An Account's, Campaign's or Opportunity's Name is plain text: both."""
    with start_sandbox(World(n_contacts=5, seed=1)) as sb:
        sf = salesforce_client(sb)

        def flags(sobject: str, field: str) -> tuple[bool, bool]:
            f = next(f for f in getattr(sf, sobject).describe()["fields"] if f["name"] == field)
            return f["createable"], f["updateable"]

        assert [flags(t, "Name") for t in ("Account", "Campaign", "Opportunity")] == [(True, True)] * 3
        assert [flags(t, "Name") for t in ("Contact", "Lead", "User")] == [(False, False)] * 3
        assert [flags("Opportunity", f) for f in ("IsClosed", "IsWon")] == [(False, False)] * 2
        account = sf.Account.create({"Name": "Acme"})["id"]
        sf.Account.update(account, {"Name": "Acme Ltd"})
        assert sf.Account.get(account)["Name"] == "Acme Ltd"
        with pytest.raises(SalesforceMalformedRequest) as named:
            sf.Contact.create({"LastName": "Doe", "Name": "Jane Doe"})
        assert (named.value.content[0]["errorCode"], named.value.content[0]["fields"]) == (
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["Name"],
        )
        opp = sf.Opportunity.create({"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-02-01"})["id"]
        with pytest.raises(SalesforceMalformedRequest) as won:
            sf.Opportunity.update(opp, {"IsWon": True})
        assert (won.value.content[0]["errorCode"], won.value.content[0]["fields"]) == (
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["IsWon"],
        )
        assert sf.Opportunity.get(opp)["IsWon"] is False


def test_a_campaign_member_s_campaign_and_person_are_set_on_create_only() -> None:
    """A CampaignMember joins one person to one campaign for good: its CampaignId, ContactId and
    LeadId are createable, not updateable (describe), and an update naming one is refused; moving
    a person is a delete and a create. The sandbox took such an update."""
    with start_sandbox(World(n_contacts=5, seed=1)) as sb:
        sf = salesforce_client(sb)
        fields = {f["name"]: f for f in sf.CampaignMember.describe()["fields"]}
        assert [(fields[f]["createable"], fields[f]["updateable"]) for f in ("CampaignId", "ContactId", "LeadId")] == [
            (True, False)
        ] * 3
        assert fields["Status"]["updateable"] is True
        first, second = (sf.Campaign.create({"Name": n})["id"] for n in ("Spring", "Autumn"))
        person = sf.Contact.create({"LastName": "Doe"})["id"]
        member = sf.CampaignMember.create({"CampaignId": first, "ContactId": person})["id"]
        with pytest.raises(SalesforceMalformedRequest) as moved:
            sf.CampaignMember.update(member, {"CampaignId": second})
        assert (moved.value.content[0]["errorCode"], moved.value.content[0]["fields"]) == (
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["CampaignId"],
        )
        assert sf.CampaignMember.get(member)["CampaignId"] == first
        sf.CampaignMember.update(member, {"Status": "Responded"})
        assert sf.CampaignMember.get(member)["Status"] == "Responded"
