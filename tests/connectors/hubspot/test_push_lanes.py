"""Push lanes: several pushes of one connector at once, each record's writes in one lane."""

from __future__ import annotations

import threading
from collections import Counter

import yaml
from sqlalchemy import select

from hub.config import load_settings
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.pipeline.push import push_connector
from hub.pipeline.sync import sync_connector
from hub.store import Store
from hub.store import pushes as push_store
from hub.store.schema import pushes
from tests.connectors.hubspot.test_pipeline_e2e import config


def decided(tmp_path, sandbox, store_url: str, lanes: int = 3) -> HubContext:
    """Synced and decided, nothing pushed yet."""
    ctx = config(tmp_path, sandbox)
    raw = yaml.safe_load((tmp_path / "hub.yaml").read_text())
    ctx.close()
    raw.update(store_url=store_url, push={"lanes": lanes})
    (tmp_path / "hub.yaml").write_text(yaml.safe_dump(raw))
    Store(store_url, auto_migrate=True).dispose()  # what `hub migrate` does
    ctx = HubContext.build(load_settings(tmp_path / "hub.yaml"), embedded=True)
    ctx.connector("crm").ensure_schema()
    res = sync_connector(ctx, "crm")
    decide_contacts(ctx, sorted(res.changed), "k")
    return ctx


def states_by_lane(ctx: HubContext, lanes: int) -> dict[int, Counter]:
    with ctx.store.connect() as conn:
        rows = conn.execute(select(pushes.c.bucket, pushes.c.state, pushes.c.external_id)).all()
    assert all(r.bucket == push_store.bucket_of(r.external_id) for r in rows)
    out: dict[int, Counter] = {}
    for r in rows:
        out.setdefault(r.bucket % lanes, Counter())[r.state] += 1
    return out


def test_a_held_lane_is_left_alone_and_the_others_are_pushed(tmp_path, sandbox, store_url):
    ctx = decided(tmp_path, sandbox, store_url)
    with ctx.locks.hold("push:crm:1", 60) as held:  # another worker is pushing lane 1
        assert held.acquired
        first = push_connector(ctx, "crm")
    by_lane = states_by_lane(ctx, 3)
    assert set(by_lane[1]) == {"pending"} and by_lane[1]["pending"] > 0
    assert set(by_lane[0]) == set(by_lane[2]) == {"done"}
    assert first.done == by_lane[0]["done"] + by_lane[2]["done"]
    second = push_connector(ctx, "crm")
    assert second.done == by_lane[1]["pending"] and all(set(c) == {"done"} for c in states_by_lane(ctx, 3).values())
    with ctx.locks.hold("push:crm:0", 60), ctx.locks.hold("push:crm:1", 60), ctx.locks.hold("push:crm:2", 60):
        assert push_connector(ctx, "crm").skipped_lock
    ctx.close()


def test_pushes_running_at_once_write_every_decision_exactly_once(tmp_path, world, sandbox, store_url):
    ctx = decided(tmp_path, sandbox, store_url)
    sandbox.hubspot_faults.set(latency_s=0.05, error_rate=0.1, seed=3)  # slow enough for the lanes to overlap
    ctx.connector("crm").client.sleep = lambda s: None
    results: list = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(push_connector(ctx, "crm"))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    sandbox.hubspot_faults.clear()
    while push_connector(ctx, "crm").sent:  # anything rescheduled after a 5xx
        pass
    assert not errors
    with ctx.store.connect() as conn:
        rows = conn.execute(select(pushes.c.external_id, pushes.c.decision_id, pushes.c.state)).all()
    writes = Counter(
        (e.record_id, e.new) for e in world.log.entries if e.system == "hubspot" and e.field == "hub_decision_id"
    )
    assert rows and {r.state for r in rows} == {"done"}
    assert all(writes[(r.external_id, str(r.decision_id))] == 1 for r in rows)
    assert sum(r.sent for r in results) >= len(rows)
    ctx.close()
