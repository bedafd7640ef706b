"""Single-record writes refused as HubSpot refuses them, through the real hubspot-api-client.

HubSpot answers a bad property value on ``PATCH``/``POST /crm/v3/objects/contacts`` with the
same 400 body as a batch update: ``"Property values were not valid: [...]"`` (one JSON item per
property, with ``error`` and ``name``), ``errors`` with ``code`` and ``context.propertyName``,
category VALIDATION_ERROR. Seen live in gregorspan/csc-frodx#21 (a single-object
``POST /crm/v3/objects/tickets``, INVALID_OPTION) and Atlas-Authority/marketing-automation#206
(``batch/update``, INVALID_INTEGER).
"""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts import ApiException, BatchInputSimplePublicObjectBatchInput, SimplePublicObjectInput
from hubspot.crm.properties import PropertyCreate

from hub.sandbox.world import World


def _contact(world: World) -> str:
    return next(r for r, rec in world.hubspot.records.items() if not rec["archived"])


def _refusal(call) -> tuple[int, dict, list[dict]]:  # noqa: ANN001
    """Status, body and the items inside its message, as a client parses them."""
    with pytest.raises(ApiException) as e:
        call()
    body = json.loads(e.value.body)
    message = body["message"]
    assert message.startswith("Property values were not valid: ["), message
    return e.value.status, body, json.loads(message[message.index("[") :])


@pytest.mark.parametrize(
    ("props", "code"),
    [
        ({"lifecyclestage": "not-a-stage"}, "INVALID_OPTION"),
        ({"no_such_property": "x"}, "PROPERTY_DOESNT_EXIST"),
        ({"createdate": "2026-01-01T00:00:00Z"}, "READ_ONLY_VALUE"),
        ({"hs_email_optout": "true"}, "READ_ONLY_VALUE"),  # opt-outs go through subscriptions
        ({"hs_analytics_num_page_views": "3"}, "READ_ONLY_VALUE"),  # HubSpot counts them
        ({"seats": " 12"}, "LEADING_TRAILING_WHITESPACE"),
        ({"seats": "twelve"}, "INVALID_INTEGER"),
        ({"numemployees": "250"}, "INVALID_OPTION"),  # a dropdown of ranges, not a number
        ({"hubspot_owner_id": "999"}, "INVALID_OWNER_ID"),
        ({"email": "example.lcom"}, "INVALID_EMAIL"),
    ],
)
def test_a_bad_value_on_patch_answers_hubspots_validation_body(hs, world: World, props: dict, code: str) -> None:
    hs.crm.properties.core_api.create(  # a custom number property
        "contacts",
        PropertyCreate(
            name="seats", label="Seats", type="number", field_type="number", group_name="contactinformation"
        ),
    )
    rid = _contact(world)
    before = dict(world.hubspot.records[rid]["properties"])
    status, body, items = _refusal(
        lambda: hs.crm.contacts.basic_api.update(rid, SimplePublicObjectInput(properties=props))
    )
    ((name, value),) = props.items()
    assert status == 400 and body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert body["correlationId"]
    assert [(i["isValid"], i["error"], i["name"], i["propertyValue"]) for i in items] == [(False, code, name, value)]
    assert items[0]["message"] and items[0]["localizedErrorMessage"] == items[0]["message"]
    assert items[0]["portalId"] == world.hubspot.portal_id
    assert body["errors"] == [{"message": items[0]["message"], "code": code, "context": {"propertyName": [name]}}]
    assert world.hubspot.records[rid]["properties"] == before


def test_a_bad_option_names_the_allowed_options_as_hubspot_does(hs, world: World) -> None:
    """HubSpot's wording: "<value> was not one of the allowed options: [A, B, ...]"."""
    rid = _contact(world)
    _, _, items = _refusal(
        lambda: hs.crm.contacts.basic_api.update(rid, SimplePublicObjectInput(properties={"lifecyclestage": "vip"}))
    )
    assert items[0]["message"].startswith("vip was not one of the allowed options: [subscriber, lead, ")


