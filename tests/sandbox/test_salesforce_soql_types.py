"""SOQL literals of the wrong type, OFFSET past 2,000, and AND mixed with OR without parentheses
are refused as Salesforce refuses them; so is NOT where it meets AND or OR without parentheses."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            "SystemModstamp > '2020-01-01T00:00:00Z'",
            "value of filter criterion for field 'SystemModstamp' must be of type dateTime "
            "and should not be enclosed in quotes",
        ),
        (
            "SystemModstamp > 2020-01-01",
            "value of filter criterion for field 'SystemModstamp' must be of type dateTime "
            "and should not be enclosed in quotes",
        ),
        (
            "LastName = 1",
            "value of filter criterion for field 'LastName' must be of type string and should be enclosed in quotes",
        ),
        (
            "IsDeleted = 'false'",
            "value of filter criterion for field 'IsDeleted' must be of type boolean "
            "and should not be enclosed in quotes",
        ),
        (
            "Hub_Lead_Score__c > '50'",
            "value of filter criterion for field 'Hub_Lead_Score__c' must be of type double "
            "and should not be enclosed in quotes",
        ),
        (
            "Email IN ('a@example.com', 2)",
            "value of filter criterion for field 'Email' must be of type string and should be enclosed in quotes",
        ),
    ],
)
def test_a_literal_of_the_wrong_type_is_refused_not_treated_as_no_match(sf, where: str, message: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.query(f"SELECT Id FROM Lead WHERE {where}")
    assert e.value.status == 400
    assert e.value.content[0] == {"errorCode": "INVALID_FIELD", "message": message}


def test_literals_of_the_right_type_still_match(sf, world) -> None:
    assert sf.query("SELECT Id FROM Lead WHERE SystemModstamp > 2020-01-01T00:00:00Z AND IsDeleted = false")[
        "totalSize"
    ] == sum(1 for r in world.salesforce.objects["Lead"].values() if not r["IsDeleted"])
    assert sf.query("SELECT Id FROM Lead WHERE Email = null OR LastName != null")["totalSize"] > 0
    who = next(iter(world.salesforce.objects["Contact"]))
    sf.Task.create({"WhoId": who, "Subject": "Call", "ActivityDate": "2026-01-05"})
    dated = sf.query(f"SELECT Id FROM Task WHERE ActivityDate = 2026-01-05 AND WhoId = '{who}'")
    assert dated["totalSize"] == 1
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Id FROM Task WHERE ActivityDate = '2026-01-05'")
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Id FROM Contact WHERE Account.NumberOfEmployees > '10'")  # typed through the lookup


def test_offset_above_2000_is_refused(sf) -> None:
    assert sf.query("SELECT Id FROM Lead ORDER BY Id LIMIT 1 OFFSET 2000")["done"]
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.query("SELECT Id FROM Lead ORDER BY Id LIMIT 1 OFFSET 2001")
    assert e.value.content[0] == {
        "errorCode": "NUMBER_OUTSIDE_VALID_RANGE",
        "message": "Maximum SOQL offset allowed is 2000",
    }


@pytest.mark.parametrize(
    ("where", "token"),
    [
        ("LastName = 'a' AND FirstName = 'b' OR Email = null", "OR"),
        ("LastName = 'a' OR FirstName = 'b' AND Email = null", "AND"),
        ("(LastName = 'a') AND FirstName = 'b' OR (Email = null AND Title = null)", "OR"),
    ],
)
def test_and_mixed_with_or_needs_parentheses(sf, where: str, token: str) -> None:
    """SOQL has no precedence between AND and OR: "Parentheses are required whenever you mix
    the operators" (SOQL and SOSL Reference, "Logical Operators"). Evaluating ``a AND b OR c``
    one way or the other would hide a query Salesforce refuses."""
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.query(f"SELECT Id FROM Lead WHERE {where}")
    assert e.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert f"unexpected token: '{token}'" in e.value.content[0]["message"]


def test_one_operator_or_parentheses_need_none(sf, world) -> None:
    leads = [r for r in world.salesforce.objects["Lead"].values() if not r["IsDeleted"]]
    named = sum(1 for r in leads if r["LastName"] and r["Email"])
    assert (
        sf.query("SELECT Id FROM Lead WHERE LastName != null AND Email != null AND IsDeleted = false")["totalSize"]
        == named
    )
    assert sf.query("SELECT Id FROM Lead WHERE Email = null OR LastName != null OR Title = null")["totalSize"] > 0
    grouped = sf.query(
        "SELECT Id FROM Lead WHERE (LastName != null AND Email != null) OR (Email = null AND Title = 'x')"
    )
    assert grouped["totalSize"] == named + sum(1 for r in leads if r["Email"] is None and r["Title"] == "x")


@pytest.mark.parametrize(
    ("where", "token"),
    [
        ("LastName != null AND NOT Email = null", "NOT"),
        ("LastName != null AND NOT (Email = null OR Title = null)", "NOT"),
        ("LastName = 'a' OR NOT Email = null", "NOT"),
        ("NOT Email = null AND LastName != null", "AND"),
        ("NOT Email = null OR LastName != null", "OR"),
        ("NOT (NOT Email = null AND LastName != null)", "AND"),
        ("NOT NOT Email = null", "NOT"),
    ],
)
def test_not_meeting_and_or_or_needs_parentheses(sf, where: str, token: str) -> None:
    """ "Parentheses are required whenever you mix the operators" (AND, OR and NOT; SOQL and
    SOSL Reference, "Logical Operators"). Salesforce answers ``x AND NOT (y AND z)`` with
    "unexpected token: 'NOT'" (jetstreamapp/soql-parser-js#201) and refuses
    ``NOT (NOT x AND y)`` (#237). ``NOT NOT x`` is not in the grammar (NOT takes one field
    expression or a parenthesized group); refusing it is our reading, not a confirmed answer."""
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.query(f"SELECT Id FROM Lead WHERE {where}")
    assert e.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert f"unexpected token: '{token}'" in e.value.content[0]["message"]


def test_not_alone_or_in_parentheses_is_taken(sf, world) -> None:
    """The accepted forms, from the reference (``AnnualRevenue > 0 AND (NOT Type = 'Prospect')``)
    and #201/#242 (``NOT (a AND b)``, ``x AND (NOT (a AND b))``, ``NOT ((NOT (a)) AND b)``)."""
    leads = [r for r in world.salesforce.objects["Lead"].values() if not r["IsDeleted"]]
    no_email = sum(1 for r in leads if r["Email"] is None)
    named_no_email = sum(1 for r in leads if r["Email"] is None and r["LastName"])
    both = sum(1 for r in leads if r["Email"] is None and r["Title"] is None)

    def count(where: str) -> int:
        return sf.query(f"SELECT Id FROM Lead WHERE {where}")["totalSize"]

    assert count("NOT Email != null") == no_email
    assert count("NOT (Email != null)") == no_email
    assert count("LastName != null AND (NOT Email != null)") == named_no_email
    assert count("NOT (Email != null OR Title != null)") == both
    assert count("LastName != null AND (NOT (Email != null OR Title != null))") == sum(
        1 for r in leads if r["Email"] is None and r["Title"] is None and r["LastName"]
    )
    assert count("NOT ((NOT (Email = null)) AND Title != null)") == len(leads) - sum(
        1 for r in leads if r["Email"] is not None and r["Title"] is not None
    )
    # NOT IN is a comparison operator, not the logical NOT: it mixes with AND freely
    assert count("Email NOT IN ('nobody@example.com') AND LastName != null") == sum(
        1 for r in leads if r["LastName"] and r["Email"] != "nobody@example.com"
    )


SUFFIX = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)


