"""Every query the reader sends fits in Salesforce's 16,384 bytes of URI and headers (help
000386264; the sandbox answers 414 past it, tests/sandbox/test_salesforce_uri_limits.py).

The window query is the only read whose length grows with configuration: its SELECT names the
object's fields and every mapped hub field. Salesforce caps a field's API name (40 characters,
``__c``, a 15-character namespace and ``__``: 60 in all), and the hub fields are a fixed set,
and the only other clause is the (stamp, Id) a sync goes on after; so the longest window is
bounded. This test builds it and fails if a change makes it too long.
The IN-list lookups of the push path are cut to fit (``fitting``, test_push.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.salesforce.client import MAX_QUERY_BYTES, query_bytes
from connectors.salesforce.mapping import count_soql, window_soql
from connectors.salesforce.objects import ACTIVITY_OBJECTS, OPTIONAL_FIELDS, PERSON_OBJECTS
from hub.fields import HUB_FIELDS

LONGEST_NAME = 60  # "ns" * 7 + "n" (15), "__", 40 characters, "__c"
END = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def _longest(k: int) -> str:
    name = f"nsnsnsnsnsnsnsn__{k:02d}" + "x" * (40 - 2) + "__c"
    assert len(name) == LONGEST_NAME
    return name


@pytest.mark.parametrize("sobject", sorted(PERSON_OBJECTS) + sorted(ACTIVITY_OBJECTS))
def test_the_longest_window_query_fits_in_one_request(sobject: str) -> None:
    obj = PERSON_OBJECTS.get(sobject) or ACTIVITY_OBJECTS[sobject]
    fields = list(obj.fields) + list(OPTIONAL_FIELDS.get(sobject, ()))
    if sobject in PERSON_OBJECTS:
        fields += [_longest(k) for k in range(len(HUB_FIELDS))]  # every hub field, under the longest name
    last_id, since = "003" + "A" * 15, 1_767_000_000_000
    soql = window_soql(obj.name, obj.cursor_field, obj.key, fields, since, 60_000, END, after_id=last_id)
    count = count_soql(obj.name, obj.cursor_field, since, 60_000, END)
    assert query_bytes(soql) <= MAX_QUERY_BYTES // 4, query_bytes(soql)  # far from the limit
    assert query_bytes(count) <= MAX_QUERY_BYTES // 4
