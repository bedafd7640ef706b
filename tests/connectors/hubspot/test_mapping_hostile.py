"""Property-based: any JSON a HubSpot-shaped API could send maps to a Contact or is rejected
with a ValueError that names the field, never any other exception (which would stop the sync)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.hubspot.mapping import CONTACT_PROPERTIES, contact_from_hubspot
from hub.store.limits import contact_problems

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
dates = st.sampled_from(
    ["2026-01-02T03:04:05Z", "31/02/2024", "0000-00-00", "yesterday", "9" * 30, "1767225600000", "", "inf"]
)
properties = st.fixed_dictionaries(
    {"lastmodifieddate": dates | json_values},
    optional={name: json_values for name in CONTACT_PROPERTIES if name != "lastmodifieddate"},
)
records = st.one_of(
    st.fixed_dictionaries({"id": st.text(max_size=20) | st.integers(), "properties": properties}),
    st.fixed_dictionaries({"id": json_values, "properties": json_values}),
    json_values,
)


@settings(max_examples=150, deadline=None)
@given(records)
def test_any_record_maps_or_is_rejected_naming_what_is_wrong(record):
    try:
        c = contact_from_hubspot("hs", record, {})
    except ValueError as exc:
        msg = str(exc)
        assert any(word in msg for word in ("id", "properties", "lastmodifieddate", "record")), msg
        assert len(msg) < 400, "a reject reason stays readable in a log line"
    else:
        assert c.identities[0].external_id == str(record["id"])
        assert c.updated_at is not None and c.updated_at.tzinfo is not None
        assert c.company.employees is None or 0 <= c.company.employees < 2**31
        # what the store would still refuse is text it cannot hold, named by field; never a number
        for field, why in contact_problems(c):
            assert field and any(w in why for w in ("characters long", "NUL", "surrogate")), (field, why)


def test_overflowing_numbers_become_unknown_instead_of_crashing():
    rec = {"id": "1", "properties": {"lastmodifieddate": "2026-01-02T03:04:05Z", "numemployees": "inf"}}
    c = contact_from_hubspot("hs", {**rec, "properties": {**rec["properties"], "annualrevenue": "nan"}}, {})
    assert c.company.employees is None and c.company.annual_revenue is None
    c = contact_from_hubspot("hs", {"id": "2", "properties": {**rec["properties"], "numemployees": "1e400"}}, {})
    assert c.company.employees is None


def test_a_non_finite_number_in_a_kept_property_is_kept_as_text_not_refused():
    """HubSpot sends property values as strings; Python's JSON reader still turns 'Infinity' into a float."""
    rec = {
        "id": "3",
        "properties": {"lastmodifieddate": "2026-01-02T03:04:05Z", "recent_conversion_event_name": float("inf")},
    }
    c = contact_from_hubspot("hs", rec, {})
    assert c.properties["recent_conversion_event_name"] == "inf"
    assert contact_problems(c) == []