@pytest.mark.parametrize(
    "soql, column, message",
    [
        (
            "Select Id, Status, Location, Body from Contact",
            "Status",
            "\nSelect Id, Status, Location, Body from Contact\n           ^\nERROR at Row:1:Column:12\n"
            f"No such column 'Status' on entity 'Contact'. {SUFFIX}",
        ),
        (
            "SELECT Id FROM Lead\nWHERE Not_A_Field__c = 'x'",
            "Not_A_Field__c",
            "\nWHERE Not_A_Field__c = 'x'\n      ^\nERROR at Row:2:Column:7\n"
            f"No such column 'Not_A_Field__c' on entity 'Lead'. {SUFFIX}",
        ),
    ],
)
def test_an_unknown_column_is_named_where_it_stands_in_salesforce_s_words(
    sf, soql: str, column: str, message: str
) -> None:
    """Salesforce's REST answer for an unknown column, as recorded (apache/camel-quarkus#3022:
    "\\nLastReferencedDate, ... CleanStatus, ...\\n  ^\\nERROR at Row:1:Column:687\\nNo such
    column 'CleanStatus' on entity 'Account'. If you are attempting to use a custom field, be
    sure to append the '__c' after the custom field name. Please reference your WSDL or the
    describe call for the appropriate names."; forcedotcom/soql-tooling#86 the same for a
    one-line query, Column 1-based): the query's row, a caret under the column, where it is,
    then the sentence. The sandbox said the sentence only, without its last one."""
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.query(soql)
    (error,) = refused.value.content
    assert error["errorCode"] == "INVALID_FIELD"
    assert error["message"] == message
