"""The HubSpot look-alike refuses the property definitions HubSpot refuses (real hubspot-api-client).

HubSpot's properties guide (developers.hubspot.com/docs/api/crm/properties, "Property type and
fieldType values"): type and fieldType are both required, and each type takes only the field types
in its row (bool: booleancheckbox; enumeration: booleancheckbox, checkbox, radio, select; date and
datetime: date; string: text, textarea, file...; number: number). The v2 "create contacts property"
page: "Returns a 409 Conflict error if there is already a property with the 'name' you used ...
Returns a 400 error with more details in the response body if there is any other problem." Error
bodies have HubSpot's shape: status, message, correlationId, category.
"""

from __future__ import annotations

import json

import pytest
from hubspot.crm.properties import OptionInput, PropertyCreate, PropertyGroupCreate
from hubspot.crm.properties.exceptions import ApiException

from hub.sandbox.hubspot_schema import VALID_FIELD_TYPES


def _create(hs, name: str, type_: str, field_type: str, options=None):  # noqa: ANN001, ANN202
    return hs.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name=name, label=name, type=type_, field_type=field_type, group_name="contactinformation", options=options
        ),
    )


def _refusal(call) -> tuple[int, dict]:  # noqa: ANN001
    with pytest.raises(ApiException) as e:
        call()
    body = json.loads(e.value.body)
    assert {"status", "message", "correlationId", "category"} <= set(body)
    return e.value.status, body


@pytest.mark.parametrize(
    ("type_", "field_type"),
    [("string", "select"), ("number", "text"), ("datetime", "number"), ("bool", "checkbox"), ("date", "text")],
)
def test_a_field_type_the_type_does_not_take_is_a_400(hs, type_: str, field_type: str) -> None:
    status, body = _refusal(lambda: _create(hs, f"p_{type_}_{field_type}", type_, field_type))
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert field_type in body["message"] and type_ in body["message"]
    names = {p.name for p in hs.crm.properties.core_api.get_all("contacts").results}
    assert f"p_{type_}_{field_type}" not in names


def test_every_pair_in_the_guide_is_accepted(hs) -> None:
    """The other side of the rule: the sandbox is not stricter than HubSpot."""
    for type_, kinds in VALID_FIELD_TYPES.items():
        for kind in sorted(kinds):
            opts = [OptionInput(label="Yes", value="true", display_order=0, hidden=False)]
            made = _create(hs, f"ok_{type_}_{kind}", type_, kind, opts if type_ in ("enumeration", "bool") else None)
            assert (made.type, made.field_type) == (type_, kind)


def test_an_unknown_type_is_a_400(hs) -> None:
    status, body = _refusal(lambda: _create(hs, "p_weird", "money", "number"))
    assert status == 400 and "money" in body["message"]


def test_a_dropdown_without_options_is_a_400_and_option_values_must_differ(hs) -> None:
    status, body = _refusal(lambda: _create(hs, "p_pick", "enumeration", "select"))
    assert status == 400 and "option" in body["message"]
    twice = [OptionInput(label=f"A{i}", value="a", display_order=i, hidden=False) for i in range(2)]
    status, body = _refusal(lambda: _create(hs, "p_pick", "enumeration", "select", twice))
    assert status == 400 and "distinct" in body["message"]
    good = [OptionInput(label=v, value=v, display_order=i, hidden=False) for i, v in enumerate(("a", "b"))]
    made = _create(hs, "p_pick", "enumeration", "select", good)
    assert [o.value for o in made.options] == ["a", "b"]


def test_a_duplicate_name_is_a_409_with_hubspots_body_and_a_missing_group_a_400(hs) -> None:
    _create(hs, "p_dupe", "string", "text")
    status, body = _refusal(lambda: _create(hs, "p_dupe", "number", "number"))
    assert status == 409 and body["category"] == "OBJECT_ALREADY_EXISTS" and "p_dupe" in body["message"]
    status, body = _refusal(
        lambda: hs.crm.properties.core_api.create(
            "contacts", PropertyCreate(name="p_lost", label="x", type="string", field_type="text", group_name="nope")
        )
    )
    assert status == 400 and "nope" in body["message"]
    hs.crm.properties.groups_api.create("contacts", PropertyGroupCreate(name="g1", label="G1"))
    status, body = _refusal(
        lambda: hs.crm.properties.groups_api.create("contacts", PropertyGroupCreate(name="g1", label="again"))
    )
    assert status == 409


@pytest.mark.parametrize("name", ["Hub_Lead_Score", "hubScore", "x" * 100])
def test_a_name_with_capitals_or_of_100_characters_is_a_400(hs, name: str) -> None:
    """HubSpot's answer as quoted in HubSpot/hubspot-api-nodejs#277: "Names for properties should
    be lowercase and have less than 100 characters." (HubSpot/rHAPI PR #5 met the same rule:
    no capital letters in a contact property's name.)"""
    status, body = _refusal(lambda: _create(hs, name, "string", "text"))
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "lowercase" in body["message"] and "100 characters" in body["message"]
    assert _create(hs, "x" * 99, "string", "text").name == "x" * 99
