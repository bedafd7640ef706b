"""A push lane whose worker was killed is taken over a lease later; a live lane never is.

The lane lock and the claimed rows' lease are renewed by a heartbeat for as long as the lane's
worker lives (hub/pipeline/push.py ``_Heartbeat``), so ``push.lease_seconds`` is short (a minute
by default, where it was five): a SIGKILLed worker stops beating and its lane and batch are free
a lease later. A live lane is renewed through every phase of a batch, not only the vendor call:
a slow diff (the connector's schema read) used to outlast the lease, and another worker claimed
and sent the same write beside it. SQLite and PostgreSQL, Redis locks as between workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import select

from hub.config import PushSettings, load_settings
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.pipeline.push import push_connector
from hub.pipeline.sync import sync_connector
from hub.store.schema import pushes
from tests.conftest import ROOT, hub_config
from tests.integration.workers import wait_for
from tests.plugins.memory_crm import MemoryCRM

LEASE = 2


def _contexts(tmp_path, store_url, redis_url, **slow):  # noqa: ANN001, ANN003
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    lease = {"push.lease_seconds": LEASE, "push.batch_limit": 1, "push.lanes": 1}  # one lane: its lock is the one
    slow_cfg = hub_config(tmp_path / "a", store_url, redis_url, **lease, **slow)
    fast = HubContext.build(load_settings(hub_config(tmp_path / "b", store_url, redis_url, **lease)), embedded=False)
    return slow_cfg, fast


def _decided(fast: HubContext, crm: MemoryCRM) -> None:
    crm.put_contact("0", email="ann@example.com", first_name="Ann", stage="lead")
    (cid,) = sync_connector(fast, "crm").changed
    decide_contacts(fast, [cid], "d1")


def _sending(fast: HubContext) -> bool:
    with fast.store.connect() as conn:
        return conn.execute(select(pushes.c.id).where(pushes.c.state == "sending")).first() is not None


def test_the_default_lease_is_a_minute():
    assert PushSettings().lease_seconds <= 60


def test_a_live_lane_slow_before_its_vendor_call_is_never_taken_over(tmp_path, store_url, redis_url):
    crm = MemoryCRM(redis_url, "memcrm")
    crm.clear()
    from hub.store import Store

    Store(store_url, auto_migrate=True).dispose()
    slow_cfg, fast = _contexts(
        tmp_path, store_url, redis_url, **{"connectors.crm.settings.stored_form_delay": 2.5 * LEASE}
    )
    slow = HubContext.build(load_settings(slow_cfg), embedded=False)
    try:
        _decided(fast, crm)
        worker_a = threading.Thread(target=push_connector, args=(slow, "crm"))
        worker_a.start()
        wait_for(lambda: _sending(fast), 10, "A never claimed the push")
        time.sleep(LEASE + 1)  # A is still diffing, past the lease it claimed with
        taken = push_connector(fast, "crm")
        worker_a.join()
        assert taken.sent == 0 and taken.skipped_lock  # nothing of A's lane was free to take
        assert crm.deliveries() == 1  # the write went out once, from A
        assert crm.contact("0")["next_best_action"] == "email_nurture"
    finally:
        slow.close()
        fast.close()
        crm.clear()


def test_a_killed_lane_is_taken_over_a_lease_later(tmp_path, store_url, redis_url):
    crm = MemoryCRM(redis_url, "memcrm")
    crm.clear()
    from hub.store import Store

    Store(store_url, auto_migrate=True).dispose()
    slow_cfg, fast = _contexts(tmp_path, store_url, redis_url, **{"connectors.crm.settings.push_delay": 600})
    code = (
        "import sys; from hub.config import load_settings; from hub.pipeline.context import HubContext; "
        "from hub.pipeline.push import push_connector; "
        "push_connector(HubContext.build(load_settings(sys.argv[1]), embedded=False), 'crm')"
    )
    proc = None
    try:
        _decided(fast, crm)
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(slow_cfg)], env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path
        )
        wait_for(lambda: _sending(fast), 30, "the worker never claimed the push")
        time.sleep(LEASE)  # it has renewed its lane at least once: alive, it would keep it
        assert push_connector(fast, "crm").skipped_lock  # the live lane is its own
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed = time.monotonic()
        taken = push_connector(fast, "crm")
        assert taken.sent == 0  # its lease has not run out yet
        while taken.done == 0 and time.monotonic() - killed < 4 * LEASE + 5:
            time.sleep(0.2)
            taken = push_connector(fast, "crm")
        assert taken.done == 1, "the killed worker's lane was not taken over"
        assert time.monotonic() - killed <= LEASE + LEASE / 3 + 2  # about a lease: no longer
        assert crm.contact("0")["next_best_action"] == "email_nurture"
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        fast.close()
        crm.clear()
