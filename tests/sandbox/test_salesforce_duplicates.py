"""Salesforce's duplicate rules, as a new org has them active (Salesforce Help, "Standard Lead
Duplicate Rule", "Standard Contact Duplicate Rule"): creating a Lead or Contact that matches one
on first name, last name and email is an alert, which the API answers with a refusal,
400 DUPLICATES_DETECTED, unless the request sends ``Sforce-Duplicate-Rule-Header:
allowSave=true`` (REST API guide, "Duplicate Rule Header"); an edit only reports, and an alert or
block on edit runs only when the edit changes a field the matching rule compares (Salesforce help
005237351). A Block rule refuses whatever the header says.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from hub.sandbox.salesforce_duplicates import STANDARD_RULES, DuplicateRule
from hub.sandbox.salesforce_server import SalesforceLimits
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World

from .conftest import salesforce_client

ALLOW = {"Sforce-Duplicate-Rule-Header": "allowSave=true; includeRecordDetails=false; runAsCurrentUser=false"}
JANE = {"FirstName": "Jane", "LastName": "Doe", "Email": "jane.doe@example.com"}


def _org(rules: tuple[DuplicateRule, ...] = STANDARD_RULES) -> Iterator[tuple[World, Salesforce]]:
    world = World(n_contacts=10, seed=2, salesforce_hub_fields=True)
    with start_sandbox(world, salesforce_limits=SalesforceLimits(duplicate_rules=rules)) as sb:
        yield world, salesforce_client(sb)


@pytest.fixture
def org() -> Iterator[tuple[World, Salesforce]]:
    yield from _org()


@pytest.fixture
def strict_org() -> Iterator[tuple[World, Salesforce]]:
    """An org whose admin made the Contact rule block on create and alert on edit."""
    rules = (STANDARD_RULES[0], DuplicateRule("Contact", "Standard_Contact_Duplicate_Rule", "block", "alert"))
    yield from _org(rules)


def _live(world: World, sobject: str) -> int:
    return sum(not r["IsDeleted"] for r in world.salesforce.objects[sobject].values())


def test_a_lead_matching_a_contact_is_refused_with_the_match(org) -> None:
    world, sf = org
    contact = sf.Contact.create(dict(JANE))["id"]
    leads = _live(world, "Lead")
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Lead.create(dict(JANE, Email="JANE.DOE@example.com", Company="Acme"))
    [error] = refused.value.content
    assert error["errorCode"] == "DUPLICATES_DETECTED"
    assert error["message"] == "You're creating a duplicate record. We recommend you use an existing record instead."
    result = error["duplicateResut"]  # sic: Salesforce's own spelling of the key
    assert result["allowSave"] is True
    assert result["duplicateRule"] == "Standard_Lead_Duplicate_Rule"
    assert result["duplicateRuleEntityType"] == "Lead"
    [match] = result["matchResults"]
    assert match["entityType"] == "Contact" and match["size"] == 1 and match["success"] is True
    assert [m["record"]["Id"] for m in match["matchRecords"]] == [contact]
    assert _live(world, "Lead") == leads


def test_allow_save_lets_an_alerted_duplicate_in(org) -> None:
    world, sf = org
    first = sf.Contact.create(dict(JANE))["id"]
    second = sf.Contact.create(dict(JANE), headers=ALLOW)["id"]
    assert first != second and world.salesforce.objects["Contact"][second]["Email"] == JANE["Email"]


def test_other_people_and_a_different_name_are_not_duplicates(org) -> None:
    world, sf = org
    ids = [
        sf.Contact.create(dict(JANE))["id"],
        sf.Contact.create(dict(JANE, FirstName="John"))["id"],
        sf.Contact.create(dict(JANE, Email="jane@other.example"))["id"],
        sf.Contact.create({"LastName": "Doe"})["id"],
        sf.Contact.create({"LastName": "Doe"})["id"],  # no email: the email clause does not match blanks
    ]
    assert len(set(ids)) == 5 and set(ids) <= set(world.salesforce.objects["Contact"])  # each one saved


def test_a_collection_insert_fails_the_duplicate_alone(org) -> None:
    world, sf = org
    sf.Lead.create(dict(JANE, Company="Acme"))
    body = {
        "allOrNone": False,
        "records": [
            dict(JANE, Company="Acme", attributes={"type": "Lead"}),
            {"attributes": {"type": "Lead"}, "LastName": "Roe", "Company": "Acme", "Email": "roe@example.com"},
            {"attributes": {"type": "Lead"}, "LastName": "Roe", "Company": "Acme", "Email": "roe@example.com"},
        ],
    }
    res = sf.restful("composite/sobjects", method="POST", json=body)
    assert res[0]["success"] is False
    assert res[0]["errors"] == [
        {
            "statusCode": "DUPLICATES_DETECTED",
            "message": "You're creating a duplicate record. We recommend you use an existing record instead.",
            "fields": [],
        }
    ]
    # two records saved together are compared with the database, not with each other
    assert res[1]["success"] is True and res[2]["success"] is True
    again = sf.restful("composite/sobjects", method="POST", json=body, headers=ALLOW)
    assert all(r["success"] for r in again)


def test_edits_only_report_by_default(org) -> None:
    world, sf = org
    jane = sf.Contact.create(dict(JANE))["id"]
    other = sf.Contact.create(dict(JANE, FirstName="Janet"))["id"]
    sf.Contact.update(other, {"FirstName": "Jane"})  # now a duplicate: reported, not refused
    assert world.salesforce.objects["Contact"][other]["FirstName"] == "Jane"
    assert jane != other


def test_a_blocking_rule_refuses_whatever_the_header_says(strict_org) -> None:
    world, sf = strict_org
    sf.Contact.create(dict(JANE))
    contacts = _live(world, "Contact")
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Contact.create(dict(JANE), headers=ALLOW)
    [error] = refused.value.content
    assert error["errorCode"] == "DUPLICATES_DETECTED"
    assert error["duplicateResut"]["allowSave"] is False
    assert _live(world, "Contact") == contacts


def test_an_alert_on_edit_runs_only_when_a_matching_field_changes(strict_org) -> None:
    world, sf = strict_org
    sf.Contact.create(dict(JANE))
    twin = sf.Contact.create(dict(JANE, FirstName="Janet"))["id"]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Contact.update(twin, {"FirstName": "Jane"})
    assert refused.value.content[0]["errorCode"] == "DUPLICATES_DETECTED"
    sf.Contact.update(twin, {"FirstName": "Jane"}, headers=ALLOW)
    # an existing duplicate takes edits of fields the matching rule does not compare
    sf.Contact.update(twin, {"HasOptedOutOfEmail": True, "Hub_Reason__c": "scored"})
    res = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"allOrNone": False, "records": [{"attributes": {"type": "Contact"}, "id": twin, "DoNotCall": True}]},
    )
    assert res[0]["success"] is True
    assert world.salesforce.objects["Contact"][twin]["DoNotCall"] is True
