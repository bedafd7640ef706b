"""Rolling-window and daily quotas, as the vendors enforce them.

Windows run on the wall clock (a client's request rate is real), the daily count on the
simulated day (so a demo that advances days also resets the quota, as midnight would).
"""

from __future__ import annotations

import threading
import time
from collections import deque


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
