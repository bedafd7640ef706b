"""Dynamic batching of real-time decisions: requests that arrive together are decided together.

A real-time decision's CPU is mostly fixed cost per engine call, and most of that is a cold
cache: at 200 requests a second the process sleeps between requests, other processes evict its
caches, and the same decision costs about 1.2-1.6 times what it costs back to back
(bench/realtime_engine.py's ``api_spaced`` against ``api_decision``). The engine's cost per row
falls steeply with rows (one row 0.73 ms, four 0.36 ms each, on 4 December), and one batch pays
one cold start, one transaction and one commit. Figures: docs/realtime-api.md, "Dynamic batching".

So, as serving systems do (NVIDIA Triton's dynamic batcher, Clipper's adaptive batching), the
first request of a batch waits up to ``window`` for companions, or until ``max_batch`` have
come, and then all are decided in one :meth:`RealtimeDecider.decide_many` call. Waiting pays
only when companions are likely, so a request waits only while the recent arrival rate expects
at least one companion within the window; at low traffic every request is decided at once,
and nothing is ever added to its latency but the window. Requests already queued on the event
loop are batched either way.

How long to wait follows a latency objective rather than a hand-set constant. Every ``_BLOCK``
decisions the batcher takes the 90th percentile of their times (from reaching the batcher to the
answer) and subtracts the wait it used: what the rest costs (the decisions themselves, queueing
behind them). The wait moves halfway toward what leaves the objective just met, between 0 and
``window_seconds``. So a fast machine turns its latency headroom into larger batches and less CPU per
decision, and a slow or crowded one waits less and keeps its latency (figures:
docs/realtime-api.md, "6 December 2026, morning"). An objective of 0 keeps the window fixed.

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
#: wait for companions only while at least this many are expected within the window: a wait
#: gains nothing unless a companion is likely (half of one, until 6 December, let evenly spaced
#: requests wait for none)
_EXPECTED = 1.0
#: decisions whose times set the window's next size
_BLOCK = 64
#: the quantile of a block's times held to the objective (a store read or a GC pause that slows
#: one batch is not the window's doing and must not move it)
_QUANTILE = 0.9
#: the share of the way to its target the window moves after each block
_GAIN = 0.5


class DecisionBatcher:
    """Collects ``decide`` calls on one event loop into batches; see the module docstring."""

    def __init__(self, decider: RealtimeDecider, window_seconds: float, max_batch: int, latency_objective: float = 0.0):
        """``window_seconds``: the longest wait; ``latency_objective`` (seconds, 0: none) adapts
        the wait below it (module docstring)."""
        self.decider, self.max_window, self.max_batch = decider, window_seconds, max_batch
        self.objective = latency_objective
        # adaptive: start at half the objective and let the blocks move it
        self.window = min(window_seconds, latency_objective / 2) if latency_objective else window_seconds
        self._pending: list[tuple[RealtimeRequest, asyncio.Future[Decision], float]] = []
        self._timer: asyncio.Handle | None = None
        self._last = 0.0
        self._gap = float("inf")  # smoothed seconds between arrivals; unknown at first
        self._block: list[float] = []  # the current block's seconds from arrival to answer
        self._waited = False  # a batch of the current block waited for companions
        self.batches = 0  # engine calls made, for /metrics and tests
        self.decided = 0

    async def decide(self, request: RealtimeRequest) -> Decision:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        now = time.monotonic()
        self._arrived(now)
        self._pending.append((request, future, now))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            wait = self.window if self.window / self._gap >= _EXPECTED else 0.0
            self._waited |= wait > 0
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
        batch = [(r, f, t) for r, f, t in self._pending if not f.cancelled()]  # a caller gone: not decided
        self._pending = []
        if not batch:
            return
        try:
            results = self.decider.decide_many([r for r, _, _ in batch])
        except Exception as exc:  # noqa: BLE001  # the batch's error is each request's error
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.decided += len(batch)
        for (_, future, _), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Decision):
                future.set_result(result)
            else:
                future.set_exception(result)
        if self.objective:
            done = time.monotonic()
            self._observe([done - t for _, _, t in batch])

    def _observe(self, latencies: list[float]) -> None:
        """One batch's decisions' times into the block; at a block's end, the window's next size."""
        block = self._block
        block += latencies
        if len(block) < _BLOCK:
            return
        block.sort()
        # what the high quantile spent besides waiting: the decisions and the queue behind them
        rest = block[int(_QUANTILE * len(block))] - (self.window if self._waited else 0.0)
        target = min(self.max_window, max(0.0, self.objective - rest))
        self.window += _GAIN * (target - self.window)
        block.clear()
        self._waited = False
