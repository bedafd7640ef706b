"""A sync whose process was SIGKILLed is shown as interrupted, with its last heartbeat, once its
lock's lease has run out; before, `hub status` (and the console's Overview, which reads the
same status) showed it "running" until the next sync started. A live sync beats every third of
``push.lease_seconds`` and stays "running" however slow its pages are (SQLite and PostgreSQL,
through the real `hub sync` and `hub status`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.store import Store
from hub.store.schema import sync_state
from tests.conftest import ROOT, hub_config
from tests.integration.workers import wait_for
from tests.plugins.memory_crm import MemoryCRM

HUB = str(Path(sys.executable).parent / "hub")
LEASE = 3


def _status(cfg: Path) -> dict:
    res = CliRunner().invoke(app, ["status", "-c", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    (crm,) = json.loads(res.stdout)["connectors"]
    return crm


def _alerts(cfg: Path) -> list[dict]:
    res = CliRunner().invoke(app, ["alerts", "list", "-c", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _running(store: Store) -> bool:
    with store.connect() as conn:
        return any(conn.execute(select(sync_state.c.heartbeat_at)).scalars())  # started, not finished


def test_a_killed_sync_shows_as_interrupted_with_its_last_heartbeat(tmp_path, store_url, redis_url):
    crm = MemoryCRM(redis_url, "memcrm")
    crm.clear()
    cfg = hub_config(tmp_path, store_url, redis_url, **{"push.lease_seconds": LEASE})
    now = datetime.now(UTC)
    crm.put_contact("0", email="ann@example.com", first_name="Ann")
    for k in range(60):  # three pages of 25
        crm.add_activity(f"pv-{k}", "0", "page_view", now)
    store = Store(store_url, auto_migrate=True)
    crm.set_fault("activities_page_delay", 2.5 * LEASE)  # slower than the lease: only the heartbeat keeps it
    proc = subprocess.Popen(
        [HUB, "sync", "-c", str(cfg)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _running(store), 60, "the sync never started")
        time.sleep(1.5 * LEASE)  # longer than a lease, inside one slow page: alive, it beat meanwhile
        live = _status(cfg)
        assert live["last_status"] == "running", live
        assert live["last_heartbeat"] is not None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        time.sleep(LEASE + 1)  # its lease runs out
        dead = _status(cfg)
        assert dead["last_status"] == "interrupted", dead
        beat = datetime.fromisoformat(dead["last_heartbeat"])
        assert 0 < (datetime.now(UTC) - beat).total_seconds() < 3 * LEASE
        assert "last heartbeat" in dead["last_error"] and "next sync" in dead["last_error"], dead
        table = CliRunner().invoke(app, ["status", "-c", str(cfg)], terminal_width=250)
        assert "interrupted" in table.stdout and "running" not in table.stdout, table.stdout
        # monitoring raises it as a failed sync would be: nothing new is read until a sync runs
        assert CliRunner().invoke(app, ["alerts", "run", "-c", str(cfg)]).exit_code == 0
        (alert,) = [a for a in _alerts(cfg) if a["kind"] == "sync"]
        assert alert["severity"] == "critical" and "stopped without finishing" in alert["message"], alert
        crm.set_fault("activities_page_delay", 0.0)
        again = CliRunner().invoke(app, ["sync", "-c", str(cfg)])
        assert again.exit_code == 0, again.output
        assert _status(cfg)["last_status"] == "ok"  # the next sync reads on and clears it
        assert CliRunner().invoke(app, ["alerts", "run", "-c", str(cfg)]).exit_code == 0
        assert not [a for a in _alerts(cfg) if a["kind"] == "sync"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        store.dispose()
        crm.clear()
