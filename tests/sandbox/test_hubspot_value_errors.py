"""The codes and words of HubSpot's refusals of date and datetime values, as HubSpot sends them
(each item of "Property values were not valid: [...]" and of ``errors``)."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.properties import PropertyCreate

from hub.sandbox.world import World


@pytest.fixture
def rid(hs: HubSpot, world: World) -> str:
    for name, kind in (("when_dt", "datetime"), ("when_d", "date")):
        hs.crm.properties.core_api.create(
            "contacts",
            PropertyCreate(name=name, label=name, type=kind, field_type="date", group_name="contactinformation"),
        )
    return next(r for r, rec in world.hubspot.records.items() if not rec["archived"])


def _refusal(hs: HubSpot, rid: str, props: dict[str, str]) -> dict:
    """The one item HubSpot's 400 gives for ``props``, with its ``errors`` entry's code beside it."""
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.basic_api.update(rid, {"properties": props})
    body = json.loads(e.value.body)
    assert e.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    message = body["message"]
    (item,) = json.loads(message[message.index("[") :])
    assert [x["code"] for x in body["errors"]] == [item["error"]]
    return item


def test_a_date_not_at_midnight_is_invalid_date(hs: HubSpot, rid: str) -> None:
    """HubSpot's item as recorded in a HubSpot client's source (a date property written at
    13:01): {"message": "1579179660000 is at 13:1:0.0 UTC, not midnight!", "error":
    "INVALID_DATE"}; the sandbox answered INVALID_VALUE."""
    item = _refusal(hs, rid, {"when_d": "1579179660000"})
    assert item["error"] == "INVALID_DATE" and item["message"] == "1579179660000 is at 13:1:0.0 UTC, not midnight!"


def test_a_date_a_thousand_years_away_is_invalid_date(hs: HubSpot, rid: str) -> None:
    """HubSpot refuses a date more than 1,000 years from now, as a Rails app met it:
    "-62044444800000 is more than 1,000 years ago or 1,000 years from now." (INVALID_DATE);
    the sandbox stored year 3 AD."""
    item = _refusal(hs, rid, {"when_d": "-62044444800000"})
    assert item["error"] == "INVALID_DATE"
    assert item["message"] == "-62044444800000 is more than 1,000 years ago or 1,000 years from now."


@pytest.mark.parametrize("prop", ["when_dt", "when_d"])
def test_a_value_that_is_no_time_is_invalid_long(hs: HubSpot, rid: str, prop: str) -> None:
    """HubSpot reads what is not an ISO date as epoch milliseconds and says so: "... was not a
    valid long." (INVALID_LONG), as recorded on contact createdate in a HubSpot sync-error
    answer and met by WP Fusion for form dates; the sandbox answered INVALID_VALUE."""
    item = _refusal(hs, rid, {prop: "next tuesday"})
    assert item["error"] == "INVALID_LONG" and item["message"] == "next tuesday was not a valid long."


def test_a_checkbox_takes_true_or_false_only(hs: HubSpot, rid: str) -> None:
    """A bool property (booleancheckbox) refuses any other word, INVALID_OPTION "tYES was not one
    of the allowed options: [true, false]", as an SAP-to-HubSpot sync met it; the sandbox
    stored "yes" on a bool property made without options."""
    hs.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="is_vip", label="VIP", type="bool", field_type="booleancheckbox", group_name="contactinformation"
        ),
    )
    item = _refusal(hs, rid, {"is_vip": "yes"})
    assert (
        item["error"] == "INVALID_OPTION" and item["message"] == "yes was not one of the allowed options: [true, false]"
    )
    hs.crm.contacts.basic_api.update(rid, {"properties": {"is_vip": "true"}})
