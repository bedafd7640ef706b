"""hub/rows.py on untrusted cells: a bad value is a ValueError naming its column, never anything else."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.rows import ContactColumns, EventColumns, activity_from_row, contact_from_row, parse_time

cells = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
CONTACT_COLS = ContactColumns(
    email="email",
    id="id",
    updated_at="updated_at",
    fields={"first_name": "a", "company.employees": "b", "company.annual_revenue": "c", "consent.email_opt_out": "d"},
    properties=["e"],
)
EVENT_COLS = EventColumns(
    contact="email", occurred_at="at", type="type", id="id", properties=["e"], properties_json="j"
)
columns = ["email", "id", "updated_at", "a", "b", "c", "d", "e", "at", "type", "j"]


@given(st.fixed_dictionaries({c: cells for c in columns}))
def test_a_row_maps_or_fails_with_a_named_column(row):
    for fn in (
        lambda: contact_from_row(row, CONTACT_COLS, "wh"),
        lambda: activity_from_row(row, EVENT_COLS, "wh", "wh"),
    ):
        try:
            model = fn()
        except ValueError as exc:
            assert str(exc).split(":")[0] in columns, str(exc)
        else:
            model.model_dump_json()  # everything it holds is JSON-safe


def test_times_come_out_in_utc():
    assert parse_time("2026-02-01T10:06:00+01:00", "t") == datetime(2026, 2, 1, 9, 6, tzinfo=UTC)
    assert parse_time(1767225600, "t") == parse_time(1767225600000, "t") == datetime(2026, 1, 1, tzinfo=UTC)


def test_integral_numbers_as_ids_keep_no_fraction():
    row = {"id": Decimal("5"), "email": None, "updated_at": None}
    assert contact_from_row(row, ContactColumns(email="email", id="id"), "wh").identities[0].external_id == "5"


def test_epoch_seconds_or_milliseconds_written_as_text_are_times():
    """A CSV's cells are text: an export's epoch stamps ("1767225600", or in ms) were refused as
    "not a date or time" though the same numbers from Parquet or a warehouse were read. A
    compact ISO date ("20260101") is still a date, not seconds."""
    new_year = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_time("1767225600", "t") == parse_time("1767225600000", "t") == new_year
    assert parse_time("1767225600.5", "t") == new_year.replace(microsecond=500000)
    assert parse_time("20260101", "t") == new_year
    with pytest.raises(ValueError, match="not a date or time"):
        parse_time("12345", "t")
