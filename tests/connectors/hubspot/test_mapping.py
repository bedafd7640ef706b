"""Pure mapping from HubSpot payloads: vendor names stop in connectors/hubspot/mapping.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.hubspot.mapping import (
    contact_from_hubspot,
    email_event_activity,
    field_value,
    merged_ids,
    property_name,
)
from hub.models import ActivityType


def record(**props):
    base = {"lastmodifieddate": "2026-01-02T03:04:05.678Z", "email": " Ada@Example.com "}
    return {"id": "101", "properties": {**base, **props}}


def test_contact_maps_firmographics_consent_and_hub_fields():
    c = contact_from_hubspot(
        "hs",
        record(
            numemployees="250",
            annualrevenue="1.5e6",
            hs_email_optout="true",
            hub_next_best_action="wait",
            hubspot_owner_id="71001",
        ),
        {},
    )
    assert c.identities[0].external_id == "101" and c.company.employees == 250
    assert c.company.annual_revenue == 1_500_000 and c.consent.email_opt_out is True
    assert c.crm_fields == {"next_best_action": "wait"} and c.owner == "71001"
    assert c.updated_at == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def test_field_mapping_renames_a_hub_property():
    c = contact_from_hubspot("hs", record(nba_custom="email"), {"next_best_action": "nba_custom"})
    assert c.crm_fields == {"next_best_action": "email"}
    assert property_name("next_best_action", {"next_best_action": "nba_custom"}) == "nba_custom"
    assert property_name("lead_score", {}) == "hub_lead_score"


@pytest.mark.parametrize(
    ("size", "employees"),
    [("11-50", 30), ("1,001 - 5,000", 3000), ("5001+", 5001), ("250", 250), ("50-", None), ("a-b", None)],
)
def test_a_size_range_option_is_read_as_its_middle_and_an_open_one_as_its_floor(size, employees):
    """HubSpot's contact numemployees is a dropdown of ranges (test_company_size.py)."""
    assert contact_from_hubspot("hs", record(numemployees=size), {}).company.employees == employees


def test_bad_numbers_become_unknown_and_bad_dates_reject_the_record_with_a_reason():
    c = contact_from_hubspot("hs", record(numemployees="lots"), {})
    assert c.company.employees is None
    with pytest.raises(ValueError, match="lastmodifieddate"):
        contact_from_hubspot("hs", record(lastmodifieddate="31/02/2024"), {})
    with pytest.raises(ValueError, match="no id"):
        contact_from_hubspot("hs", {"properties": {}}, {})


def test_merged_ids_exclude_the_survivor():
    assert merged_ids({"id": "9", "properties": {"hs_merged_object_ids": "3;5;9"}}) == ["3", "5"]


def test_email_events_map_by_recipient():
    a = email_event_activity("hs", {"id": "e1", "type": "OPEN", "created": 1767225600000, "recipient": "x@example.com"})
    assert a.type is ActivityType.EMAIL_OPEN and a.contact_email == "x@example.com" and a.external_id == "email:e1"
    with pytest.raises(ValueError):
        email_event_activity("hs", {"id": "e2", "type": "DEFERRED", "created": 1, "recipient": "x@example.com"})


def test_field_values_are_strings_hubspot_accepts():
    assert field_value("lead_score", 80.0) == "80" and field_value("x", True) == "true" and field_value("x", None) == ""


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "email",
                "firstname",
                "numemployees",
                "annualrevenue",
                "lastmodifieddate",
                "hs_email_optout",
                "hubspot_owner_id",
            ]
        ),
        st.one_of(
            st.none(), st.text(max_size=300), st.integers(), st.floats(allow_nan=True), st.integers(min_value=10**15)
        ),
    )
)
def test_any_payload_maps_or_is_rejected_with_a_reason(props):
    try:
        c = contact_from_hubspot("hs", {"id": "1", "properties": props}, {})
    except ValueError as exc:
        assert str(exc)
    else:
        assert c.identities[0].external_id == "1"


@pytest.mark.parametrize(
    ("slug", "zone"),
    [
        ("america_slash_new_york", "America/New_York"),
        ("america_slash_port_hyphen_au_hyphen_prince", "America/Port-au-Prince"),
        ("asia_slash_kolkata", "Asia/Kolkata"),
        ("Europe/Berlin", "Europe/Berlin"),  # an IANA name already
        ("somewhere", "somewhere"),  # no zone: kept, the engine treats it as unknown
    ],
)
def test_hubspot_s_time_zone_slug_is_read_as_its_iana_zone(slug, zone):
    """HubSpot keeps hs_timezone as a slug no time zone library reads: every real contact's send
    time was chosen on the UTC clock (02:00 in Los Angeles), while the sandbox held IANA names."""
    from decision.send_time import utc_offsets

    c = contact_from_hubspot("hs", record(hs_timezone=slug), {})
    assert c.company.timezone == zone
    _, known = utc_offsets([c.company.timezone], datetime(2026, 12, 7, tzinfo=UTC))
    assert bool(known[0]) is (zone != "somewhere")
