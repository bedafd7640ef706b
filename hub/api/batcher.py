"""Dynamic batching of real-time decisions: requests that arrive together are decided together.

A real-time decision's CPU is mostly fixed cost per engine call, and most of that is a cold
cache: at 200 requests a second the process sleeps between requests, other processes evict its
caches, and the same decision costs about 1.2-1.6 times what it costs back to back
(bench/realtime_engine.py's ``api_spaced`` against ``api_decision``). The engine's cost per row
falls steeply with rows (one row 0.73 ms, four 0.36 ms each, on 4 December), and one batch pays
one cold start, one transaction and one commit. Figures: hub/api/README.md, "Dynamic batching".

So, as serving systems do (NVIDIA Triton's dynamic batcher, Clipper's adaptive batching), the
first request of a batch waits up to ``window`` for companions, or until ``max_batch`` have
come, and then all are decided in one :meth:`RealtimeDecider.decide_many` call. Waiting pays
only when companions are likely, so a request waits only while the recent arrival rate expects
at least half a companion within the window; at low traffic every request is decided at once,
and nothing is ever added to its latency but the window. Requests already queued on the event
loop are batched either way.

Each request still gets its own answer, exactly as alone: its own decision record, its own 404
when its contact is unknown. An error of the batch as a whole (the store down, a bug) is every
request's error.
"""

from __future__ import annotations

import asyncio
import time

from hub.api.realtime import RealtimeDecider, RealtimeRequest
from hub.models import Decision

#: weight of the newest gap in the smoothed time between arrivals
_SMOOTHING = 0.1
#: wait for companions only while this many are expected within the window
_EXPECTED = 0.5


class DecisionBatcher:
    """Collects ``decide`` calls on one event loop into batches; see the module docstring."""

    def __init__(self, decider: RealtimeDecider, window_seconds: float, max_batch: int):
        self.decider, self.window, self.max_batch = decider, window_seconds, max_batch
        self._pending: list[tuple[RealtimeRequest, asyncio.Future[Decision]]] = []
        self._timer: asyncio.Handle | None = None
        self._last = 0.0
        self._gap = float("inf")  # smoothed seconds between arrivals; unknown at first
        self.batches = 0  # engine calls made, for /metrics and tests
        self.decided = 0

    async def decide(self, request: RealtimeRequest) -> Decision:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        self._arrived(time.monotonic())
        self._pending.append((request, future))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            wait = self.window if self.window / self._gap >= _EXPECTED else 0.0
            self._timer = loop.call_later(wait, self._flush) if wait else loop.call_soon(self._flush)
        return await future

    def _arrived(self, now: float) -> None:
        if self._last:
            gap = now - self._last
            self._gap = gap if self._gap == float("inf") else self._gap + _SMOOTHING * (gap - self._gap)
        self._last = now

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = [(r, f) for r, f in self._pending if not f.cancelled()]  # a caller gone: not decided
        self._pending = []
        if not batch:
            return
        try:
            results = self.decider.decide_many([r for r, _ in batch])
        except Exception as exc:  # noqa: BLE001  # the batch's error is each request's error
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.decided += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Decision):
                future.set_result(result)
            else:
                future.set_exception(result)
