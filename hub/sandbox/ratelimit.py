"""Rolling-window and daily quotas, as the vendors enforce them.

Windows run on the wall clock (a client's request rate is real), the daily counts on the
simulated clock: HubSpot's by the account's calendar day (it resets at midnight there),
Salesforce's over the rolling 24 hours before now (a demo that advances days frees the calls
made more than 24 simulated hours ago).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

DAY_MS = 86_400_000


class RollingWindow:
    """At most ``limit`` accepted requests in any ``seconds``-long window."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self._hits: deque[float] = deque()
        self._lock = threading.Lock()

    def _trim(self, now: float) -> None:
        while self._hits and now - self._hits[0] >= self.seconds:
            self._hits.popleft()

    def try_acquire(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._trim(now)
            if len(self._hits) >= self.limit:
                return False
            self._hits.append(now)
            return True

    def remaining(self) -> int:
        with self._lock:
            self._trim(time.monotonic())
            return max(0, self.limit - len(self._hits))


class DailyQuota:
    """``limit`` requests per simulated day; ``day_of()`` tells which day it is."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._day = -1
        self._lock = threading.Lock()

    def try_acquire(self, day: int) -> bool:
        with self._lock:
            if day != self._day:
                self._day, self.used = day, 0
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def remaining(self) -> int:
        return max(0, self.limit - self.used)


class Rolling24h:
    """``limit`` requests in any 24 hours on ``now_ms`` (the simulated clock): Salesforce's
    API request allocation. Calls are kept as (ms, count) so others' use can be added in bulk."""

    def __init__(self, limit: int, now_ms: Callable[[], int], window_ms: int = DAY_MS) -> None:
        self.limit, self.now_ms, self.window_ms = limit, now_ms, window_ms
        self._calls: deque[list[int]] = deque()
        self._used = 0
        self._lock = threading.Lock()

    def _trim(self, now: int) -> None:
        while self._calls and self._calls[0][0] <= now - self.window_ms:
            self._used -= self._calls.popleft()[1]

    def _add(self, now: int, n: int) -> None:
        if self._calls and self._calls[-1][0] == now:
            self._calls[-1][1] += n
        else:
            self._calls.append([now, n])
        self._used += n

    def try_acquire(self) -> bool:
        with self._lock:
            now = self.now_ms()
            self._trim(now)
            if self._used >= self.limit:
                return False
            self._add(now, 1)
            return True

    def spend(self, n: int) -> None:
        """Someone else's ``n`` calls, now (the allocation is the org's, shared by every app)."""
        with self._lock:
            now = self.now_ms()
            self._trim(now)
            self._add(now, n)

    @property
    def used(self) -> int:
        """Calls in the last 24 hours."""
        with self._lock:
            self._trim(self.now_ms())
            return self._used

    def remaining(self) -> int:
        return max(0, self.limit - self.used)
