"""A rate limiter shared by every worker of a cluster, so a vendor's limit is never exceeded.

Celery's own ``rate_limit`` is per worker, so a vendor budget (HubSpot's calls per 10 seconds
per app, its search calls per second) needs a shared one. Each window is an exact sliding log
(a Redis sorted set of call times, checked and written atomically in Lua), so a rolling window
never sees more than its limit, however many workers call at once. If Redis loses the log
(a restart without persistence), the limiter cannot know what was sent in the last window,
so with ``cold_start`` (vendor limits) it waits one whole window before the first call (also
on first use ever). Meant for windows of
seconds to minutes; daily budgets are read from the vendor's own usage headers. Without Redis
(embedded mode) the same logic runs in process, on the monotonic clock.

The vendor counts a call when it arrives, the limiter when it grants it. A call held up in
between (the GIL, a loaded host, the network) is still in the vendor's window when the
limiter's frees its slot, and calls granted then are refused. ``held`` therefore logs a call
again when it ends: it arrived before its answer came back, so counting it until the end plus
one window keeps every call the vendor still counts. Each slot is held one call longer than
the window (a HubSpot call of 0.2 s in 10 s: 2-3% of the pace). Left open: a call still in
flight a whole window after its grant is not counted again until it ends.

>>> limiter = RateLimiter([Limit("ten_secondly", 5, 10)])
>>> limiter.try_acquire()
0.0
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

# ARGV[1] empty: Redis's own clock, one clock for every worker (a time read before the call
# reached Redis could be older than entries already granted, letting a window overfill)
_NOW_LUA = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local n = tonumber(ARGV[2])
"""

_SLIDING_LUA = (
    _NOW_LUA
    + """
local wait = 0
local cold_start = ARGV[#ARGV - 1] == '1'
local nlimits = #KEYS
if cold_start then
  nlimits = #KEYS - 1
  local epoch_key = KEYS[#KEYS]
  local longest = 0
  for i = 1, nlimits do
    local window = tonumber(ARGV[2 + 2 * i])
    if window > longest then longest = window end
  end
  local epoch = redis.call('GET', epoch_key)
  if not epoch then
    -- Redis has no record of this limiter: first use, or Redis lost its data (a restart
    -- without persistence). Calls may have been made in the last window that it no longer
    -- knows about, so nobody calls until one whole window has passed.
    redis.call('SET', epoch_key, tostring(now))
    epoch = now
  end
  local cold = tonumber(epoch) + longest - now
  if cold > 0 then return tostring(cold) end
end
for i = 1, nlimits do
  local key = KEYS[i]
  local limit = tonumber(ARGV[2 + 2 * i - 1])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local used = redis.call('ZCARD', key)
  if used + n > limit then
    local oldest = redis.call('ZRANGE', key, used + n - limit - 1, used + n - limit - 1, 'WITHSCORES')
    local w = (tonumber(oldest[2]) + window) - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return tostring(wait) end
for i = 1, nlimits do
  local key = KEYS[i]
  local window = tonumber(ARGV[2 + 2 * i])
  for j = 1, n do
    redis.call('ZADD', key, now, ARGV[#ARGV] .. ':' .. j)
  end
  redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
end
return 'ok:' .. string.format('%.6f', now)
"""
)

# A granted call has ended: log it again at now (re-added if its window already dropped it).
_ENDED_LUA = (
    _NOW_LUA
    + """
for i = 1, #KEYS do
  for j = 1, n do
    redis.call('ZADD', KEYS[i], now, ARGV[3] .. ':' .. j)
  end
  redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[3 + i]) * 1000) + 1000)
end
return 'ok'
"""
)


@dataclass(frozen=True)
class Limit:
    """At most ``calls`` in any ``seconds``-long window."""

    name: str
    calls: int
    seconds: float


