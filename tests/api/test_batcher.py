"""Real-time decisions batched on the event loop (hub/api/batcher.py): each request is answered
as it would be alone, with its own record and its own 404, and batches form only under traffic."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from hub.api.batcher import DecisionBatcher
from hub.api.problems import Problem
from hub.api.schemas import ContactRef, SessionContext
from hub.store import decisions as decision_store
from tests.api.conftest import auth, make_config, seed
from tests.api.test_realtime_model import ENGINE

PAGE = SessionContext(page="/pricing")


@pytest.fixture
def state(tmp_path, store_url, api_redis_url, crm):
    from hub.api.app import create_app

    app = create_app(make_config(tmp_path, store_url, api_redis_url, **ENGINE))
    seed(app.state.hub.ctx, crm, n=4)
    yield app.state.hub
    app.state.hub.close()


def _email(i: int) -> ContactRef:
    return ContactRef(email=f"person{i}@example.com")


def _gather(batcher: DecisionBatcher, refs: list[ContactRef]) -> list:
    async def run() -> list:
        return await asyncio.gather(*(batcher.decide((r, PAGE)) for r in refs), return_exceptions=True)

    return asyncio.run(run())


def test_requests_that_arrive_together_are_one_engine_call_each_answered_as_its_own(state):
    """Five requests queued on the loop at once: one batch; an unknown contact is its own 404
    while the rest are decided; a contact named twice gets two decisions, both recorded."""
    batcher = DecisionBatcher(state.realtime, window_seconds=0.0, max_batch=32)
    with state.ctx.store.connect() as conn:
        before = len(decision_store.recent_decisions(conn, limit=1000))
    refs = [_email(0), ContactRef(email="nobody@example.com"), _email(1), _email(2), _email(1)]
    out = _gather(batcher, refs)
    assert batcher.batches == 1 and batcher.decided == 5
    assert isinstance(out[1], Problem) and out[1].status == 404
    decided = [d for i, d in enumerate(out) if i != 1]
    alone = [state.realtime.decide(r, PAGE) for r in (refs[0], refs[2], refs[3])]  # each as a batch of one
    assert [d.contact_id for d in decided] == [alone[0].contact_id, alone[1].contact_id, alone[2].contact_id] + [
        alone[1].contact_id
    ]
    assert len({d.id for d in decided}) == 4 and all(d.arm == "engine" and d.actions for d in decided)
    with state.ctx.store.connect() as conn:
        stored = decision_store.recent_decisions(conn, limit=1000)
    assert len(stored) == before + 4 + 3
    assert {d.id for d in decided} <= {d.id for d in stored}


def test_a_batch_is_cut_at_its_maximum(state):
    batcher = DecisionBatcher(state.realtime, window_seconds=0.0, max_batch=2)
    out = _gather(batcher, [_email(i % 4) for i in range(5)])
    assert not [o for o in out if isinstance(o, BaseException)]
    assert batcher.batches == 3 and [d.contact_id for d in out] == [d.contact_id for d in out[:4]] + [out[0].contact_id]


def test_a_lone_request_never_waits_for_the_window_but_requests_under_traffic_do(state):
    """The window is spent only when the arrival rate expects companions: the first request
    after a quiet spell is decided at once even with a long window, while requests 10 ms
    apart wait for each other and are decided together."""
    window = 0.5
    # the model load and first-call caches are not the window's: on a crowded CI host the cold
    # first decision alone took 0.43 s
    state.realtime.decide(_email(0), PAGE)
    batcher = DecisionBatcher(state.realtime, window_seconds=window, max_batch=32)

    async def run() -> tuple[float, float, list]:
        t0 = time.monotonic()
        await batcher.decide((_email(0), PAGE))
        lone = time.monotonic() - t0

        async def later(i: int):
            await asyncio.sleep(0.01 * i)
            return await batcher.decide((_email(i % 4), PAGE))

        t1 = time.monotonic()
        burst = await asyncio.gather(*(later(i) for i in range(1, 5)))
        return lone, time.monotonic() - t1, burst

    lone, burst_time, burst = asyncio.run(run())
    assert lone < window / 2, lone
    assert batcher.batches == 2 and batcher.decided == 5, (batcher.batches, batcher.decided)
    assert burst_time >= window * 0.9 and len({d.id for d in burst}) == 4


def test_concurrent_http_requests_each_get_their_own_contact(tmp_path, store_url, api_redis_url, crm):
    from hub.api.app import create_app

    app = create_app(make_config(tmp_path, store_url, api_redis_url, **ENGINE, **{"api.batch_window_ms": 20}))
    seed(app.state.hub.ctx, crm, n=4)
    bodies = [{"contact": {"email": f"person{i % 5}@example.com"}, "context": {"page": "/docs"}} for i in range(12)]

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://hub.example.com") as c:
            return await asyncio.gather(*(c.post("/v1/decisions", json=b, headers=auth("decide")) for b in bodies))

    answers = asyncio.run(run())
    batcher = app.state.hub.batcher
    app.state.hub.close()
    statuses = [r.status_code for r in answers]
    assert statuses == [404 if i % 5 == 4 else 200 for i in range(12)], statuses
    ids = {}
    for i, r in enumerate(answers):
        if r.status_code == 200:
            ids.setdefault(i % 5, set()).add(r.json()["contact_id"])
    assert all(len(v) == 1 for v in ids.values()) and len({next(iter(v)) for v in ids.values()}) == 4
    assert batcher.decided == 12 and batcher.batches < 12  # they did batch


def _stream(batcher: DecisionBatcher, n: int, gap: float) -> list:
    """``n`` requests ``gap`` seconds apart on one event loop, each awaited by its own task."""

    async def run() -> list:
        tasks = []
        for i in range(n):
            tasks.append(asyncio.ensure_future(batcher.decide((_email(i % 4), PAGE))))
            await asyncio.sleep(gap)
        return await asyncio.gather(*tasks, return_exceptions=True)

    return asyncio.run(run())


def test_the_window_grows_into_a_loose_latency_objective_and_shrinks_under_a_tight_one(state):
    """The wait follows the objective: with 500 ms allowed it grows from its start (half the
    objective) toward what leaves 9 in 10 decisions within 500 ms; with 0.1 ms allowed, less than
    a decision takes, it falls toward nothing. Without an objective it stays. (The loose
    objective is wide: on a crowded CI host the decisions and their queue took over 30 ms at
    the 90th percentile, so a 60 ms objective rightly shrank the wait, and once over 100 ms, so
    a 200 ms objective rightly held it.)"""
    loose = DecisionBatcher(state.realtime, window_seconds=0.6, max_batch=32, latency_objective=0.5)
    assert loose.window == pytest.approx(0.25)
    out = _stream(loose, 200, 0.004)
    assert not [o for o in out if isinstance(o, BaseException)]
    assert loose.window > 0.26, loose.window  # three updates of 64 decisions, each halfway
    assert loose.decided == 200 and loose.batches < 100  # the longer wait made batches

    tight = DecisionBatcher(state.realtime, window_seconds=0.1, max_batch=32, latency_objective=0.0001)
    _stream(tight, 200, 0.004)
    assert tight.window < 0.00002, tight.window

    fixed = DecisionBatcher(state.realtime, window_seconds=0.02, max_batch=32)
    _stream(fixed, 100, 0.004)
    assert fixed.window == 0.02


def test_evenly_spaced_requests_farther_apart_than_the_window_never_wait(state):
    """At 13 requests a second with a 50 ms window a companion is never within reach, so no
    request waits for one (under the old rule of half an expected companion each waited the
    window for nobody). The window is wide so that a decision slowed by a crowded host (12 ms at
    the median in one CI run) still reads as no wait."""
    window = 0.05
    batcher = DecisionBatcher(state.realtime, window_seconds=window, max_batch=32)

    async def run() -> list[float]:
        took = []
        for i in range(12):
            t = time.monotonic()
            await batcher.decide((_email(i % 4), PAGE))
            took.append(time.monotonic() - t)
            await asyncio.sleep(0.075 - took[-1] if took[-1] < 0.075 else 0)
        return took

    took = asyncio.run(run())
    assert batcher.batches == 12
    assert sorted(took)[len(took) // 2] < window / 2, took
