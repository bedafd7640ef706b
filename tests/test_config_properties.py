"""Property-based tests of the config loader on hostile values at known key paths.

The loader's promise: a bad value is refused with the exact key path that holds it, whatever
the value is; an environment value is taken literally (never interpolated twice).
"""

from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.config import parse_settings
from hub.errors import ConfigError
from tests.conftest import hub_config


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict:
    path = hub_config(tmp_path_factory.mktemp("cfg"), "sqlite:///x.db", "redis://127.0.0.1:6379/13")
    return yaml.safe_load(path.read_text())


# key path -> values that must be refused there (none of them is valid for that key)
BAD = {
    "push.max_attempts": st.integers(max_value=0) | st.text(st.characters(categories=["L"]), min_size=1),
    "push.backoff_base": st.floats(max_value=0) | st.lists(st.integers(), max_size=2),
    "celery.visibility_timeout": st.integers(max_value=0) | st.dictionaries(st.text(max_size=3), st.integers()),
    "decision.chunk_size": st.integers(min_value=10_001) | st.integers(max_value=0),
    "connectors.crm.sync_interval": st.integers(max_value=4),
    "connectors.crm.receives": st.lists(st.text(min_size=1, max_size=8).filter(lambda s: s not in KINDS), min_size=1),
    "connectors.crm.settings.page_size": st.integers(max_value=0),
    "decision.rules[0].when": st.sampled_from(["pageviews > 3", "import os", "(", "__class__", "x.y"]),
}
KINDS = {"set_fields", "add_to_list", "remove_from_list", "assign_owner"}


def _set(cfg: dict, path: str, value) -> None:
    node = cfg
    parts = path.replace("[0]", ".0").split(".")
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node.setdefault(p, {})
    node[parts[-1]] = value


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_bad_value_is_refused_at_its_own_key_path(base, data):
    path = data.draw(st.sampled_from(sorted(BAD)))
    value = data.draw(BAD[path])
    cfg = copy.deepcopy(base)
    _set(cfg, path, value)
    with pytest.raises(ConfigError) as exc:
        parse_settings(cfg)
    paths = [p for p, _ in exc.value.problems]
    assert any(p == path or p.startswith(path) for p in paths), (path, exc.value.problems)
    # only the broken key is reported: a hostile value does not cascade into unrelated errors
    assert all(p.startswith(path.split("[")[0].rsplit(".", 1)[0]) for p in paths), exc.value.problems


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=200))
def test_an_environment_value_is_taken_literally(base, monkeypatch, secret):
    monkeypatch.setenv("HUB_TEST_SECRET", secret)
    monkeypatch.setenv("HUB_TEST_OTHER", "expanded-twice")
    cfg = copy.deepcopy(base)
    cfg["connectors"]["crm"]["settings"]["api_token"] = "${HUB_TEST_SECRET}"
    settings_ = parse_settings(cfg)
    assert settings_.connectors["crm"].settings["api_token"] == secret
