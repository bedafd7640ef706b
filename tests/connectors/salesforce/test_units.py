"""Pure parts: settings, cursor, and mapping between Salesforce rows and hub models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.cursor import ObjectCursor, StreamCursor
from connectors.salesforce.mapping import (
    activity_type,
    default_sf_field,
    field_definition,
    parse_sf_datetime,
    record_to_activity,
    record_to_contact,
    sf_field_names,
    to_sf_value,
)
from connectors.salesforce.objects import PREFIX_TO_IDENTITY
from hub.errors import FatalConnectorError
from hub.fields import HUB_FIELDS
from hub.models import ActivityType


def test_settings_need_one_complete_login_and_hide_secrets() -> None:
    with pytest.raises(ValidationError, match="security_token"):
        SalesforceSettings(username="u", password="p")
    s = SalesforceSettings(username="u", password="very-secret", security_token="tok-secret")
    assert s.auth_mode() == "password"
    assert "very-secret" not in repr(s) and "tok-secret" not in s.model_dump_json()
    jwt = SalesforceSettings(username="u", consumer_key="ck", privatekey="-----BEGIN KEY-----")
    assert jwt.auth_mode() == "jwt"
    assert SalesforceSettings(session_id="00D!x", instance_url="https://x").auth_mode() == "session"
    with pytest.raises(ValidationError):
        SalesforceSettings(session_id="00D!x", instance_url="https://x", surprise=1)


def test_hub_fields_get_custom_field_names_unless_mapped() -> None:
    names = sf_field_names({"lead_score": "ns__Score__c"})
    assert names["next_best_action"] == "Hub_Next_Best_Action__c"
    assert names["lead_score"] == "ns__Score__c"
    assert set(names) == {f.name for f in HUB_FIELDS}
    assert all(len(default_sf_field(f.name)) <= 40 for f in HUB_FIELDS)  # Salesforce's API name limit


def test_field_definitions_carry_the_right_metadata_type() -> None:
    by = {f.name: f for f in HUB_FIELDS}
    assert field_definition(by["lead_score"], "Contact.X__c")["type"] == "Number"
    assert field_definition(by["best_send_time"], "Contact.X__c")["type"] == "DateTime"
    assert field_definition(by["reason"], "Contact.X__c")["type"] == "LongTextArea"
    text = field_definition(by["next_best_action"], "Contact.Hub_Next_Best_Action__c")
    assert (text["type"], text["length"], text["fullName"]) == ("Text", 255, "Contact.Hub_Next_Best_Action__c")


def test_cursor_dedups_the_overlap_and_round_trips() -> None:
    c = ObjectCursor().advance([("a", 1000), ("b", 2000)], overlap_ms=1500)
    assert c.since_ms == 2000 and c.seen == {"a": 1000, "b": 2000}
    assert not c.is_new("b", 2000) and c.is_new("b", 2500) and c.is_new("z", 1900)
    later = c.advance([("c", 5000)], overlap_ms=1500)
    assert later.seen == {"c": 5000}  # older ids fall out of the overlap
    s = StreamCursor(objects={"Lead": later})
    assert StreamCursor.loads(s.dumps()).objects["Lead"] == later


@pytest.mark.parametrize("raw", ["{", "[]", '{"v": 9, "o": {}}', '{"v": 1, "o": {"Lead": {"s": "x", "i": {}}}}'])
def test_a_foreign_cursor_is_refused(raw: str) -> None:
    with pytest.raises(FatalConnectorError, match="reset"):
        StreamCursor.loads(raw)


def test_contact_with_account_firmographics_and_hub_fields() -> None:
    rec = {
        "Id": "003A",
        "SystemModstamp": "2026-01-05T10:00:00.000+0000",
        "FirstName": "Ada",
        "LastName": "L",
        "Email": "ADA@x.com",
        "OwnerId": "005A",
        "HasOptedOutOfEmail": True,
        "Account": {
            "Name": "X",
            "Industry": "Tech",
            "NumberOfEmployees": 50,
            "AnnualRevenue": 1e6,
            "BillingCountry": "FR",
        },
        "Hub_Next_Best_Action__c": "call",
        "Hub_Best_Send_Time__c": "2026-01-06T09:00:00.000+0000",
    }
    hub = {"Hub_Next_Best_Action__c": "next_best_action", "Hub_Best_Send_Time__c": "best_send_time"}
    c = record_to_contact("sf", "contact", rec, hub)
    assert c.identities[0].key() == ("sf", "contact", "003A")
    assert (c.company.industry, c.company.employees, c.company.country) == ("Tech", 50, "FR")
    assert c.consent.email_opt_out and c.owner == "005A" and c.primary_email == "ada@x.com"
    assert c.crm_fields == {"next_best_action": "call", "best_send_time": "2026-01-06T09:00:00+00:00"}
    assert c.updated_at == datetime(2026, 1, 5, 10, tzinfo=UTC) and c.lists is None


def test_lead_uses_its_own_company_columns() -> None:
    rec = {
        "Id": "00QA",
        "SystemModstamp": "2026-01-05T10:00:00Z",
        "Company": "Y",
        "Industry": "Retail",
        "Country": "DE",
    }
    c = record_to_contact("sf", "lead", rec, {})
    assert (c.company.name, c.company.industry, c.company.country, c.lifecycle_stage) == ("Y", "Retail", "DE", "lead")


@pytest.mark.parametrize(
    "rec",
    [
        {"SystemModstamp": "2026-01-05T10:00:00Z"},
        {"Id": "003A", "SystemModstamp": "not a date"},
        {"Id": "003A", "SystemModstamp": "2026-01-05T10:00:00Z", "Email": 12345},
    ],
)
def test_malformed_rows_raise_value_errors(rec: dict) -> None:
    with pytest.raises(ValueError):
        record_to_contact("sf", "contact", rec, {})


def test_activities_map_by_subtype_and_who() -> None:
    assert activity_type("Task", {"TaskSubtype": "Email"}) is ActivityType.EMAIL_SENT
    assert activity_type("Task", {"TaskSubtype": "Call"}) is ActivityType.CALL
    assert activity_type("Task", {"TaskSubtype": "Task", "Type": "Meeting"}) is ActivityType.MEETING
    assert activity_type("Task", {"TaskSubtype": "Task", "Subject": "Downloaded whitepaper"}) is ActivityType.CUSTOM
    assert activity_type("Event", {}) is ActivityType.MEETING
    a = record_to_activity(
        "sf",
        "Task",
        {"Id": "00T1", "WhoId": "00QA", "TaskSubtype": "Call", "ActivityDate": "2026-01-07"},
        PREFIX_TO_IDENTITY,
    )
    assert a is not None and a.contact_ref.key() == ("sf", "lead", "00QA") and a.external_id == "Task:00T1"
    assert a.occurred_at == datetime(2026, 1, 7, tzinfo=UTC)
    assert record_to_activity("sf", "Task", {"Id": "00T2", "WhoId": None}, PREFIX_TO_IDENTITY) is None


def test_a_task_created_on_its_date_happened_at_its_created_time() -> None:
    """ActivityDate is a date stamped midnight UTC; an e-mail Task logged at 15:00 must not read as
    sent at midnight, before the 00:00:05 decision that sent it (hub evaluate's replay)."""

    def when(**fields: str) -> datetime:
        rec = {"Id": "00T1", "WhoId": "00QA", "TaskSubtype": "Email", **fields}
        a = record_to_activity("sf", "Task", rec, PREFIX_TO_IDENTITY)
        assert a is not None
        return a.occurred_at

    assert when(ActivityDate="2026-01-07", CreatedDate="2026-01-07T15:00:00.000+0000") == datetime(
        2026, 1, 7, 15, tzinfo=UTC
    )
    # created late evening in California: the next day in UTC, still the user's 7 January
    assert when(ActivityDate="2026-01-07", CreatedDate="2026-01-08T06:30:00.000+0000") == datetime(
        2026, 1, 8, 6, 30, tzinfo=UTC
    )
    # logged three days later, or due later: the date it names
    assert when(ActivityDate="2026-01-07", CreatedDate="2026-01-10T09:00:00.000+0000") == datetime(
        2026, 1, 7, tzinfo=UTC
    )
    assert when(ActivityDate="2026-01-20", CreatedDate="2026-01-07T09:00:00.000+0000") == datetime(
        2026, 1, 20, tzinfo=UTC
    )
    assert when(CreatedDate="2026-01-07T09:00:00.000+0000") == datetime(2026, 1, 7, 9, tzinfo=UTC)


def test_values_are_coerced_for_salesforce_types() -> None:
    assert to_sf_value("lead_score", "80") == 80.0
    assert to_sf_value("best_send_time", "2026-01-06T10:00:00+02:00") == "2026-01-06T08:00:00.000Z"
    assert to_sf_value("best_send_time", 1767693600) == "2026-01-06T10:00:00.000Z"
    assert len(to_sf_value("next_best_action", "x" * 400)) == 255
    assert to_sf_value("reason", None) is None
    for bad in ("high", float("nan"), True):
        with pytest.raises(ValueError, match="lead_score"):
            to_sf_value("lead_score", bad)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_survive_coercion(x: float) -> None:
    assert to_sf_value("expected_value", x) == x


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)))
def test_datetimes_round_trip_to_the_millisecond(dt: datetime) -> None:
    back = parse_sf_datetime(to_sf_value("best_send_time", dt.isoformat()))
    assert abs((back - dt).total_seconds()) < 0.001


