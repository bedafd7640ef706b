"""Login throttling: a few attempts per user name per window, shared by every API process.

Uses the hub's sliding-window limiter, on Redis when a broker is configured and in process
in embedded mode. Names that are not console users share one bucket, so made-up names
cannot grow memory or Redis keys.
"""

from __future__ import annotations

from hub.api.state import ApiState
from hub.ratelimit import Limit, RateLimiter

ATTEMPTS, WINDOW = 10, 300.0


class LoginThrottle:
    def __init__(self, state: ApiState):
        self.users = {u.username for u in state.settings.api.users}
        self.redis_url = None if state.settings.api.embedded else state.settings.broker_url
        self._limiters: dict[str, RateLimiter] = {}

    def wait(self, username: str) -> float:
        """Seconds to wait before this attempt is allowed; 0 means go ahead (and counts it)."""
        key = username if username in self.users else "(unknown)"
        if key not in self._limiters:
            self._limiters[key] = RateLimiter(
                [Limit("login", ATTEMPTS, WINDOW)], redis_url=self.redis_url, key=f"console-login:{key}"
            )
        return self._limiters[key].try_acquire()
