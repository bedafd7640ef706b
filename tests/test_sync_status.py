"""Which stream's state a connector's status shows (hub/status.py): a failure over a warning
(a part the sync went on without) over ok, whichever stream holds it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.config import load_settings
from hub.status import connector_status
from hub.store import Store, sync_state
from tests.conftest import hub_config


@pytest.mark.parametrize(
    ("activities", "contacts", "shown"),
    [
        ("warning", "ok", "warning"),
        ("ok", "warning", "warning"),
        ("warning", "failed", "failed"),
        ("failed", "warning", "failed"),
        ("ok", "ok", "ok"),
    ],
)
def test_a_failure_outranks_a_warning_which_outranks_ok(tmp_path, redis_url, activities, contacts, shown):
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    settings = load_settings(hub_config(tmp_path, store_url, redis_url))
    store = Store(store_url, auto_migrate=True)
    try:
        with store.begin() as conn:
            for stream, status in (("activities", activities), ("contacts", contacts)):
                sync_state.mark_finished(conn, "crm", stream, datetime.now(UTC), status, f"{stream} {status}")
        (st,) = connector_status(settings, store)
    finally:
        store.dispose()
    assert st.last_status == shown
    assert st.last_error.endswith(shown)


def test_status_shows_what_was_imported_beside_the_connectors(tmp_path, redis_url):
    """A team that brings its own files saw only "No connectors configured" in `hub status`:
    nothing said its 3,000 imported people and their events were there. Sources that are no
    configured connector (hub import's, Segment's) are now listed with people, events and the
    last time they wrote."""
    import json

    from typer.testing import CliRunner

    from hub.cli import app
    from hub.importing import ImportOptions, import_contacts, import_events
    from hub.status import other_sources

    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    cfg = hub_config(tmp_path, store_url, redis_url)
    store = Store(store_url, auto_migrate=True)
    people, events = tmp_path / "people.csv", tmp_path / "events.csv"
    people.write_text("email\na@x.example\nb@x.example\n", encoding="utf-8")
    events.write_text("id,email,type,occurred_at\ne1,a@x.example,page_view,2026-02-01T10:00:00Z\n", encoding="utf-8")
    try:
        import_contacts(store, people, ImportOptions(source="tradeshow"))
        import_events(store, events, ImportOptions(source="tradeshow"))
        (src,) = other_sources(load_settings(cfg), store)
    finally:
        store.dispose()
    assert (src.source, src.records, src.events) == ("tradeshow", 2, 1) and src.last is not None
    res = CliRunner().invoke(app, ["status", "-c", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["sources"][0]["source"] == "tradeshow"
    res = CliRunner().invoke(app, ["status", "-c", str(cfg)])
    assert "tradeshow" in res.output, res.output


@pytest.mark.parametrize("status", ["failed", "running"])
def test_status_prints_a_failed_or_retrying_syncs_error_in_full(tmp_path, redis_url, status):
    """The table clips the status at 60 characters, and a vendor's error ends with what to do
    ("... check base_url and that this machine can reach it"): `hub status` printed it in full
    only for a warning or an interrupted sync, so a failed one, or one whose task is retrying
    (status running with the error of its last try), lost the part that says what to do."""
    from typer.testing import CliRunner

    from hub.cli import app

    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    cfg = hub_config(tmp_path, store_url, redis_url)
    error = (
        "HubSpot contacts.search still failing after 7 tries: cannot connect to http://127.0.0.1:9 "
        "(connection refused); check base_url and that this machine can reach it (scheduled syncs and pushes retry by themselves)"
    )
    store = Store(store_url, auto_migrate=True)
    try:
        with store.begin() as conn:
            sync_state.mark_finished(conn, "crm", "contacts", datetime.now(UTC), "failed", error)
            if status == "running":  # the task's retry started: the error of its last try stays
                sync_state.mark_started(conn, "crm", "contacts", datetime.now(UTC), datetime.now(UTC))
    finally:
        store.dispose()
    r = CliRunner().invoke(app, ["status", "-c", str(cfg)], terminal_width=300)
    assert f"crm: {error}" in " ".join(r.stdout.split()), r.stdout


def test_status_with_no_workers_suggests_a_command_that_runs(tmp_path, redis_url):
    """ "Workers alive: 0" was followed by "... or run the pipeline in this process with
    `hub run -c hub.yaml`", which refuses with exit 2 ("Continuous mode runs on Celery"): the
    command that runs one pass here is `hub run --once`."""
    from typer.testing import CliRunner

    from hub.cli import app

    cfg = hub_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)
    r = CliRunner().invoke(app, ["status", "-c", str(cfg)], terminal_width=300)
    said = " ".join(r.stdout.split())
    assert "Workers alive: 0" in said and f"`hub run --once -c {cfg}`" in said, said
    assert CliRunner().invoke(app, ["run", "--once", "-c", str(cfg)]).exit_code == 0
