"""No secret reaches output or logs: CLI commands and a real sync with secrets from ${ENV}.

The HubSpot token is the sandbox's real credential here (the sandbox refuses anything else),
so a sync that works proves the secret was used, and a scan of everything printed or logged
proves it was never shown.
"""

from __future__ import annotations

import logging

import pytest
import yaml

from hub.config import load_settings
from hub.pipeline.context import HubContext
from hub.pipeline.sync import sync_connector
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World, WorldConfig
from hub.secrets import same_secret
from hub.store import Store
from tests.test_config import run_hub

HS_TOKEN = "pat-na1-0f3c9e1a-LEAKCANARY-7d2b"
CRM_TOKEN = "memcrm-LEAKCANARY-b64c0ffee"


@pytest.fixture
def sandbox():
    with start_sandbox(World(WorldConfig(n_contacts=150, seed=3)), hubspot_token=HS_TOKEN) as sb:
        yield sb


def write_config(tmp_path, sb, redis_url: str):
    cfg = {
        "store_url": f"sqlite:///{tmp_path / 'hub.db'}",
        "broker_url": redis_url,
        "plugins": ["tests.plugins.memory_crm"],
        "connectors": {
            "hubspot": {
                "type": "hubspot",
                "settings": {"access_token": "${HS_TOKEN}", "base_url": sb.hubspot_url},
            },
            "crm": {
                "type": "memory_crm",
                "settings": {"redis_url": redis_url, "api_token": "${CRM_TOKEN}"},
            },
        },
    }
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_cli_commands_and_a_sync_never_print_or_log_a_secret(tmp_path, sandbox, redis_url, caplog, monkeypatch):
    env = {"HS_TOKEN": HS_TOKEN, "CRM_TOKEN": CRM_TOKEN}
    path = write_config(tmp_path, sandbox, redis_url)
    cfg = str(path)
    captured: list[str] = []
    for args in (
        ("config", "validate"),
        ("connectors", "list", "--check"),
        ("sync", "hubspot"),
        ("status",),
        ("push", "--dry-run"),
        ("pushes", "list"),
        ("forget", "nobody@example.com"),
    ):
        out = run_hub(*args, "-c", cfg, env=env)
        captured += [out.stdout, out.stderr]
        assert out.returncode in (0, 1), (args, out.stderr)
    assert "hubspot" in captured[2] + captured[3]  # connectors list ran and named the connector
    assert sandbox.world.log.calls, "the CLI sync reached the sandbox with the token"

    # the same sync in process, with every logger at DEBUG (SDK, urllib3, ours)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    caplog.set_level(logging.DEBUG)
    settings = load_settings(path).model_copy(update={"store_url": f"sqlite:///{tmp_path / 'fresh.db'}"})
    Store(settings.store_url, auto_migrate=True).dispose()
    ctx = HubContext.build(settings, embedded=True)
    res = sync_connector(ctx, "hubspot")
    assert res.records > 50
    captured += [repr(settings), str(settings), repr(settings.connectors)]
    captured += [repr(ctx.connector("hubspot").s), repr(ctx.connector("crm").s)]
    ctx.close()
    captured += [r.getMessage() for r in caplog.records] + [caplog.text]
    text = "\n".join(captured)
    for secret in (HS_TOKEN, CRM_TOKEN):
        assert secret not in text
        assert secret[8:24] not in text, "not even a fragment of it"


def test_a_wrong_token_is_refused_by_a_constant_time_comparison():
    assert same_secret("Bearer " + HS_TOKEN, "Bearer " + HS_TOKEN)
    assert not same_secret("Bearer " + HS_TOKEN[:-1] + "X", "Bearer " + HS_TOKEN)
    assert not same_secret(None, HS_TOKEN) and not same_secret("", HS_TOKEN)


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("postgresql://hub:S3cr/et+Pw==@db:5432/hub", "S3cr/et+Pw=="),  # base64: a '/' in the password
        ("postgresql://analyst:Winter@2026xyz@127.0.0.1/db", "2026xyz"),  # an unescaped '@'
        ("postgresql+psycopg://hub@db/hub?password=hunter2&sslmode=require", "hunter2"),
        ("redis://:pw9000@cache:6379/0?password=hunter2", "hunter2"),
    ],
)
def test_a_url_password_is_masked_however_it_is_written(value, secret):
    """What the console's Config page shows (hub/secrets.py ``masked``): the password pattern
    stopped at a '/' and never looked at the query string."""
    from hub.secrets import MASK, masked

    shown = masked({"store_url": value})["store_url"]
    assert secret not in shown and MASK in shown
    assert masked({"url": "https://example.com/a?b=c"})["url"] == "https://example.com/a?b=c"  # nothing to hide


def test_a_salesforce_session_id_is_masked():
    from hub.secrets import MASK, masked

    shown = masked({"connectors": {"sf": {"settings": {"session_id": "00D5g!AQcAQH0d", "instance_url": "https://x"}}}})
    assert shown["connectors"]["sf"]["settings"] == {"session_id": MASK, "instance_url": "https://x"}


def test_settings_that_only_share_a_secrets_prefix_are_shown():
    """The console's Config page hid ``api.session_idle_timeout`` (1800) as a secret: the pattern for
    a session id matched the start of "session_idle"."""
    from hub.secrets import MASK, masked

    shown = masked({"api": {"session_idle_timeout": 1800, "session_max_age": 28800, "session_id": "x", "sid": "y"}})
    assert shown["api"] == {"session_idle_timeout": 1800, "session_max_age": 28800, "session_id": MASK, "sid": MASK}


def test_a_yaml_syntax_error_names_the_place_but_not_the_line_that_may_hold_a_secret(tmp_path):
    """PyYAML quotes the offending line; a token pasted in place of ``${VAR}`` was printed with it."""
    path = tmp_path / "hub.yaml"
    path.write_text(
        'store_url: sqlite:///hub.db\nconnectors:\n  crm:\n    type: hubspot\n    access_token: "pat-na1-7f3e9c2b\n'
    )
    r = run_hub("config", "validate", "-c", str(path))
    assert r.returncode == 2
    assert "not valid YAML" in r.stderr + r.stdout and "line 5, column 19" in r.stderr + r.stdout
    assert "7f3e9c2b" not in r.stderr + r.stdout
