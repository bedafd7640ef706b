"""Failed pushes are grouped by their error with ids and numbers folded (hub/governance/pushes.py).

Digits were replaced wherever they stood, inside words too: ``sqlite3`` read ``sqlite<n>``, a
property ``hub_score_v2`` read ``hub_score_v<n>``, and two temporary directories of one cause
(``/tmp/tmpab12cd_x``, ``/tmp/tmpqzwxyvut``) made two groups, one of them mangled."""

from __future__ import annotations

import pytest

from hub.governance.pushes import normalize_error


def test_one_cause_in_two_temporary_directories_is_one_group_and_reads_as_written():
    a = normalize_error("sqlite3.OperationalError: unable to open database file /tmp/tmpab12cd_x/hub.db")
    b = normalize_error("sqlite3.OperationalError: unable to open database file /tmp/tmpqzwxyvut/hub.db")
    assert a == b == "sqlite3.OperationalError: unable to open database file /tmp/<tmp>/hub.db"


@pytest.mark.parametrize(
    "text, folded",
    [
        # ids and numbers standing alone fold, so one cause over many records is one group
        ("HubSpot 400: contact 84213 (a@b.com) failed", "HubSpot <n>: contact <n> (<email>) failed"),
        ("correlationId 3f2b1c9a-0d4e-4f5a-9b8c-7d6e5f4a3b2c", "correlationId <uuid>"),
        ("ENTITY_IS_DELETED: 003A000001AbCdEFGH", "ENTITY_IS_DELETED: <id>"),
        ("retry after 1.5 s", "retry after <n> s"),
        (
            "write to /tmp/pytest-of-ann/pytest-12/test_a0/out.csv failed",
            "write to /tmp/pytest-of-ann/pytest-<n>/test_a0/out.csv failed",
        ),
        ("request id 9f86d081884c7d65 refused", "request id <hex> refused"),
        ("byte 0xe9 in position 14", "byte <hex> in position <n>"),
        # an HTTP status is the cause, not an id: kept
        ("HTTP 503 for contact 17", "HTTP 503 for contact <n>"),
        ("HTTP/1.1 429 Too Many Requests", "HTTP/1.1 429 Too Many Requests"),
        ("refused with status code: 403 after 3 tries", "refused with status code: 403 after <n> tries"),
        # digits inside a name are part of it: kept, so the message stays readable
        ("PROPERTY_DOESNT_EXIST: hub_score_v2", "PROPERTY_DOESNT_EXIST: hub_score_v2"),
        ("'utf8' codec can't decode", "'utf8' codec can't decode"),
    ],
)
def test_ids_and_numbers_fold_and_names_keep_their_digits(text, folded):
    assert normalize_error(text) == folded


@pytest.mark.parametrize(
    "text, folded",
    [
        # a CRM the hub cannot reach: its address is the cause's "where", the same for every record
        (
            "cannot connect to http://127.0.0.1:18432 (connection refused); check base_url",
            "cannot connect to http://127.0.0.1:18432 (connection refused); check base_url",
        ),
        (
            "Salesforce login: cannot connect to https://10.0.0.7:8443 (connection refused)",
            "Salesforce login: cannot connect to https://10.0.0.7:8443 (connection refused)",
        ),
        # the path after it may hold a record id: folded as before
        (
            "HTTP 404 from https://api.hubapi.com/crm/v3/objects/contacts/84213",
            "HTTP 404 from https://api.hubapi.com/crm/v3/objects/contacts/<n>",
        ),
    ],
)
def test_an_address_keeps_its_host_and_port(text, folded):
    """`hub push` against a stopped CRM printed "cannot connect to https://<n>:<n>" and
    "http://127.0.0.1:<n>": the one thing the user must check (base_url, the domain) was folded
    away as if it were a record id."""
    assert normalize_error(text) == folded