@given(st.text(max_size=300))
def test_strings_never_exceed_the_field(s: str) -> None:
    out = to_sf_value("content_subject", s)
    assert out is None or (isinstance(out, str) and len(out) <= 255)


_values = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.just("2026-01-05T10:00:00.000+0000"),
    st.dictionaries(
        st.sampled_from(["Name", "Industry", "NumberOfEmployees"]),
        st.one_of(st.none(), st.text(max_size=5), st.integers()),
        max_size=3,
    ),
)
_keys = st.sampled_from(
    [
        "Id",
        "SystemModstamp",
        "Email",
        "FirstName",
        "OwnerId",
        "Account",
        "NumberOfEmployees",
        "AnnualRevenue",
        "IsDeleted",
        "IsConverted",
        "Hub_Lead_Score__c",
    ]
)


@given(st.one_of(st.dictionaries(_keys, _values, max_size=11), st.lists(st.integers(), max_size=2), st.none()))
def test_any_row_becomes_an_item_a_deletion_or_a_reject(rec) -> None:
    from connectors.salesforce.connector import SalesforceConnector
    from connectors.salesforce.objects import CONTACT
    from hub.models import Contact, Page

    conn = SalesforceConnector("sf", SalesforceSettings(session_id="00D!x", instance_url="https://x"), {})
    page = Page[Contact]()
    conn._person_row(CONTACT, rec, {"Hub_Lead_Score__c": "lead_score"}, page)
    assert len(page.items) + len(page.deleted) + len(page.rejects) == 1


