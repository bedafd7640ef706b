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
    assert "hub connectors setup" not in out.stdout  # the sample enables no connector yet
    assert run_hub("init", str(path)).returncode == 2  # refuses to overwrite


def test_validate_names_the_setup_step_once_a_connector_is_enabled(tmp_path):
    """A CRM refuses every push until the hub's fields exist: the next step is said, not found in a log."""
    path = tmp_path / "hub.yaml"
    assert run_hub("init", str(path)).returncode == 0
    text = path.read_text().replace(
        "connectors: {}\n", "connectors:\n  crm:\n    type: hubspot\n    settings: {access_token: pat-na1-0000}\n", 1
    )
    path.write_text(text)
    out = run_hub("config", "validate", "-c", str(path))
    assert out.returncode == 0, out.stderr
    said = " ".join(out.stdout.split())
    assert f"hub migrate -c {path}" in said and f"hub connectors setup -c {path}" in said


def test_validate_says_only_the_steps_still_to_do(tmp_path, redis_url):
    """`hub config validate` always said "Next: hub migrate ..., then hub connectors setup ...",
    on a store migrated and set up long ago too. It now reads the store (never a CRM: it stays
    fast): a new store gets both steps, a migrated one only setup, one whose connectors passed
    their last check nothing, and an unreachable one is said to be unread."""
    from typer.testing import CliRunner

    from hub.cli import app
    from hub.models import CheckReport
    from hub.store import Store
    from hub.store.queries import save_check

    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    cfg = hub_config(tmp_path, store_url, redis_url)

    def said(path=cfg) -> str:
        res = CliRunner().invoke(app, ["config", "validate", "-c", str(path)], terminal_width=300)
        assert res.exit_code == 0, res.output
        return " ".join(res.stdout.split())

    new = said()
    assert f"hub migrate -c {cfg}" in new and f"hub connectors setup -c {cfg}" in new, new
    assert not (tmp_path / "hub.db").exists()  # validate created no store
    store = Store(store_url, auto_migrate=True)
    migrated = said()
    assert "hub migrate" not in migrated and f"hub connectors setup -c {cfg}" in migrated, migrated
    with store.begin() as conn:
        save_check(conn, "crm", CheckReport(ok=True))
    store.dispose()
    done = said()
    assert "hub migrate" not in done and "hub connectors setup" not in done and "nothing left" in done, done
    (tmp_path / "down").mkdir()
    down = hub_config(tmp_path / "down", "postgresql+psycopg://postgres@127.0.0.1:1/hub", redis_url)
    unread = said(down)
    assert "Checked the file only" in unread and "127.0.0.1:1" in unread, unread


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
            "store_url": f"postgresql://hub:${{{SECRET_ENV}:-x}}@db.example/hub",
            "decision": {"rules": [{"name": "r", "reason": "costs $${PRICE} today"}]},
            "api": {"public_url": "https://x.example/$${not_expanded}"},
        }
    )
    assert s.decision.rules[0].reason == "costs ${PRICE} today"
    assert s.api.public_url == "https://x.example/${not_expanded}"
    assert s.store_url == f"postgresql://hub:{SECRET}@db.example/hub"  # settings still read the environment


def test_config_validate_exits_2_naming_the_key_of_a_reference_in_a_reason(tmp_path):
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({"decision": {"rules": [{"name": "r", "reason": f"${{{SECRET_ENV}}}"}]}}))
    out = run_hub("config", "validate", "-c", str(path), env={SECRET_ENV: SECRET})
    assert out.returncode == 2 and "decision.rules[0].reason" in out.stderr
    assert SECRET not in out.stdout + out.stderr


@pytest.mark.parametrize(
    ("raw", "path", "words"),
    [
        # the quiet window instead of the send window: no hour was allowed, every mail at midnight
        ({"decision": {"engine": {"quiet_hours": [22, 7]}}}, "decision.engine.quiet_hours", "earliest first"),
        ({"decision": {"engine": {"quiet_hours": [6, 30]}}}, "decision.engine.quiet_hours", "0-23"),
        # a password holding '@': the driver took its tail for the host and every error printed it
        ({"store_url": "postgresql://hub:Pa55@Zq9x@127.0.0.1/hub"}, "store_url", "%40"),
        ({"broker_url": "redis://:Pa55@Zq9x@127.0.0.1:6379/0"}, "broker_url", "%40"),
        ({"store_url": "postgresql://hub@127.0.0.1:notaport/hub"}, "store_url", "not a database URL"),
        ({"broker_url": "redis://127.0.0.1:port/0"}, "broker_url", "not a number"),
    ],
)
def test_values_that_validated_and_then_misbehaved_are_refused_by_key_path(raw, path, words):
    with pytest.raises(ConfigError) as err:
        parse_settings(raw)
    ((where, message),) = err.value.problems
    assert where == path and words in message
    assert "Zq9x" not in message  # no piece of the password


