"""Named locks that keep two syncs (or pushes) of one connector from overlapping.

Redis locks serve a worker cluster; in-process locks serve the embedded ``hub run --once``.
A lock expires after ``ttl`` seconds so a killed worker cannot hold it forever; long work
calls ``refresh()`` between chunks to keep it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import redis

log = logging.getLogger(__name__)


class Held(Protocol):
    acquired: bool

    def refresh(self) -> bool:
        """Extend the lock; False if it was lost (expired, taken over, or its Redis restarted):
        the holder must stop, since someone else may now be doing the same work."""
        ...


class Locks(Protocol):
    def hold(self, name: str, ttl: int) -> Iterator[Held]: ...

    def once(self, name: str, ttl: int) -> bool:
        """True for the first caller within ``ttl`` seconds, False for the rest (dedupes
        follow-up tasks that many callers would otherwise all schedule)."""
        ...

    def forget_once(self, name: str) -> None:
        """Give back a ``once`` key: its holder failed, so the next caller must do the work."""
        ...


class _RedisHeld:
    def __init__(self, lock: redis.lock.Lock, acquired: bool):
        self.lock = lock
        self.acquired = acquired

    def refresh(self) -> bool:
        if not self.acquired:
            return False
        try:
            self.lock.reacquire()
        except redis.exceptions.LockError:
            # LockNotOwnedError: the TTL ran out (a long vendor back-off) or Redis lost it
            self.acquired = False
            return False
        return True


class RedisLocks:
    def __init__(self, url: str, prefix: str = "hub:lock:"):
        self.client = redis.Redis.from_url(url)
        self.prefix = prefix

    @contextmanager
    def hold(self, name: str, ttl: int) -> Iterator[_RedisHeld]:
        # not thread-local: a holder may keep it alive from a heartbeat thread (hub/pipeline/push.py)
        lock = self.client.lock(self.prefix + name, timeout=ttl, blocking=False, thread_local=False)
        held = _RedisHeld(lock, bool(lock.acquire(blocking=False)))
        try:
            yield held
        finally:
            if held.acquired:
                # expired while we worked: someone else may hold it now; not ours to free
                with contextlib.suppress(redis.exceptions.LockError):
                    lock.release()

    def once(self, name: str, ttl: int) -> bool:
        return bool(self.client.set(f"{self.prefix}once:{name}", 1, nx=True, ex=max(1, ttl)))

    def forget_once(self, name: str) -> None:
        self.client.delete(f"{self.prefix}once:{name}")


class _LocalHeld:
    def __init__(self, acquired: bool):
        self.acquired = acquired

    def refresh(self) -> bool:
        return self.acquired


class LocalLocks:
    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def once(self, name: str, ttl: int) -> bool:
        return True

    def forget_once(self, name: str) -> None:
        pass

    @contextmanager
    def hold(self, name: str, ttl: int) -> Iterator[_LocalHeld]:
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        held = _LocalHeld(lock.acquire(blocking=False))
        try:
            yield held
        finally:
            if held.acquired:
                lock.release()


@contextmanager
def kept_alive(held: Held, ttl: float, cap: float, on_beat: Callable[[], None] | None = None) -> Iterator[Held]:
    """Refresh ``held`` every ``ttl / 3`` seconds from a thread while the block runs, for at most
    ``cap`` seconds. Lets a lock carry a short TTL through work slower than it (a vendor's
    back-off): a worker killed outright stops refreshing, and its lock is free ``ttl`` seconds
    later instead of after the longest a task may run. ``on_beat`` runs after each renewal (a
    sync stamps its status with it); what it raises is logged, and the beat goes on."""
    stop = threading.Event()

    def beat() -> None:
        started = time.monotonic()
        while not stop.wait(ttl / 3):
            if time.monotonic() - started > cap or not held.refresh():
                return  # lost, or beaten too long: the lock runs out by itself
            if on_beat is not None:
                try:
                    on_beat()
                except Exception:  # noqa: BLE001 - a store hiccup: the lock is renewed, the next beat stamps
                    log.warning("lock heartbeat: could not record the beat", exc_info=True)

    thread = threading.Thread(target=beat, name="lock-heartbeat", daemon=True)
    if held.acquired:
        thread.start()
    try:
        yield held
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
