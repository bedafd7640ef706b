"""Refusals of writes the sandbox used to word (or take) differently from Salesforce:

- an ``Id`` in a REST row's body: 400 INVALID_FIELD "The Id field should not be specified in the
  sobject data." (REST API Developer Guide, "Create a Record"); in an sObject Collections insert,
  that record fails with INVALID_FIELD_FOR_INSERT_UPDATE "cannot specify Id in an insert call"
  (the collections guide: "don't set the id field"; the wording Apex, SOAP and collections give);
- a system field (CreatedDate) on insert: INVALID_FIELD_FOR_INSERT_UPDATE, not "No such column";
- PATCH / DELETE of one row: a record in the recycle bin is 404 ENTITY_IS_DELETED "entity is
  deleted"; an id no record has is 404 NOT_FOUND "The requested resource does not exist";
- a second User with a taken Username: DUPLICATE_USERNAME;
- an Event with a start but neither DurationInMinutes nor EndDateTime: REQUIRED_FIELD_MISSING;
- a collection delete of more than 200 ids: EXCEEDED_ID_LIMIT worded as for inserts and updates.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from hub.sandbox.salesforce_state import user_fields
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World

from .conftest import salesforce_client


@pytest.fixture
def org() -> Iterator[tuple[World, Salesforce]]:
    world = World(n_contacts=10, seed=2)
    with start_sandbox(world) as sb:
        yield world, salesforce_client(sb)


def _post(sf: Salesforce, records: list[dict[str, object]]) -> list[dict[str, object]]:
    return sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})


def _a_contact(sf: Salesforce) -> str:
    return sf.Contact.create({"LastName": "Original"})["id"]


def test_an_id_in_a_rest_row_body_is_refused_as_salesforce_words_it(org) -> None:
    world, sf = org
    existing = _a_contact(sf)
    expected = [{"message": "The Id field should not be specified in the sobject data.", "errorCode": "INVALID_FIELD"}]
    with pytest.raises(SalesforceMalformedRequest) as insert:
        sf.Contact.create({"Id": existing, "LastName": "Twin"})
    assert insert.value.content == expected
    with pytest.raises(SalesforceMalformedRequest) as update:
        sf.Contact.update(existing, {"id": existing, "LastName": "Twin"})
    assert update.value.content == expected
    assert world.salesforce.objects["Contact"][existing]["LastName"] != "Twin"


def test_a_collection_insert_with_an_id_fails_that_record(org) -> None:
    world, sf = org
    res = _post(
        sf,
        [
            {"attributes": {"type": "Contact"}, "Id": _a_contact(sf), "LastName": "Twin"},
            {"attributes": {"type": "Contact"}, "LastName": "Fresh"},
        ],
    )
    assert res[0] == {
        "success": False,
        "errors": [
            {
                "statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
                "message": "cannot specify Id in an insert call",
                "fields": ["Id"],
            }
        ],
    }
    assert res[1]["success"] is True


def test_a_system_field_on_insert_is_not_writable_rather_than_unknown(org) -> None:
    _, sf = org
    res = _post(sf, [{"attributes": {"type": "Contact"}, "LastName": "Old", "CreatedDate": "2020-01-01T00:00:00Z"}])
    assert res[0]["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert res[0]["errors"][0]["fields"] == ["CreatedDate"]


def test_one_row_writes_to_a_deleted_or_unknown_id_are_404(org) -> None:
    world, sf = org
    gone = _a_contact(sf)
    sf.Contact.delete(gone)
    deleted = [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}]
    for call in (lambda: sf.Contact.update(gone, {"LastName": "X"}), lambda: sf.Contact.delete(gone)):
        with pytest.raises(SalesforceResourceNotFound) as e:
            call()
        assert e.value.status == 404 and e.value.content == deleted
    never = "003Hb9999999999AAA"
    missing = [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
    for call in (lambda: sf.Contact.update(never, {"LastName": "X"}), lambda: sf.Contact.delete(never)):
        with pytest.raises(SalesforceResourceNotFound) as e:
            call()
        assert e.value.status == 404 and e.value.content == missing


def test_a_taken_username_is_a_duplicate(org) -> None:
    world, sf = org
    fields = user_fields("Rep0@Sandbox.example.com", "Other", "Rep")  # usernames ignore case
    res = _post(sf, [{"attributes": {"type": "User"}, **fields}])
    assert res[0]["success"] is False
    assert res[0]["errors"][0]["statusCode"] == "DUPLICATE_USERNAME"
    assert res[0]["errors"][0]["fields"] == ["Username"]
    fresh = _post(sf, [{"attributes": {"type": "User"}, **user_fields("new@sandbox.example.com", "New", "Rep")}])
    assert fresh[0]["success"] is True
    clash = {"Username": "rep1@sandbox.example.com"}
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.User.update(fresh[0]["id"], clash)
    assert e.value.content[0]["errorCode"] == "DUPLICATE_USERNAME"


def test_an_event_needs_a_duration_or_an_end(org) -> None:
    world, sf = org
    who = _a_contact(sf)
    start = {"attributes": {"type": "Event"}, "WhoId": who, "Subject": "Call", "StartDateTime": "2026-01-05T10:00:00Z"}
    res = _post(sf, [start, {**start, "EndDateTime": "2026-01-05T10:30:00Z"}, {**start, "DurationInMinutes": 30}])
    assert res[0] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [DurationInMinutes]",
                "fields": ["DurationInMinutes"],
            }
        ],
    }
    assert [r["success"] for r in res[1:]] == [True, True]


def test_a_collection_delete_over_200_ids_is_worded_as_salesforce_words_it(org) -> None:
    world, sf = org
    ids = ",".join([_a_contact(sf)] * 201)
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.restful("composite/sobjects", method="DELETE", params={"ids": ids})
    assert e.value.content == [
        {
            "message": "record limit reached. cannot submit more than 200 records into this call",
            "errorCode": "EXCEEDED_ID_LIMIT",
        }
    ]


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("TimeZoneSidKey", "Mars/Olympus"),
        ("LocaleSidKey", "xx_YY"),
        ("EmailEncodingKey", "UTF-9"),
        ("LanguageLocaleKey", "klingon"),
    ],
)
def test_a_user_s_zone_locale_encoding_and_language_are_restricted_picklists(org, field: str, bad: str) -> None:
    _, sf = org
    fields = user_fields("picky@sandbox.example.com", "Pic", "Ky")
    res = _post(sf, [{"attributes": {"type": "User"}, **fields, field: bad}])
    assert res[0]["success"] is False
    assert res[0]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert res[0]["errors"][0]["fields"] == [field]
    usual = {"TimeZoneSidKey": "Europe/Paris", "LocaleSidKey": "fr_FR", "EmailEncodingKey": "ISO-8859-1"}
    ok = _post(sf, [{"attributes": {"type": "User"}, **fields, **usual, "LanguageLocaleKey": "fr"}])
    assert ok[0]["success"] is True
