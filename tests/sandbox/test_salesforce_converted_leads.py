"""Converted Leads as Salesforce keeps them (simple-salesforce over HTTP to the sandbox).

The Object Reference's Lead page: ``IsConverted`` is "Create, Defaulted on create" (set on insert,
for imports of leads converted elsewhere, never by an update), and "After a lead has been
converted, it's read only" to a user without "View and Edit Converted Leads". Salesforce answers
a write to one, and a record that points at one, with CANNOT_UPDATE_CONVERTED_LEAD "cannot
reference converted lead" (simple-salesforce#341; Marketo's Salesforce sync error list, for an
activity logged to a converted lead; grouparoo#1051: converted leads can leave a Campaign but not
join one). Conversion gives the Lead's campaign memberships its Contact; a member is otherwise
one person's, and one sent with both ids is the Contact's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World

from .conftest import salesforce_client

CONVERTED = [{"message": "cannot reference converted lead", "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD", "fields": []}]


@pytest.fixture
def org() -> Iterator[tuple[World, Salesforce]]:
    world = World(n_contacts=30, seed=4, salesforce_hub_fields=True)
    with start_sandbox(world) as sb:
        yield world, salesforce_client(sb)


def _open_lead(world: World) -> str:
    return next(r for r, rec in world.salesforce.objects["Lead"].items() if not rec["IsConverted"])


def test_a_lead_is_created_converted_and_is_read_only_after(org) -> None:
    world, sf = org
    described = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    assert (described["IsConverted"]["createable"], described["IsConverted"]["updateable"]) == (True, False)
    rid = sf.Lead.create({"LastName": "Imported", "Company": "Acme", "IsConverted": True})["id"]
    assert sf.Lead.get(rid)["IsConverted"] is True
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Lead.update(rid, {"Title": "CFO"})
    assert refused.value.content == CONVERTED
    assert world.salesforce.objects["Lead"][rid]["Title"] is None


def test_no_update_converts_a_lead(org) -> None:
    world, sf = org
    lead = _open_lead(world)
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Lead.update(lead, {"IsConverted": True})
    assert refused.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert refused.value.content[0]["fields"] == ["IsConverted"]
    assert world.salesforce.objects["Lead"][lead]["IsConverted"] is False


def _converted(world: World) -> str:
    lead = _open_lead(world)
    world.salesforce.update("Lead", lead, {"IsConverted": True}, "convert", source="market")  # a rep converted it
    return lead


def test_a_converted_lead_joins_no_campaign_and_takes_no_activity(org) -> None:
    world, sf = org
    camp = sf.Campaign.create({"Name": "Webinar", "IsActive": True})["id"]
    lead = _converted(world)
    rows = [
        {"attributes": {"type": "CampaignMember"}, "CampaignId": camp, "LeadId": lead},
        {"attributes": {"type": "Task"}, "WhoId": lead, "Subject": "Call"},
    ]
    res = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": rows})
    errors = [
        {"statusCode": "CANNOT_UPDATE_CONVERTED_LEAD", "message": "cannot reference converted lead", "fields": []}
    ]
    assert res == [{"success": False, "errors": errors}] * 2
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.CampaignMember.create({"CampaignId": camp, "LeadId": lead})
    assert refused.value.content == CONVERTED
    sfs = world.salesforce
    assert not [m for m in sfs.objects["CampaignMember"].values() if m["LeadId"] == lead]
    assert not [t for t in sfs.objects["Task"].values() if t["WhoId"] == lead]


def test_a_converted_lead_leaves_a_campaign(org) -> None:
    world, sf = org
    camp = sf.Campaign.create({"Name": "Webinar", "IsActive": True})["id"]
    lead = _open_lead(world)
    member = sf.CampaignMember.create({"CampaignId": camp, "LeadId": lead})["id"]
    world.salesforce.update("Lead", lead, {"IsConverted": True}, "convert", source="market")
    sf.CampaignMember.delete(member)
    assert world.salesforce.objects["CampaignMember"][member]["IsDeleted"] is True


def test_conversion_puts_the_contact_on_the_lead_s_campaign_memberships(org) -> None:
    """The CampaignMember keeps its LeadId and gains the Contact's id (grouparoo's test against a
    real org after a conversion: "the campaign member has both!"), so the Contact is a member."""
    world, sf = org
    sfs = world.salesforce
    camp = sf.Campaign.create({"Name": "Webinar", "IsActive": True})["id"]
    lead = _open_lead(world)
    member = sf.CampaignMember.create({"CampaignId": camp, "LeadId": lead})["id"]
    account = sfs.create("Account", {"Name": "Acme"})
    contact = sfs.create("Contact", {"LastName": "Became", "AccountId": account})
    sfs.convert_lead(lead, contact, account, "2026-01-05")
    rows = sf.query(f"SELECT Id, LeadId, ContactId FROM CampaignMember WHERE ContactId = '{contact}'")["records"]
    assert [(r["Id"], r["LeadId"], r["ContactId"]) for r in rows] == [(member, lead, contact)]
    got = sf.Lead.get(lead)
    assert (got["IsConverted"], got["ConvertedContactId"], got["ConvertedAccountId"], got["ConvertedDate"]) == (
        True,
        contact,
        account,
        "2026-01-05",
    )


def test_a_member_made_with_both_a_lead_and_a_contact_keeps_the_contact(org) -> None:
    """Object Reference, CampaignMember, Usage: "Any attempt to create a single record with both
    results in a successful insert but only the ContactId is inserted"."""
    world, sf = org
    camp = sf.Campaign.create({"Name": "Webinar", "IsActive": True})["id"]
    lead = _open_lead(world)
    contact = next(r for r, rec in world.salesforce.objects["Contact"].items() if not rec["IsDeleted"])
    member = sf.CampaignMember.create({"CampaignId": camp, "LeadId": lead, "ContactId": contact})["id"]
    row = world.salesforce.objects["CampaignMember"][member]
    assert (row["LeadId"], row["ContactId"]) == (None, contact)
