"""The whole loop on a real Celery worker with real Redis, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from hub.config import load_settings
from hub.store import Store
from tests.conftest import hub_config
from tests.integration.workers import TcpProxy, Worker, wait_for
from tests.plugins.memory_crm import MemoryCRM
from tests.test_config import run_hub
from tests.test_pipeline import seed

pytestmark = pytest.mark.integration


@pytest.fixture
def crm(redis_url):
    c = MemoryCRM(redis_url, "memcrm")
    c.clear()
    yield c
    c.clear()


@pytest.fixture
def workers():
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()


def enqueue(config, task: str, *args) -> None:
    from tasks import configure

    configure(load_settings(config)).send_task(task, args=list(args))


def test_full_loop_on_a_real_worker_pushes_the_exact_actions(tmp_path, store_url, redis_url, crm, workers):
    seed(crm, n=30, hot=4)
    config = hub_config(tmp_path, store_url, redis_url)
    Store(store_url, auto_migrate=True).dispose()
    w = Worker(config, tmp_path / "worker.log")
    workers.append(w)
    w.wait_ready()
    enqueue(config, "hub.sync", "crm")
    wait_for(lambda: len(crm.effects()) >= 30 * 4 + 4, 60, lambda: f"effects: {len(crm.effects())}\n{w.tail()}")
    effects = crm.effects()
    nba = {e["record"]: e["new"] for e in effects if e["field"] == "next_best_action"}
    assert nba == {str(i): ("sales_outreach" if i < 4 else "email_nurture") for i in range(30)}
    assert sorted(int(e["record"]) for e in effects if e["field"] == "lists") == [0, 1, 2, 3]
    assert len(effects) == 124  # 4 fields (2 from the rule, decision id, arm) x 30 + 4 list adds
    # a second sync sees only our own writes (echoes): no new decisions, no new writes
    enqueue(config, "hub.sync", "crm")
    wait_for(lambda: crm.r.zcard("memcrm:modified") and _synced_twice(store_url), 30, w.tail)
    assert len(crm.effects()) == 124
    assert crm.overlaps() == 0


def _synced_twice(store_url: str) -> bool:
    from sqlalchemy import func, select

    from hub.store.schema import decisions, sync_state

    store = Store(store_url)
    with store.connect() as conn:
        runs = conn.execute(select(sync_state.c.records).where(sync_state.c.stream == "contacts")).scalar() or 0
        n = conn.execute(select(func.count()).select_from(decisions)).scalar()
    store.dispose()
    return runs >= 60 and n == 30


def test_a_worker_killed_mid_push_batch_loses_nothing_and_doubles_nothing(tmp_path, store_url, redis_url, crm, workers):
    seed(crm, n=40, hot=0)
    config = hub_config(
        tmp_path,
        store_url,
        redis_url,
        **{"connectors.crm.settings.push_delay": 0.05, "connectors.crm.settings.max_batch": 10},
    )
    Store(store_url, auto_migrate=True).dispose()
    first = Worker(config, tmp_path / "w1.log")
    workers.append(first)
    first.wait_ready()
    enqueue(config, "hub.sync", "crm")
    wait_for(lambda: len(crm.effects()) >= 6, 60, first.tail)
    first.kill()  # SIGKILL to the whole worker, in the middle of a push batch
    at_kill = len(crm.effects())
    assert 0 < at_kill < 160, "the kill must land mid-push"
    second = Worker(config, tmp_path / "w2.log")
    workers.append(second)
    second.wait_ready()
    # the unacked push task comes back after the visibility timeout; its leased rows are re-sent
    wait_for(lambda: len(crm.effects()) >= 160, 90, lambda: f"effects {len(crm.effects())}\n{second.tail()}")
    effects = crm.effects()
    per_field = Counter((e["record"], e["field"]) for e in effects)
    assert len(per_field) == 160 and set(per_field.values()) == {1}, "every action lands, none twice"
    assert all(crm.contact(str(i))["next_best_action"] == "email_nurture" for i in range(40))
    assert crm.deliveries() >= 40


def test_a_worker_killed_mid_sync_leaves_no_activity_uncredited(tmp_path, store_url, redis_url, crm, workers):
    """The pages a killed sync committed are not read again, so their activity ids never reach a
    ``hub.learn`` message; the store keeps them owed and the next learn credits them."""
    from sqlalchemy import func, select

    from hub.store.schema import activities, outcomes

    seed(crm, n=10, hot=0)
    config = hub_config(tmp_path, store_url, redis_url)
    Store(store_url, auto_migrate=True).dispose()
    store = Store(store_url)

    def count(table) -> int:
        with store.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar()

    first = Worker(config, tmp_path / "w1.log")
    workers.append(first)
    first.wait_ready()
    enqueue(config, "hub.sync", "crm")
    wait_for(lambda: len(crm.effects()) >= 10 * 4, 60, first.tail)  # every contact decided
    now = datetime.now(UTC)
    for k in range(100):  # 4 pages of 25, all after the decisions
        crm.add_activity(f"pv-{k}", str(k % 10), "page_view", now)
    crm.set_fault("activities_page_delay", 1.0)
    enqueue(config, "hub.sync", "crm")
    wait_for(lambda: count(activities) >= 50, 60, first.tail)
    first.kill()  # SIGKILL mid-sync: two pages committed, their ids only in the dead process
    assert count(activities) < 100, "the kill must land mid-sync"
    crm.set_fault("activities_page_delay", 0.0)
    # its sync lock runs out after push.lease_seconds (4 s), before the task comes back (6 s)
    second = Worker(config, tmp_path / "w2.log")
    workers.append(second)
    second.wait_ready()
    # the unacked sync comes back after the visibility timeout and reads on from the cursor
    wait_for(lambda: count(activities) == 100, 60, second.tail)
    wait_for(lambda: count(outcomes) == 100, 30, lambda: f"outcomes {count(outcomes)}\n{second.tail()}")
    store.dispose()


def test_a_sync_killed_with_its_worker_holds_its_lock_no_longer_than_a_lease(tmp_path, pg_url, redis_url, crm, workers):
    """A whole worker SIGKILLed mid-sync (a container killed, a machine lost) leaves the sync
    lock behind. It used to live for ``task_time_limit`` (15 minutes by default), so every sync
    beat sent meanwhile was skipped; a live sync now keeps a lease-long lock alive by heartbeat,
    and a dead one's runs out after ``push.lease_seconds``."""
    import redis as redis_client
    from sqlalchemy import func, select

    from hub.store.schema import activities

    seed(crm, n=10, hot=0)
    now = datetime.now(UTC)
    for k in range(100):  # 4 pages of 25
        crm.add_activity(f"pv-{k}", str(k % 10), "page_view", now)
    config = hub_config(
        tmp_path, pg_url, redis_url, **{"celery.visibility_timeout": 600, "celery.task_time_limit": 600}
    )
    Store(pg_url, auto_migrate=True).dispose()
    store = Store(pg_url)

    def count() -> int:
        with store.connect() as conn:
            return conn.execute(select(func.count()).select_from(activities)).scalar()

    first = Worker(config, tmp_path / "w1.log")
    workers.append(first)
    first.wait_ready()
    crm.set_fault("activities_page_delay", 6.0)  # a page slower than the lease: the heartbeat keeps the lock
    enqueue(config, "hub.sync", "crm")
    wait_for(lambda: count() >= 25, 60, first.tail)
    first.kill()
    assert count() < 100, "the kill must land mid-sync"
    crm.set_fault("activities_page_delay", 0.0)
    ttl = redis_client.Redis.from_url(redis_url).ttl("hub:lock:sync:crm")
    assert 0 < ttl <= 4, f"the dead sync's lock lives {ttl} s"
    time.sleep(ttl + 0.5)
    second = Worker(config, tmp_path / "w2.log")
    workers.append(second)
    second.wait_ready()
    enqueue(config, "hub.sync", "crm")  # as beat does at the next sync_interval
    wait_for(lambda: count() == 100, 60, second.tail)
    store.dispose()


