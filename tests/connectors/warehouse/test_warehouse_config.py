"""Warehouse settings: bad values name their key; the URL's password is never shown."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.config import parse_settings
from hub.errors import ConfigError

PASSWORD = "s3cr3t-Pa55word"


def config(**settings) -> dict:
    base = {"url": f"postgresql+psycopg://hub:{PASSWORD}@127.0.0.1:5432/nowhere", "contacts": {"table": "people"}}
    return {"connectors": {"wh": {"type": "warehouse", "receives": [], "settings": {**base, **settings}}}}


def problems(raw: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_settings(raw)
    return str(info.value)


def test_a_good_config_validates():
    settings = parse_settings(
        config(events={"query": "select * from events;"}, decisions_table="analytics.hub_decisions")
    )
    entry = settings.connectors["wh"]
    assert entry.type == "warehouse" and entry.settings["decisions_table"] == "analytics.hub_decisions"


def test_bad_values_name_their_key_path():
    msg = problems(config(contacts={"table": "people", "query": "select 1"}))
    assert "connectors.wh.settings.contacts" in msg and "exactly one of `table` or `query`" in msg
    msg = problems(config(contacts={"table": "people", "fields": {"shoe_size": "s"}}))
    assert "connectors.wh.settings.contacts.fields" in msg and "shoe_size" in msg
    msg = problems(config(events={"table": "e", "type_map": {"x": "purchase"}}))
    assert "connectors.wh.settings.events.type_map" in msg and "purchase" in msg
    msg = problems(config(contacts={"query": "delete from people"}))
    assert "must be a SELECT" in msg


@given(st.text(min_size=1, max_size=40).filter(lambda s: "://" not in s))
def test_a_bad_url_is_refused_without_echoing_it(url):
    raw = config()
    raw["connectors"]["wh"]["settings"]["url"] = url + PASSWORD
    msg = problems(raw)
    assert "connectors.wh.settings.url" in msg
    assert PASSWORD not in msg


def test_an_unescaped_at_in_the_password_is_refused_without_echoing_it():
    """SQLAlchemy reads the host from after the first '@' of ``Winter@2026xyz@host``, so the
    driver's "cannot resolve host '2026xyz@127.0.0.1'" printed and stored the password's tail."""
    raw = config()
    raw["connectors"]["wh"]["settings"]["url"] = "postgresql+psycopg://hub:Winter@2026xyz@127.0.0.1:5432/nowhere"
    msg = problems(raw)
    assert "connectors.wh.settings.url" in msg and "%40" in msg
    assert "2026xyz" not in msg and "Winter" not in msg


def test_a_driver_message_never_carries_a_piece_of_the_password():
    from connectors.warehouse.client import redact_credentials

    url = "postgresql+psycopg://hub:Winter@2026xyz@127.0.0.1:5432/nowhere"
    said = "failed to resolve host '2026xyz@127.0.0.1' for user hub (password Winter@2026xyz)"
    clean = redact_credentials(said, url)
    assert "2026xyz" not in clean and "Winter" not in clean and "user hub" in clean


def test_the_password_never_appears_in_check_or_errors():
    from hub.plugins import build_plugin_manager

    settings = parse_settings(config())  # database `nowhere` does not exist
    plugins = build_plugin_manager()
    wh = plugins.build("wh", settings.connectors["wh"])
    report = wh.check()
    assert not report.ok and report.problems
    text = repr(report) + repr(wh.settings) + str(wh.settings)
    assert PASSWORD not in text
    wh.close()


def test_the_readme_example_validates(monkeypatch):
    import re
    from pathlib import Path

    import yaml

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Warehouse (`type: warehouse`", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    monkeypatch.setenv("WAREHOUSE_URL", f"postgresql+psycopg://hub:{PASSWORD}@db/analytics")
    settings = parse_settings(yaml.safe_load(block))
    assert settings.connectors["warehouse"].type == "warehouse"
