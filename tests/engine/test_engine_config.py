"""Engine configuration: the sample uses the sandbox catalog; bad catalogs fail at start-up;
`hub model list` / `hub model rollback` are thin commands over hub/pipeline/learn.py."""

from __future__ import annotations

import contextlib
from importlib import resources

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.config import DecisionSettings, parse_settings
from hub.errors import ConfigError
from hub.sandbox.catalog import ACTION_IDS
from tests.test_config import run_hub


def test_sample_config_runs_the_engine_on_the_sandbox_catalog():
    raw = yaml.safe_load(resources.files("hub").joinpath("sample.yaml").read_text(encoding="utf-8"))
    s = parse_settings(raw)
    assert s.decision.policy == "engine"
    assert tuple(a.id for a in s.decision.actions) == ACTION_IDS
    nba = {
        a.fields["next_best_action"]
        for r in s.decision.rules
        for a in r.actions
        if a.fields and "next_best_action" in a.fields
    }
    assert nba <= set(ACTION_IDS)  # the legacy rules map onto the catalog (apprentice baseline)
    assert s.decision.objective.meeting == 20 and s.decision.objective.unsubscribe == -30


def test_the_default_catalog_is_the_sandbox_catalog():
    assert tuple(a.id for a in DecisionSettings().actions) == ACTION_IDS


@pytest.mark.parametrize(
    "decision, problem",
    [
        ({"actions": [{"id": "a", "kind": "email"}]}, "wait"),
        ({"actions": [{"id": "wait", "kind": "wait"}, {"id": "wait", "kind": "wait"}]}, "unique"),
        ({"actions": [{"id": "wait", "kind": "wait", "eligible": "shoe_size > 3"}]}, "shoe_size"),
        ({"actions": [{"id": "wait", "kind": "teleport"}]}, "kind"),
        ({"engine": {"holdout_share": 0.8, "control_share": 0.5}}, "at most 1"),
        ({"engine": {"segment_values": "sometimes"}}, "decision.engine.segment_values"),
    ],
)
def test_bad_catalogs_are_rejected_with_the_reason(decision, problem):
    with pytest.raises(ConfigError) as exc:
        parse_settings({"decision": decision})
    assert problem in str(exc.value)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "kind", "value", "attribution_days", "eligible", "list"]), st.text()))
def test_any_action_entry_validates_or_fails_with_a_config_error(entry):
    with contextlib.suppress(ConfigError):
        parse_settings({"decision": {"actions": [entry, {"id": "wait", "kind": "wait"}]}})


def test_model_commands(tmp_path):
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({"store_url": f"sqlite:///{tmp_path / 'hub.db'}"}))

    def hub(*args):
        return run_hub(*args, "-c", str(path), cwd=tmp_path)

    listed = hub("model", "list")
    assert listed.returncode == 0, listed.stderr
    missing = hub("model", "rollback", "7")
    assert missing.returncode == 1 and "no version 7" in missing.stderr


def test_beat_schedules_the_learn_step_for_every_policy():
    from tasks.app import beat_schedule

    engine = parse_settings({"decision": {"learn_interval": 120}})
    assert beat_schedule(engine)["learn"]["task"] == "hub.learn"
    assert beat_schedule(engine)["learn"]["schedule"].total_seconds() == 120
    # the rules learn nothing, but approvals expire and monitoring runs in the learn step
    assert beat_schedule(parse_settings({"decision": {"policy": "rules"}}))["learn"]["task"] == "hub.learn"


@pytest.mark.parametrize("kind", ["email", "content_offer"])
def test_an_email_action_without_a_channel_is_not_sent_to_email_opt_outs(kind):
    from collections import Counter
    from datetime import UTC, datetime

    from decision.engine import EnginePolicy
    from decision.interface import ContactView
    from hub.models import Consent, Contact

    raw = {
        "decision": {
            "actions": [{"id": "spring_newsletter", "kind": kind}, {"id": "wait", "kind": "wait"}],
            "engine": {"holdout_share": 0.0},
            "rules": [
                {
                    "name": "all",
                    "actions": [{"kind": "set_fields", "fields": {"next_best_action": "spring_newsletter"}}],
                }
            ],
        }
    }
    s = parse_settings(raw)
    assert s.decision.actions[0].channel == "email"  # an e-mail kind is sent by e-mail
    views = [
        ContactView(contact=Contact(id=i, emails=[f"p{i}@x.com"], consent=Consent(email_opt_out=True)))
        for i in range(1, 41)
    ]
    decided = EnginePolicy(s.decision).decide(views, datetime(2026, 12, 7, 12, tzinfo=UTC))
    assert Counter(d.action for d in decided) == {"wait": 40}


@pytest.mark.parametrize("channel", ["none", "phone", "ads"])
def test_an_email_action_on_another_channel_is_refused_naming_the_key(channel):
    actions = [
        {"id": "wait", "kind": "wait"},
        {"id": "spring_offer", "kind": "content_offer", "channel": channel},
    ]
    with pytest.raises(ConfigError) as exc:
        parse_settings({"decision": {"actions": actions}})
    assert exc.value.problems[0][0] == "decision.actions[1].channel"
    assert "email" in exc.value.problems[0][1]


def test_model_list_says_a_changed_config_starts_a_new_model(tmp_path):
    """After a catalog change none of the listed versions decides, and nothing said why."""
    from datetime import UTC, datetime

    from hub.store import Store
    from hub.store import learning as learning_store

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = Store(url, auto_migrate=True)
    with store.begin() as conn:
        learning_store.save_snapshot(conn, "engine-0123456789", b"x", {"learned": 5}, datetime(2026, 1, 5, tzinfo=UTC))
    store.dispose()
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({"store_url": url}))
    listed = run_hub("model", "list", "-c", str(path), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    words = " ".join((listed.stdout + listed.stderr).split())
    assert "engine-0123456789" in words and "has no saved version yet" in words and "starts cold" in words