def test_beat_redecide_decides_contacts_past_their_interval_again_once(tmp_path, store_url, redis_url, crm, workers):
    """``hub.redecide`` (hourly on the beat) does under Celery what ``hub run --once`` does: a
    contact whose newest decision is older than ``redecide_after_days`` is decided again; a
    second send within the hour (two beats, a resend) queues nothing twice."""
    from datetime import timedelta

    from sqlalchemy import func, select, update

    from hub.store.schema import contacts, decisions

    seed(crm, n=10, hot=0)
    config = hub_config(tmp_path, store_url, redis_url, **{"decision.policy": "engine"})
    Store(store_url, auto_migrate=True).dispose()
    store = Store(store_url)

    def per_contact() -> Counter:
        with store.connect() as conn:
            return Counter(
                dict(conn.execute(select(decisions.c.contact_id, func.count()).group_by(decisions.c.contact_id)).all())
            )

    w = Worker(config, tmp_path / "w.log")
    workers.append(w)
    w.wait_ready()
    enqueue(config, "hub.sync", "crm")
    wait_for(lambda: sum(per_contact().values()) == 10, 60, w.tail)
    long_ago = datetime.now(UTC) - timedelta(days=10)  # past the default 7 days
    with store.begin() as conn:
        conn.execute(update(decisions).values(created_at=long_ago))
        conn.execute(update(contacts).values(changed_at=long_ago - timedelta(minutes=1)))
    enqueue(config, "hub.redecide")
    enqueue(config, "hub.redecide")
    wait_for(lambda: sum(per_contact().values()) >= 20, 60, lambda: f"{per_contact()}\n{w.tail()}")
    wait_for(lambda: b"hub.redecide" in w.log.read_bytes() and b"'skipped': True" in w.log.read_bytes(), 20, w.tail)
    time.sleep(2)  # anything queued twice would be decided by now
    assert set(per_contact().values()) == {2} and len(per_contact()) == 10
    store.dispose()