def test_a_bare_local_send_hour_becomes_the_next_such_instant_in_the_org_time_zone():
    from datetime import UTC, datetime

    import pytest

    from connectors.salesforce.mapping import to_sf_value

    now = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)  # 13:30 in Berlin
    assert to_sf_value("best_send_time", "14", "Europe/Berlin", now) == "2026-03-02T13:00:00.000Z"
    assert to_sf_value("best_send_time", "9:15", "Europe/Berlin", now) == "2026-03-03T08:15:00.000Z"  # tomorrow
    assert to_sf_value("best_send_time", "2026-03-02T14:00:00+01:00") == "2026-03-02T13:00:00.000Z"
    with pytest.raises(ValueError):
        to_sf_value("best_send_time", "25", "UTC", now)  # not an hour, and not a date either


def test_org_timezone_must_be_a_real_zone():
    import pytest
    from pydantic import ValidationError

    from connectors.salesforce.config import SalesforceSettings

    with pytest.raises(ValidationError, match="IANA time zone"):
        SalesforceSettings(session_id="x", instance_url="https://x.my.salesforce.com", org_timezone="Mars/Olympus")


@given(st.text(max_size=300), st.integers(min_value=1, max_value=255))
def test_strings_never_exceed_the_described_length(s: str, length: int) -> None:
    out = to_sf_value("content_subject", s, described={"type": "string", "length": length})
    assert out is None or len(out) <= length


def test_a_number_past_the_described_precision_is_refused() -> None:
    number_18_4 = {"type": "double", "precision": 18, "scale": 4}
    assert to_sf_value("expected_value", 99_999_999_999_999.5, described=number_18_4) == 99_999_999_999_999.5
    with pytest.raises(ValueError, match="expected_value"):
        to_sf_value("expected_value", 1e14, described=number_18_4)


def test_campaign_names_fit_80_characters_and_stay_apart() -> None:
    from connectors.salesforce.mapping import campaign_name

    assert campaign_name("vip") == "vip" and campaign_name("v" * 80) == "v" * 80
    a, b = campaign_name("x" * 90 + "a"), campaign_name("x" * 90 + "b")
    assert len(a) == len(b) == 80 and a != b and a == campaign_name("x" * 90 + "a")


def test_owner_ids_in_the_config_take_the_18_character_form_salesforce_reads_back() -> None:
    """A 15-character owner id was written as is and read back in 18 characters: the write was
    never seen to land (the same owner pushed again every sync) and the owner's open leads were
    never counted against max_open_leads."""
    from connectors.salesforce.mapping import id18
    from hub.config import parse_settings

    assert id18("0055g00000AbCdE") == "0055g00000AbCdEAAV"  # the checksum of upper-case positions
    assert id18("0055g00000AbCdEAAV") == "0055g00000AbCdEAAV" and id18("71001") == "71001"
    sf = {"type": "salesforce", "settings": {"instance_url": "https://x.my.salesforce.com", "session_id": "t"}}
    s = parse_settings(
        {
            "connectors": {"sf": sf},
            "decision": {
                "owners": [{"id": "0055g00000AbCdE"}, {"id": "00G5g00000QqQqQ"}],
                "rules": [{"name": "r", "actions": [{"kind": "assign_owner", "owner": "0055g00000AbCdE"}]}],
            },
        }
    )
    assert [o.id for o in s.decision.owners] == ["0055g00000AbCdEAAV", id18("00G5g00000QqQqQ")]
    assert s.decision.rules[0].actions[0].owner == "0055g00000AbCdEAAV"
    hubspot_only = parse_settings({"decision": {"owners": [{"id": "0055g00000AbCdE"}]}})
    assert hubspot_only.decision.owners[0].id == "0055g00000AbCdE"  # no Salesforce: left as written
