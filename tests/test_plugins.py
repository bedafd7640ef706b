"""Plugin discovery: broken plugins are reported and skipped; good ones load."""

from __future__ import annotations

from hub.plugins import ENTRY_POINT_GROUP, build_plugin_manager


def test_broken_plugins_are_reported_and_do_not_stop_the_others():
    plugins = build_plugin_manager(
        [
            "tests.plugins.broken_import",
            "tests.plugins.not_a_connector",
            "tests.plugins.bad_hook",
            "tests.plugins.memory_crm",
        ]
    )
    errors = {p.name: p.error for p in plugins.load_errors}
    assert "import failed" in errors["tests.plugins.broken_import"]
    assert "not a hub.connector.Connector" in errors["tests.plugins.not_a_connector"]
    assert "hub_no_such_hook" in errors["tests.plugins.bad_hook"]
    assert "memory_crm" in plugins.types


def test_connectors_list_shows_errors_and_configured_instances(tmp_path):
    from tests.conftest import hub_config
    from tests.test_config import run_hub

    path = hub_config(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", "redis://127.0.0.1:6379/13")
    import yaml

    cfg = yaml.safe_load(path.read_text())
    cfg["plugins"].append("tests.plugins.broken_import")
    path.write_text(yaml.safe_dump(cfg))
    out = run_hub("connectors", "list", "-c", str(path), "--check")
    assert out.returncode == 0, out.stderr
    assert "import failed" in out.stdout and "memory_crm" in out.stdout
    assert "ok 20" in out.stdout  # the check ran and was stored with its time


def test_entry_point_group_is_the_documented_one():
    assert ENTRY_POINT_GROUP == "hub.connectors"


def test_a_connector_asked_for_by_many_threads_at_once_is_built_once(tmp_path, redis_url):
    """The API's threads (a console check, embedded syncs) share one context: two builds would
    leave one connector's sessions open and split its rate limits."""
    import threading
    import time

    from hub.config import load_settings
    from hub.pipeline.context import HubContext
    from tests.conftest import hub_config

    ctx = HubContext.build(load_settings(hub_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)))
    built, real = [], ctx.plugins.build

    def slow_build(*args, **kwargs):  # as a CRM client that logs in when made
        time.sleep(0.05)
        built.append(1)
        return real(*args, **kwargs)

    ctx.plugins.build = slow_build
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(ctx.connector("crm"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and len({id(c) for c in got}) == 1
    ctx.close()