def test_a_task_first_connecting_while_the_store_is_down_retries_until_it_is_back(tmp_path, pg_url, redis_url, workers):
    """A worker process that builds its context while PostgreSQL is unreachable: the task
    retries (StoreUnavailable) instead of failing at once, and runs once the store is back."""
    Store(pg_url, auto_migrate=True).dispose()
    proxy = TcpProxy(("127.0.0.1", 5432))  # not started: the store is down
    config = hub_config(tmp_path, pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"), redis_url)
    w = Worker(config, tmp_path / "w.log", queues="learn", concurrency=1)
    workers.append(w)
    w.wait_ready()
    said = " ".join(w.tail().split())  # it starts (a restarting database must not stop it) but says so
    assert f"cannot reach the store at postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/" in said, said
    assert "tasks retry until the store is back" in said
    try:
        enqueue(config, "hub.learn")
        wait_for(lambda: b"Retry in" in w.log.read_bytes(), 30, w.tail)
        proxy.start()
        wait_for(lambda: b"hub.learn" in w.log.read_bytes() and b"succeeded" in w.log.read_bytes(), 60, w.tail)
    finally:
        proxy.stop()
    assert b"raised unexpected" not in w.log.read_bytes()


def test_a_worker_on_a_store_never_migrated_exits_1_saying_run_hub_migrate(tmp_path, pg_url, redis_url):
    """Started before `hub migrate` (README: once per release, before workers start), a worker
    said "ready." and then failed every task it took."""
    config = hub_config(tmp_path, pg_url, redis_url)
    res = run_hub("worker", "-c", str(config), "--queues=learn", "--concurrency=1")
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
    assert "hub migrate" in res.stderr and "ready." not in res.stdout + res.stderr
    assert "Traceback" not in res.stderr


def test_a_sweep_that_fails_on_a_store_blip_runs_on_its_retry(tmp_path, pg_url, redis_url, workers):
    """hub.sweep takes its once-per-grace key before it works; when the work raises (the store
    dropped), the key is given back, so its own retry sweeps instead of returning skipped."""
    import re

    import redis as redis_client

    Store(pg_url, auto_migrate=True).dispose()
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    config = hub_config(tmp_path, pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"), redis_url)
    w = Worker(config, tmp_path / "w.log", queues="decide,learn", concurrency=1)
    workers.append(w)
    w.wait_ready()
    try:
        enqueue(config, "hub.learn")  # the process builds its context while the store is up
        wait_for(lambda: b"hub.learn" in w.log.read_bytes() and b"succeeded" in w.log.read_bytes(), 30, w.tail)
        proxy.stop()  # a restart: open connections cut, new ones refused
        enqueue(config, "hub.sweep", 300)
        wait_for(lambda: re.search(rb"hub.sweep\[[^]]+\] retry", w.log.read_bytes()), 30, w.tail)
        proxy.start()
        done = re.compile(rb"hub.sweep\[[^]]+\] succeeded in [0-9.]+s: (.*)")
        wait_for(lambda: done.search(w.log.read_bytes()), 60, w.tail)
    finally:
        proxy.stop()
    assert done.search(w.log.read_bytes()).group(1) == b"{'requeued': 0}"
    assert redis_client.Redis.from_url(redis_url).ttl("hub:lock:once:sweep") > 0  # held by the run that worked


def test_status_shows_real_queue_depths_while_a_worker_runs(tmp_path, redis_url, crm, workers):
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    config = hub_config(tmp_path, store_url, redis_url)
    Store(store_url, auto_migrate=True).dispose()
    w = Worker(config, tmp_path / "w.log", queues="learn", concurrency=1)
    workers.append(w)
    w.wait_ready()
    for _ in range(3):
        enqueue(config, "hub.sync", "crm")
    out = run_hub("status", "-c", str(config))
    assert out.returncode == 0, out.stderr
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in out.stdout.splitlines()
        if line.count("│") == 4  # queue, depth, taken (not finished)
    }
    assert rows.get("sync") == "3" and rows.get("push") == "0"
    assert "Workers alive: 1" in out.stdout and w.name in out.stdout
    # a worker alive is not one per queue: three queues here fill with nobody to empty them
    said = " ".join(out.stdout.split())
    assert "No worker takes the sync, decide, push queue(s)" in said, said
    assert f"hub worker -c {config} --queues sync,decide,push" in said
    doc = json.loads(run_hub("status", "--json", "-c", str(config)).stdout)
    assert doc["queues_without_workers"] == ["sync", "decide", "push"]


def test_a_privacy_deletion_forgets_the_person_on_a_real_worker(tmp_path, store_url, redis_url, crm, workers):
    """``hub.forget_records`` (queued by HubSpot's contact.privacyDeletion webhook) removes the
    person found by record id on a worker; a resend of the same task finds nothing left to do."""
    from sqlalchemy import func, select

    from hub.store.schema import contacts, identities

    seed(crm, n=6, hot=1)
    config = hub_config(tmp_path, store_url, redis_url)
    Store(store_url, auto_migrate=True).dispose()
    store = Store(store_url)

    def people() -> int:
        with store.connect() as conn:
            return conn.execute(select(func.count()).select_from(contacts)).scalar()

    w = Worker(config, tmp_path / "w.log")
    workers.append(w)
    w.wait_ready()
    enqueue(config, "hub.sync", "crm")
    wait_for(lambda: people() == 6, 60, w.tail)
    with store.connect() as conn:
        ident = conn.execute(select(identities).where(identities.c.external_id == "0")).first()
    enqueue(config, "hub.forget_records", "crm", ident.object_type, ["0"])
    enqueue(config, "hub.forget_records", "crm", ident.object_type, ["0"])
    wait_for(lambda: people() == 5, 60, w.tail)
    wait_for(lambda: w.log.read_bytes().count(b"'forgotten': 1") == 2, 30, w.tail)
    with store.connect() as conn:
        assert conn.execute(select(func.count()).where(identities.c.external_id == "0")).scalar() == 0
    store.dispose()


def test_metrics_and_v1_status_count_the_workers_hub_status_and_the_console_see(
    tmp_path, redis_url, crm, workers, monkeypatch
):
    """Workers alive is what an operator alerts on; /metrics and /v1/status had the queue depths
    but not it."""
    from starlette.testclient import TestClient

    from hub.api.app import create_app
    from tests.api.conftest import TOKENS, api_section, auth

    for k, v in TOKENS.items():
        monkeypatch.setenv(f"HUB_TEST_TOKEN_{k.upper()}", v)
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    config = hub_config(tmp_path, store_url, redis_url, api=api_section(embedded=False))
    Store(store_url, auto_migrate=True).dispose()
    app = create_app(load_settings(config))
    try:
        with TestClient(app, base_url="https://hub.example.com") as client:
            assert "hub_workers_alive 0" in client.get("/metrics", headers=auth("admin")).text.splitlines()
            w = Worker(config, tmp_path / "w.log", queues="learn", concurrency=1)
            workers.append(w)
            w.wait_ready()
            lines = client.get("/metrics", headers=auth("admin")).text.splitlines()
            status = client.get("/v1/status", headers=auth("admin")).json()
    finally:
        app.state.hub.close()
    assert "hub_workers_alive 1" in lines
    assert status["workers"] == [w.name]
    assert "Workers alive: 1" in run_hub("status", "-c", str(config)).stdout
