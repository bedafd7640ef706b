"""hub.yaml problems name the key a marketing-ops user wrote and say what is allowed."""

from __future__ import annotations

import pytest

from hub.config import parse_settings
from hub.errors import ConfigError


def problems(raw: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as exc:
        parse_settings(raw)
    return dict(exc.value.problems)


def test_a_bad_mapping_key_is_named_without_pydantics_key_marker():
    got = problems({"governance": {"kill_switches": {"nba": True}}})
    assert list(got) == ["governance.kill_switches.nba"]
    assert "next_best_action" in got["governance.kill_switches.nba"]


def test_an_autonomy_entry_for_an_unknown_action_names_its_key_and_the_catalog():
    got = problems({"governance": {"autonomy": {"actions": {"sales_outrech": "needs_approval"}}}})
    msg = got["governance.autonomy.actions.sales_outrech"]
    assert "sales_outreach" in msg and "wait" in msg


def test_a_repeated_action_id_is_named_at_the_repeat():
    actions = [{"id": "nurture", "kind": "email"}, {"id": "nurture", "kind": "email"}, {"id": "wait", "kind": "wait"}]
    got = problems({"decision": {"actions": actions}})
    assert list(got) == ["decision.actions[1].id"]
    assert "'nurture'" in got["decision.actions[1].id"] and "decision.actions[0]" in got["decision.actions[1].id"]


def test_a_repeated_owner_id_is_named_at_the_repeat():
    got = problems({"decision": {"owners": [{"id": "7"}, {"id": "8"}, {"id": "7"}]}})
    assert list(got) == ["decision.owners[2].id"]


def test_an_email_action_off_email_reads_as_english():
    got = problems(
        {"decision": {"actions": [{"id": "x", "kind": "email", "channel": "sms"}, {"id": "w", "kind": "wait"}]}}
    )
    assert got["decision.actions[0].channel"].startswith("an email action is sent by e-mail")


def test_a_content_variant_given_twice_is_refused():
    """Learning credits the first of two equal names, so the second was drawn and never learned."""
    got = problems({"decision": {"content": {"subject": ["question", "benefit", "question"]}}})
    assert "question" in got["decision.content.subject"]


def test_a_catalog_action_may_not_overwrite_what_the_hub_writes_per_decision():
    """An action's `fields` were laid over the hub's own: `next_best_action: other` told the CRM
    another action than the one logged and learned, `reason` hid every explanation, and
    `best_channel: email` overrode the consent-checked channel of an opted-out contact."""
    actions = [
        {"id": "nurture", "kind": "email", "fields": {"next_best_action": "other", "campaign": "q4"}},
        {"id": "call", "kind": "sales_outreach", "fields": {"best_channel": "email"}},
        {"id": "wait", "kind": "wait"},
    ]
    got = problems({"decision": {"actions": actions}})
    assert set(got) == {"decision.actions[0].fields.next_best_action", "decision.actions[1].fields.best_channel"}
    assert "writes next_best_action itself" in got["decision.actions[0].fields.next_best_action"]
    parse_settings({"decision": {"actions": [actions[0] | {"fields": {"campaign": "q4"}}, actions[2]]}})
