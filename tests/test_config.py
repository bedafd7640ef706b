"""hub.yaml validation: every problem with its key path, env interpolation, secrets kept secret."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.config import load_settings, parse_settings
from hub.errors import ConfigError
from tests.conftest import hub_config
from tests.integration.workers import HUB


def run_hub(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    import os

    from tests.conftest import ROOT

    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([HUB, *args], capture_output=True, text=True, timeout=60, env=full_env, cwd=cwd)


def test_init_writes_a_sample_that_validates(tmp_path):
    path = tmp_path / "hub.yaml"
    assert run_hub("init", str(path)).returncode == 0
    out = run_hub("config", "validate", "-c", str(path))
    assert out.returncode == 0, out.stderr
    assert run_hub("init", str(path)).returncode == 2  # refuses to overwrite


def test_broken_file_names_every_bad_key_and_exits_2(tmp_path):
    bad = {
        "store_url": 5,
        "brokr_url": "redis://x",
        "plugins": ["tests.plugins.memory_crm"],
        "connectors": {
            "crm": {"type": "memory_crm", "settings": {"redis_url": "redis://x", "page_size": 0, "colour": "red"}},
            "other": {"type": "salesforse"},
            "Bad-Name": {"type": "memory_crm"},
        },
        "decision": {"rules": [{"name": "r", "when": "pageviews > 3", "actions": [{"kind": "assign_owner"}]}]},
        "push": {"max_attempts": 0},
    }
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(bad))
    out = run_hub("config", "validate", "-c", str(path))
    assert out.returncode == 2
    for key in (
        "store_url:",
        "brokr_url: unknown key",
        "connectors.crm.settings.page_size:",
        "connectors.crm.settings.colour: unknown key",
        "connectors.other.type: unknown connector type 'salesforse'",
        "connectors:",  # the bad name
        "decision.rules[0].when:",
        "decision.rules[0].actions[0]:",
        "push.max_attempts:",
    ):
        assert key in out.stderr, f"{key!r} missing from:\n{out.stderr}"


def test_env_interpolation_and_missing_variable_names_its_path(tmp_path, monkeypatch):
    path = hub_config(
        tmp_path, "sqlite:///x.db", "redis://127.0.0.1:6379/13", **{"connectors.crm.settings.api_token": "${CRM_TOKEN}"}
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert exc.value.problems[0][0] == "connectors.crm.settings.api_token"
    assert "CRM_TOKEN is not set" in exc.value.problems[0][1]
    monkeypatch.setenv("CRM_TOKEN", "s3cr3t-t0ken")
    settings = load_settings(path)
    assert settings.connectors["crm"].settings["api_token"] == "s3cr3t-t0ken"


def test_secrets_never_appear_in_cli_output(tmp_path):
    secret = "pat-na1-SUPERSECRET-9f8e7d"
    path = hub_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'h.db'}",
        "redis://127.0.0.1:6379/13",
        **{"connectors.crm.settings.api_token": "${CRM_TOKEN}", "connectors.crm.settings.page_size": -1},
    )
    bad = run_hub("config", "validate", "-c", str(path), env={"CRM_TOKEN": secret})
    assert bad.returncode == 2 and "page_size" in bad.stderr
    assert secret not in bad.stdout + bad.stderr
    cfg = yaml.safe_load(path.read_text())
    cfg["connectors"]["crm"]["settings"]["page_size"] = 10
    path.write_text(yaml.safe_dump(cfg))
    for args in (("config", "validate"), ("connectors", "list"), ("status",)):
        out = run_hub(*args, "-c", str(path), env={"CRM_TOKEN": secret})
        assert secret not in out.stdout + out.stderr, args


def test_missing_file_says_what_to_do(tmp_path):
    out = run_hub("config", "validate", "-c", str(tmp_path / "nope.yaml"))
    assert out.returncode == 2 and "hub init" in out.stderr


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
        max_leaves=10,
    )
)
def test_any_yaml_document_is_accepted_or_refused_with_key_paths(doc):
    from hub.plugins import HubPlugins

    try:
        parse_settings(doc, plugins=HubPlugins())
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) and isinstance(m, str) and m for p, m in exc.problems)


SECRET_ENV = "HUB_TEST_SESSION_SECRET_XYZ"
SECRET = "s3ss10n-secret-value-that-must-not-leak-0123"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"decision": {"rules": [{"name": "r", "reason": f"${{{SECRET_ENV}}}"}]}}, "decision.rules[0].reason"),
        (
            {
                "decision": {
                    "rules": [
                        {"name": "r", "actions": [{"kind": "set_fields", "fields": {"note": f"x ${{{SECRET_ENV}}}"}}]}
                    ]
                }
            },
            "decision.rules[0].actions[0].fields.note",
        ),
        (
            {
                "decision": {
                    "actions": [
                        {"id": "nba", "kind": "email", "fields": {"hub_note": f"${{{SECRET_ENV}:-x}}"}},
                        {"id": "wait", "kind": "wait"},
                    ]
                }
            },
            "decision.actions[0].fields.hub_note",
        ),
        ({"connectors": {}, "decision": {"rules": [{"name": f"${{{SECRET_ENV}}}"}]}}, "decision.rules[0].name"),
    ],
)
def test_env_references_are_refused_in_text_that_is_pushed_or_shown(monkeypatch, raw, key):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with pytest.raises(ConfigError) as exc:
        parse_settings(raw)
    assert [p for p, _ in exc.value.problems] == [key]
    assert "$${" in exc.value.problems[0][1] and SECRET not in str(exc.value.problems)


def test_a_doubled_dollar_is_a_literal_reference_anywhere(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    s = parse_settings(
        {
            "store_url": f"${{{SECRET_ENV}:-sqlite:///x.db}}",
            "decision": {"rules": [{"name": "r", "reason": "costs $${PRICE} today"}]},
            "api": {"public_url": "https://x.example/$${not_expanded}"},
        }
    )
    assert s.decision.rules[0].reason == "costs ${PRICE} today"
    assert s.api.public_url == "https://x.example/${not_expanded}"
    assert s.store_url == SECRET  # settings still read the environment


def test_config_validate_exits_2_naming_the_key_of_a_reference_in_a_reason(tmp_path):
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({"decision": {"rules": [{"name": "r", "reason": f"${{{SECRET_ENV}}}"}]}}))
    out = run_hub("config", "validate", "-c", str(path), env={SECRET_ENV: SECRET})
    assert out.returncode == 2 and "decision.rules[0].reason" in out.stderr
    assert SECRET not in out.stdout + out.stderr
