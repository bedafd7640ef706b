"""Login throttling that neither names the console users nor lets a stranger lock one out.

Three sliding windows of failed attempts (``WINDOW`` seconds), counted alike for every name
typed, whether or not it is a console user, so the answers never tell a real name from a
made-up one:

* per (name, client address): ``PAIR_FAILURES`` failures, then 429 for that pair only. A
  stranger guessing ``ops``'s password blocks only their own address for ``ops``.
* per client address: ``ADDRESS_FAILURES`` failures over all names, then 429 for that
  address (one address cannot spray passwords over many names).
* per name over all addresses: never a block (that would let anyone lock an admin out);
  past ``NAME_FAILURES`` failures, each attempt from an address that has not logged in as
  that name before (``GOOD_FOR`` seconds) waits ``SLOW_STEP`` more seconds, up to
  ``SLOW_MAX``. A spread-out guesser is slowed; the admin at a known address is not, and a
  correct password is never refused by this rule.

Attempts are counted before the password is checked (so parallel guesses cannot slip past
the limit) and un-counted on success. Shared through Redis when a broker is configured;
in process in embedded mode, or when Redis does not answer (a warning is logged, logins
keep working). Names are hashed before they become keys; the in-process tables are bounded.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass

import redis

from hub.api.state import ApiState

log = logging.getLogger(__name__)

WINDOW = 900.0
PAIR_FAILURES = 5
ADDRESS_FAILURES = 20
NAME_FAILURES = 10
SLOW_STEP, SLOW_MAX = 0.5, 3.0
GOOD_FOR = 30 * 86400.0
_MAX_LOCAL_KEYS = 50_000


@dataclass
class Verdict:
    """``wait`` > 0: refuse with 429 (retry after that many seconds); else check the password
    after sleeping ``slow`` seconds. ``token`` un-counts the attempt when it succeeds."""

    wait: float
    slow: float
    token: str


def _h(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class _Local:
    """The in-process windows: a bounded LRU of key -> attempt log."""

    def __init__(self) -> None:
        self.logs: OrderedDict[str, deque[tuple[float, str]]] = OrderedDict()
        self.good: OrderedDict[str, float] = OrderedDict()
        self.lock = threading.Lock()

    def _log(self, key: str, now: float) -> deque[tuple[float, str]]:
        entries = self.logs.pop(key, None) or deque()
        while entries and entries[0][0] <= now - WINDOW:
            entries.popleft()
        self.logs[key] = entries
        while len(self.logs) > _MAX_LOCAL_KEYS:
            self.logs.popitem(last=False)
        return entries

    def add_and_count(self, keys: list[str], token: str, now: float) -> list[tuple[int, float]]:
        with self.lock:
            out = []
            for key in keys:
                entries = self._log(key, now)
                entries.append((now, token))
                out.append((len(entries), entries[0][0]))
            return out

    def remove(self, keys: list[str], token: str) -> None:
        with self.lock:
            for key in keys:
                entries = self.logs.get(key)
                if entries is not None:
                    self.logs[key] = deque(e for e in entries if e[1] != token)

    def is_good(self, key: str, now: float) -> bool:
        with self.lock:
            return self.good.get(key, 0.0) > now - GOOD_FOR

    def mark_good(self, key: str, now: float) -> None:
        with self.lock:
            self.good.pop(key, None)
            self.good[key] = now
            while len(self.good) > _MAX_LOCAL_KEYS:
                self.good.popitem(last=False)


class LoginThrottle:
    def __init__(self, state: ApiState):
        url = None if state.settings.api.embedded else state.settings.broker_url
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) if url else None
        self._local = _Local()
        self._down_until = 0.0  # after a Redis failure, count locally for a while

    def _keys(self, name: str, address: str) -> list[str]:
        return [f"pair:{_h(name)}:{address}", f"addr:{address}", f"name:{_h(name)}"]

    def check(self, name: str, address: str) -> Verdict:
        """Count this attempt and say whether (and how slowly) it may go ahead."""
        token, now = uuid.uuid4().hex, time.time()
        keys = self._keys(name, address)
        counts = self._shared(lambda r: self._redis_add(r, keys, token, now))
        if counts is None:
            counts = self._local.add_and_count(keys, token, now)
        waits = [
            oldest + WINDOW - now
            for (n, oldest), limit in zip(counts[:2], (PAIR_FAILURES, ADDRESS_FAILURES), strict=True)
            if n > limit
        ]
        if waits:
            self._forget(keys, token)  # a refused attempt does not extend the block
            return Verdict(wait=max(max(waits), 1.0), slow=0.0, token=token)
        excess = counts[2][0] - NAME_FAILURES
        slow = 0.0
        if excess > 0 and not self._good(name, address, now):
            slow = min(SLOW_STEP * excess, SLOW_MAX)
        return Verdict(wait=0.0, slow=slow, token=token)

    def succeeded(self, name: str, address: str, verdict: Verdict) -> None:
        """Un-count the attempt and remember the address as good for this name."""
        keys = self._keys(name, address)
        self._forget(keys, verdict.token)
        good = f"good:{_h(name)}:{address}"
        if self._shared(lambda r: r.set(f"hub:login:{good}", "1", ex=int(GOOD_FOR))) is None:
            self._local.mark_good(good, time.time())

    def _good(self, name: str, address: str, now: float) -> bool:
        good = f"good:{_h(name)}:{address}"
        found = self._shared(lambda r: bool(r.exists(f"hub:login:{good}")))
        return self._local.is_good(good, now) if found is None else found

    def _forget(self, keys: list[str], token: str) -> None:
        def remove(r: redis.Redis) -> bool:
            pipe = r.pipeline()
            for k in keys:
                pipe.zrem(f"hub:login:{k}", token)
            pipe.execute()
            return True

        if self._shared(remove) is None:
            self._local.remove(keys, token)

    @staticmethod
    def _redis_add(r: redis.Redis, keys: list[str], token: str, now: float) -> list[tuple[int, float]]:
        pipe = r.pipeline()
        for k in keys:
            key = f"hub:login:{k}"
            pipe.zremrangebyscore(key, "-inf", now - WINDOW)
            pipe.zadd(key, {token: now})
            pipe.expire(key, int(WINDOW) + 60)
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
        res = pipe.execute()
        out = []
        for i in range(len(keys)):
            n, first = res[5 * i + 3], res[5 * i + 4]
            out.append((n, first[0][1] if first else now))
        return out

    def _shared(self, call):
        """Run ``call`` on Redis; None when there is no Redis or it does not answer."""
        if self._redis is None or time.time() < self._down_until:
            return None
        try:
            return call(self._redis)
        except (redis.RedisError, OSError) as exc:
            self._down_until = time.time() + 30
            log.warning("login throttle: Redis unavailable (%s); counting in this process", type(exc).__name__)
            return None
