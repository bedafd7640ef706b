"""The `api:` section: validated at start-up, secrets from the environment and never printed."""

from __future__ import annotations

import pytest

from hub.config import parse_settings
from hub.console.passwords import hash_password, verify_password
from hub.errors import ConfigError


def test_defaults_need_no_api_section():
    s = parse_settings({})
    assert s.api.tokens == [] and s.api.embedded is False and s.api.webhook_max_age == 300


def test_tokens_come_from_the_environment_and_stay_secret(monkeypatch):
    monkeypatch.setenv("HUB_API_TOKEN", "t" * 32)
    s = parse_settings({"api": {"tokens": [{"name": "web", "token": "${HUB_API_TOKEN}", "scopes": ["decide"]}]}})
    assert s.api.tokens[0].token.get_secret_value() == "t" * 32
    assert "t" * 32 not in repr(s) and "t" * 32 not in s.model_dump_json()


def test_every_bad_key_is_named():
    with pytest.raises(ConfigError) as exc:
        parse_settings(
            {
                "api": {
                    "tokens": [{"name": "x", "token": "short", "scopes": ["root"]}],
                    "users": [{"username": "ops", "password_hash": "plaintext"}],
                    "session_secret": "too-short",
                    "webhook_max_ag": 10,
                }
            }
        )
    paths = {p for p, _ in exc.value.problems}
    assert {
        "api.tokens[0].token",
        "api.tokens[0].scopes[0]",
        "api.users[0].password_hash",
        "api.session_secret",
        "api.webhook_max_ag",
    } <= paths
    assert "plaintext" not in str(exc.value) and "short" not in str(exc.value).replace("too-short", "")


def test_one_token_in_two_entries_is_refused_without_printing_it(monkeypatch):
    """Found by walk2: the same secret under a decide and an admin entry was accepted, and the
    entry listed last gave it its scopes, so a site's decide-only token could approve pushes."""
    monkeypatch.setenv("HUB_API_TOKEN_SITE", "s" * 32)
    tokens = [
        {"name": "site-backend", "token": "${HUB_API_TOKEN_SITE}", "scopes": ["decide"]},
        {"name": "ops", "token": "${HUB_API_TOKEN_SITE}", "scopes": ["admin"]},
    ]
    with pytest.raises(ConfigError) as exc:
        parse_settings({"api": {"tokens": tokens}})
    assert "'site-backend' and 'ops' have the same token" in str(exc.value)
    assert "Value error" not in str(exc.value)  # pydantic's name for the exception, not a word to the reader
    assert "s" * 32 not in str(exc.value)


def test_password_hashes_round_trip():
    h = hash_password("s3cret", iterations=1000)
    assert verify_password("s3cret", h) and not verify_password("s3cret!", h)
    assert not verify_password("s3cret", "pbkdf2_sha256$x$y$z")