def test_a_rule_action_naming_no_configured_connector_is_refused(tmp_path):
    """A typo validated, and the action's writes matched no record: 0 pushes, exit 0."""
    cfg = yaml.safe_load(hub_config(tmp_path, "sqlite:///hub.db", "redis://127.0.0.1:6379/0").read_text())
    cfg["decision"]["rules"][1]["actions"][0]["connector"] = "crn"
    with pytest.raises(ConfigError) as err:
        parse_settings(cfg)
    assert err.value.problems == [
        ("decision.rules[1].actions[0].connector", "unknown connector 'crn' (configured: crm)")
    ]
    cfg["decision"]["rules"][1]["actions"][0]["connector"] = "crm"
    assert parse_settings(cfg).decision.rules[1].actions[0].connector == "crm"


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path):
    """YAML keeps the last of two equal keys without a word: a whole connector was gone."""
    path = tmp_path / "hub.yaml"
    path.write_text(
        "connectors:\n  crm:\n    type: hubspot\n  crm:\n    type: salesforce\n"
        "decision:\n  rules: []\ndecision:\n  policy: rules\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert err.value.problems == [
        ("connectors.crm", "defined twice (lines 2 and 4); keep one"),
        ("decision", "defined twice (lines 6 and 8); keep one"),
    ]
    result = run_hub("config", "validate", "--config", str(path))
    assert result.returncode == 2 and "connectors.crm: defined twice" in result.stderr + result.stdout


def test_an_unknown_event_type_in_redecide_on_is_refused():
    """``form_sumbit`` matched no event, and nobody was decided again after a form."""
    with pytest.raises(ConfigError) as err:
        parse_settings({"api": {"redecide_on": ["form_sumbit"]}})
    ((path, message),) = err.value.problems
    assert path == "api.redecide_on" and "form_sumbit" in message and "form_submit" in message


def test_a_public_url_that_is_no_url_is_refused():
    """HubSpot signs the URL it called with ``api.public_url`` as its base: garbage there made
    every signed webhook fail its check, and it validated."""
    with pytest.raises(ConfigError) as err:
        parse_settings({"api": {"public_url": "hub.example.com/hooks"}})
    ((path, message),) = err.value.problems
    assert path == "api.public_url" and "http(s) URL" in message
    assert (
        parse_settings({"api": {"public_url": "https://hub.example.com"}}).api.public_url == "https://hub.example.com"
    )


@pytest.mark.parametrize(
    "raw, path, near",
    [
        ({"brokr_url": "redis://x"}, "brokr_url", "broker_url"),
        ({"decision": {"chunk_sise": 5}}, "decision.chunk_sise", "chunk_size"),
        ({"decision": {"engine": {"holdout_shar": 0.1}}}, "decision.engine.holdout_shar", "holdout_share"),
        (
            {"decision": {"actions": [{"id": "a", "kind": "wait", "chanel": "email"}]}},
            "decision.actions[0].chanel",
            "channel",
        ),
        (
            {"connectors": {"crm": {"type": "hubspot", "settings": {"acess_token": "x"}}}},
            "connectors.crm.settings.acess_token",
            "access_token",
        ),
    ],
)
def test_a_misspelled_key_names_the_nearest_valid_one(raw, path, near):
    with pytest.raises(ConfigError) as exc:
        parse_settings(raw)
    said = dict(exc.value.problems)
    assert f"did you mean {near!r}?" in said[path], said


def test_a_key_like_no_valid_one_gets_no_guess():
    with pytest.raises(ConfigError) as exc:
        parse_settings({"decision": {"zebra": 1}})
    assert "did you mean" not in dict(exc.value.problems)["decision.zebra"]


def test_an_unset_variable_is_the_one_problem_named_at_its_key(monkeypatch):
    """Not also the validation error of the empty value it left behind."""
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    raw = {
        "connectors": {
            "wh": {
                "type": "warehouse",
                "receives": [],
                "settings": {"url": "${WAREHOUSE_URL}", "contacts": {"table": "t"}},
            }
        }
    }
    with pytest.raises(ConfigError) as exc:
        parse_settings(raw)
    at_url = [m for p, m in exc.value.problems if p == "connectors.wh.settings.url"]
    assert len(at_url) == 1 and "WAREHOUSE_URL is not set" in at_url[0], exc.value.problems


def test_the_sample_shows_how_to_turn_on_the_api_and_console(tmp_path):
    """`hub serve` answers 401 and shows an off console until api: is set; the sample says how."""
    path = tmp_path / "hub.yaml"
    assert run_hub("init", str(path)).returncode == 0
    text = path.read_text()
    assert "# api:" in text and "python -m hub.console.passwords" in text and "hub/api/README.md" in text