class RateLimiter:
    """Hold a slot around each vendor call (``held``) or acquire one before it; both sleep
    until the call fits every limit."""

    def __init__(
        self,
        limits: list[Limit],
        *,
        redis_url: str | None = None,
        key: str = "default",
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        cold_start: bool = False,
    ):
        """``cold_start``: for a vendor's limit, where calls Redis forgot (a restart without
        persistence) still count at the vendor: wait one whole window whenever Redis has no
        record of this limiter. Not for limits the hub enforces itself (login throttling).
        ``clock`` None: Redis's clock when shared, else ``time.monotonic`` (a wall clock that an
        NTP step moves forward would free a window early and let the vendor refuse calls)."""
        self.cold_start = cold_start
        self.limits = limits
        self.key = key
        self.clock = clock
        self.sleep = sleep
        self.waited = 0.0
        self.granted_at: float | None = None  # the time the last granted call was logged at
        self._client = redis.Redis.from_url(redis_url) if redis_url else None
        self._script = self._client.register_script(_SLIDING_LUA) if self._client else None
        self._ended_script = self._client.register_script(_ENDED_LUA) if self._client else None
        self._local: dict[str, deque[float]] = {lim.name: deque() for lim in limits}
        self._lock = threading.Lock()

    def try_acquire(self, n: int = 1) -> float:
        """Take ``n`` calls now if they fit; otherwise return the seconds to wait (nothing taken)."""
        return self._try(n)[0]

    def _keys(self) -> list[str]:
        return [f"hub:rate:{self.key}:{lim.name}" for lim in self.limits]

    def _try(self, n: int) -> tuple[float, str | float]:
        """(seconds to wait, 0 if taken; the grant: its log members' prefix, or local time)."""
        if self._script is not None:
            now: float | str = self.clock() if self.clock else ""
            keys = self._keys()
            if self.cold_start:
                keys.append(f"hub:rate:{self.key}:epoch")
            grant = uuid.uuid4().hex
            args: list[float | str] = [now, n]
            for lim in self.limits:
                args += [lim.calls, lim.seconds]
            args += ["1" if self.cold_start else "0", grant]
            answer = self._script(keys=keys, args=args).decode()
            if answer.startswith("ok:"):
                self.granted_at = float(answer[3:])
                return 0.0, grant
            return float(answer), grant
        now = self.clock() if self.clock else time.monotonic()
        with self._lock:
            wait = 0.0
            for lim in self.limits:
                log = self._local[lim.name]
                while log and log[0] <= now - lim.seconds:
                    log.popleft()
                if len(log) + n > lim.calls:
                    wait = max(wait, log[len(log) + n - lim.calls - 1] + lim.seconds - now)
            if wait > 0:
                return wait, now
            for lim in self.limits:
                self._local[lim.name].extend([now] * n)
            self.granted_at = now
            return 0.0, now

    def _acquire(self, n: int, max_wait: float) -> tuple[float, str | float]:
        waited = 0.0
        while True:
            wait, grant = self._try(n)
            if wait <= 0:
                self.waited += waited
                return waited, grant
            if waited + wait > max_wait:
                raise TimeoutError(f"rate limit {self.key}: would wait {waited + wait:.0f}s, more than {max_wait:.0f}s")
            self.sleep(wait)
            waited += wait

    def acquire(self, n: int = 1, max_wait: float = 3600.0) -> float:
        """Block until ``n`` calls fit; returns the seconds waited. The calls count from now:
        for calls the vendor counts on arrival, ``held`` is safer."""
        return self._acquire(n, max_wait)[0]

    @contextmanager
    def held(self, n: int = 1, max_wait: float = 3600.0) -> Iterator[float]:
        """Block until ``n`` calls fit, make them in the ``with`` block, and count them from when
        it ends (see the module's docstring); yields the seconds waited."""
        waited, grant = self._acquire(n, max_wait)
        try:
            yield waited
        finally:
            self._ended(grant, n)

    def _ended(self, grant: str | float, n: int) -> None:
        """Log the ``n`` calls of ``grant`` again, at now."""
        if self._ended_script is not None:
            now: float | str = self.clock() if self.clock else ""
            self._ended_script(keys=self._keys(), args=[now, n, grant, *(lim.seconds for lim in self.limits)])
            return
        now = self.clock() if self.clock else time.monotonic()
        with self._lock:
            for lim in self.limits:
                log = self._local[lim.name]
                for _ in range(n):
                    if grant in log:  # not if its window already dropped it
                        log.remove(grant)
                log.extend([now] * n)  # the clock is monotonic: the log stays in order
