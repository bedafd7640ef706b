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

>>> limiter = RateLimiter([Limit("ten_secondly", 5, 10)])
>>> limiter.try_acquire()
0.0
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import redis

_SLIDING_LUA = """
-- ARGV[1] empty: Redis's own clock, one clock for every worker (a time read before the call
-- reached Redis could be older than entries already granted, letting a window overfill)
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local n = tonumber(ARGV[2])
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


@dataclass(frozen=True)
class Limit:
    """At most ``calls`` in any ``seconds``-long window."""

    name: str
    calls: int
    seconds: float


class RateLimiter:
    """Acquire before each vendor call; ``acquire`` sleeps until the call fits every limit."""

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
        self._local: dict[str, deque[float]] = {lim.name: deque() for lim in limits}
        self._lock = threading.Lock()

    def try_acquire(self, n: int = 1) -> float:
        """Take ``n`` calls now if they fit; otherwise return the seconds to wait (nothing taken)."""
        if self._script is not None:
            now: float | str = self.clock() if self.clock else ""
            keys = [f"hub:rate:{self.key}:{lim.name}" for lim in self.limits]
            if self.cold_start:
                keys.append(f"hub:rate:{self.key}:epoch")
            args: list[float | str] = [now, n]
            for lim in self.limits:
                args += [lim.calls, lim.seconds]
            args += ["1" if self.cold_start else "0", uuid.uuid4().hex]
            answer = self._script(keys=keys, args=args).decode()
            if answer.startswith("ok:"):
                self.granted_at = float(answer[3:])
                return 0.0
            return float(answer)
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
                return wait
            for lim in self.limits:
                self._local[lim.name].extend([now] * n)
            self.granted_at = now
            return 0.0

    def acquire(self, n: int = 1, max_wait: float = 3600.0) -> float:
        """Block until ``n`` calls fit; returns the seconds waited."""
        waited = 0.0
        while True:
            wait = self.try_acquire(n)
            if wait <= 0:
                self.waited += waited
                return waited
            if waited + wait > max_wait:
                raise TimeoutError(f"rate limit {self.key}: would wait {waited + wait:.0f}s, more than {max_wait:.0f}s")
            self.sleep(wait)
            waited += wait
