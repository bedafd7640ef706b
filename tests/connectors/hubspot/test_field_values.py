"""Field values as HubSpot takes them: text within its 65,536 characters, numbers and options
without surrounding spaces; the sandbox refuses what HubSpot refuses."""

from __future__ import annotations

import pytest

from connectors.hubspot.client import HubSpotRequestError
from connectors.hubspot.mapping import field_value
from hub.models import ActionKind
from hub.pipeline.diff import effective_payload
from tests.connectors.hubspot.conftest import drain
from tests.connectors.hubspot.test_push import live, req

STRING_MAX = 65_536  # HubSpot properties guide: the most characters a string property holds


def _raw_update(connector, rid: str, props: dict[str, str]) -> None:
    """One batch update through the vendor client, past the connector's own formatting."""
    api = connector.client.api.crm.contacts.batch_api
    body = {"inputs": [{"id": rid, "properties": props}]}
    connector.client.call("contacts.batch_update", api.update, batch_input_simple_public_object_batch_input=body)


def test_the_sandbox_refuses_text_longer_than_hubspot_holds(world, connector):
    connector.ensure_schema()
    rid = live(world)[0]
    with pytest.raises(HubSpotRequestError) as exc:
        _raw_update(connector, rid, {"hub_reason": "x" * (STRING_MAX + 1)})
    assert exc.value.status == 400 and "hub_reason" in str(exc.value.body.get("message"))
    _raw_update(connector, rid, {"hub_reason": "x" * STRING_MAX})  # at the limit: taken


def test_the_sandbox_refuses_an_option_or_number_with_spaces_around_it(world, connector):
    connector.ensure_schema()
    rid = live(world)[0]
    for props in ({"hub_best_channel": "email "}, {"hub_lead_score": " 80"}):
        with pytest.raises(HubSpotRequestError) as exc:
            _raw_update(connector, rid, props)
        assert "LEADING_TRAILING_WHITESPACE" in str(exc.value.body.get("message"))
    _raw_update(connector, rid, {"hub_content_subject": " spaced text stays "})  # string: taken


def test_a_reason_longer_than_hubspot_holds_is_clipped_with_an_ellipsis_not_refused(world, connector):
    connector.ensure_schema()
    rid = live(world)[0]
    long = "é" * (STRING_MAX + 10)  # two bytes a character: the cut is counted in characters
    res = connector.push([req(1, rid, fields={"reason": long, "content_body": "b" * (STRING_MAX + 1)})])
    assert res[0].status == "ok", res[0].reason
    props = world.hubspot.records[rid]["properties"]
    assert len(props["hub_reason"]) == STRING_MAX and props["hub_reason"] == "é" * (STRING_MAX - 1) + "…"
    assert len(props["hub_content_body"]) == STRING_MAX and props["hub_content_body"].endswith("b…")
    # text within the limit is written as it is, spaces and all
    assert field_value("content_subject", "  Hello  ") == "  Hello  "
    assert field_value("reason", "a" * STRING_MAX) == "a" * STRING_MAX


def test_an_option_and_a_number_with_spaces_land_trimmed(world, connector):
    connector.ensure_schema()
    rid = live(world)[0]
    res = connector.push([req(1, rid, fields={"best_channel": " sales_call ", "lead_score": "80 "})])
    assert res[0].status == "ok", res[0].reason
    props = world.hubspot.records[rid]["properties"]
    assert (props["hub_best_channel"], props["hub_lead_score"]) == ("sales_call", "80")


def test_a_text_that_reads_as_the_same_number_is_still_a_change(world, connector):
    """Text is diffed as text: a content variant "01" over the CRM's "1" (or "1e3" over
    "1000") was taken for the same number and never written."""
    connector.ensure_schema()
    rid = live(world)[0]
    written = {"content_subject": "1", "content_cta": "1000", "lead_score": 80.0}
    assert connector.push([req(1, rid, fields=written)])[0].status == "ok"
    items, _, _, _ = drain(connector.pull_contacts(None))
    read = next(c for c in items if c.identities[0].external_id == rid).crm_fields
    wanted = {"fields": {"content_subject": "01", "content_cta": "1e3", "lead_score": 80}}
    changed = {"fields": {"content_subject": "01", "content_cta": "1e3"}}
    assert effective_payload(ActionKind.SET_FIELDS, wanted, read, None, None) == changed


def test_a_score_that_is_no_finite_number_fails_its_record_alone_before_the_call(world, connector):
    """A NaN score went out as "nan": HubSpot refuses it, and with it the whole batch."""
    connector.ensure_schema()
    a, b, c = live(world)[:3]
    res = connector.push(
        [
            req(1, a, fields={"lead_score": float("nan")}),
            req(2, b, fields={"expected_value": "lots"}),
            req(3, c, fields={"lead_score": 80.0, "expected_value": "1250.5"}),
        ]
    )
    assert [r.status for r in res] == ["failed", "failed", "ok"]
    assert "is not a finite number" in res[0].reason and "'lots'" in res[1].reason
    props = world.hubspot.records[c]["properties"]
    assert (props["hub_lead_score"], props["hub_expected_value"]) == ("80", "1250.5")
    assert world.hubspot.records[a]["properties"].get("hub_lead_score") != "nan"