def test_patch_and_batch_update_refuse_the_same_values_with_the_same_items(hs, world: World) -> None:
    """One validation: every bad property of the call is named, in both endpoints alike."""
    rid = _contact(world)
    props = {"lifecyclestage": "nope", "no_such_property": "x", "jobtitle": "fine"}
    _, one, one_items = _refusal(
        lambda: hs.crm.contacts.basic_api.update(rid, SimplePublicObjectInput(properties=props))
    )
    batch = BatchInputSimplePublicObjectBatchInput(inputs=[{"id": rid, "properties": props}])
    _, many, many_items = _refusal(lambda: hs.crm.contacts.batch_api.update(batch))
    assert one_items == many_items and one["errors"] == many["errors"]
    assert sorted(i["name"] for i in one_items) == ["lifecyclestage", "no_such_property"]


def test_a_bad_value_on_create_answers_the_same_body_and_creates_nothing(hs, world: World) -> None:
    count = len(world.hubspot.records)
    status, body, items = _refusal(
        lambda: hs.crm.contacts.basic_api.create(
            SimplePublicObjectInput(properties={"email": "new@example.com", "lifecyclestage": "nope"})
        )
    )
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert [(i["error"], i["name"]) for i in items] == [("INVALID_OPTION", "lifecyclestage")]
    assert body["errors"][0]["context"] == {"propertyName": ["lifecyclestage"]}
    assert len(world.hubspot.records) == count


@pytest.mark.parametrize(
    "email", ["example.lcom", "dsfsafas@", "@example.com", "a@b@example.com", "pat@example", "lenka@yahoo.de "]
)
def test_an_invalid_email_is_refused_in_hubspots_words_on_every_write(hs, world: World, email: str) -> None:
    """``Email address <value> is invalid`` with INVALID_EMAIL, as seen live on
    ``POST /crm/v3/objects/contacts`` (frank-quoc/TalentLMS_HS_Integration README log, for
    "example.lcom "; a v1 import log refused "lenka_kurt@yahoo.de " with a trailing blank)."""
    rid = _contact(world)
    count = len(world.hubspot.records)
    writes = [
        lambda: hs.crm.contacts.basic_api.create(SimplePublicObjectInput(properties={"email": email})),
        lambda: hs.crm.contacts.basic_api.update(rid, SimplePublicObjectInput(properties={"email": email})),
        lambda: hs.crm.contacts.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(inputs=[{"id": rid, "properties": {"email": email}}])
        ),
    ]
    for write in writes:
        status, body, items = _refusal(write)
        assert status == 400 and body["category"] == "VALIDATION_ERROR"
        assert [(i["error"], i["name"], i["message"]) for i in items] == [
            ("INVALID_EMAIL", "email", f"Email address {email} is invalid")
        ]
    assert len(world.hubspot.records) == count


def test_an_ordinary_address_is_taken(hs, world: World) -> None:
    made = hs.crm.contacts.basic_api.create(
        SimplePublicObjectInput(properties={"email": "First.Last+tag@mail.example.co.uk"})
    )
    assert world.hubspot.records[made.id]["properties"]["email"] == "First.Last+tag@mail.example.co.uk"


def test_properties_say_which_values_are_read_only_as_hubspot_does(hs) -> None:
    """``modificationMetadata.readOnlyValue`` on every property (amp-labs/connectors' recorded
    answer, metadata-contacts-properties-sampled.json): true for what HubSpot sets itself, so a
    client can tell before writing what the write would be refused with."""
    props = {p.name: p for p in hs.crm.properties.core_api.get_all("contacts").results}
    assert all(p.modification_metadata is not None for p in props.values())
    read_only = {n for n, p in props.items() if p.modification_metadata.read_only_value}
    assert {"createdate", "lastmodifieddate", "hs_object_id", "hs_email_optout"} <= read_only
    assert not {"email", "firstname", "lifecyclestage", "hubspot_owner_id"} & read_only


def test_company_size_is_a_dropdown_of_ranges_and_revenue_is_text(hs) -> None:
    """Contact ``numemployees`` is enumeration/select and ``annualrevenue`` string/text in HubSpot
    (its contact properties as hull/hull-connectors records them), not numbers."""
    props = {p.name: p for p in hs.crm.properties.core_api.get_all("contacts").results}
    size, revenue = props["numemployees"], props["annualrevenue"]
    assert (size.type, size.field_type) == ("enumeration", "select")
    assert [o.value for o in size.options][:2] == ["1-10", "11-50"] and size.options[-1].value == "5001+"
    assert (revenue.type, revenue.field_type) == ("string", "text")
