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
