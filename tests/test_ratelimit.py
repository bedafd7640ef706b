"""The shared rate limiter never lets a rolling window exceed its limit."""

from __future__ import annotations

import threading

import pytest

from hub.ratelimit import Limit, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_local_sliding_window_is_exact():
    clock = FakeClock()
    lim = RateLimiter([Limit("ten", 5, 10)], clock=clock, sleep=clock.sleep)
    assert [lim.try_acquire() for _ in range(5)] == [0.0] * 5
    assert lim.try_acquire() == pytest.approx(10.0)
    clock.t += 4
    assert lim.try_acquire() == pytest.approx(6.0)
    waited = lim.acquire()
    assert waited == pytest.approx(6.0) and clock.t == pytest.approx(1010.0)


def test_every_limit_must_fit():
    clock = FakeClock()
    lim = RateLimiter([Limit("second", 2, 1), Limit("ten", 3, 10)], clock=clock, sleep=clock.sleep)
    assert lim.try_acquire(2) == 0.0
    assert lim.try_acquire() == pytest.approx(1.0)
    clock.t += 1
    assert lim.try_acquire() == 0.0
    assert lim.try_acquire() == pytest.approx(9.0)


def test_redis_limiter_shared_by_threads_never_exceeds_the_window(redis_url):
    limits = [Limit("window", 20, 0.5)]
    calls: list[float] = []
    guard = threading.Lock()

    def worker() -> None:
        lim = RateLimiter(limits, redis_url=redis_url, key="t")  # one client per "process"
        for _ in range(15):
            lim.acquire()
            with guard:
                calls.append(lim.granted_at)  # the time the limiter logged the call at

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    calls.sort()
    assert len(calls) == 60
    worst = max(sum(1 for c in calls if start <= c < start + 0.5) for start in calls)
    assert worst <= 20
    assert calls[-1] - calls[0] >= 1.0  # 60 calls at 20 per 0.5 s cannot finish sooner


def test_a_vendor_limiter_waits_a_window_after_redis_lost_its_log(redis_url):
    """After a Redis restart without persistence the calls of the last window are forgotten
    by Redis but not by the vendor: a cold-start limiter waits one window before calling."""
    import redis

    now = [1000.0]
    lim = RateLimiter([Limit("w", 5, 10.0)], redis_url=redis_url, key="cold", clock=lambda: now[0], cold_start=True)
    assert lim.try_acquire() == pytest.approx(10.0)  # nothing known: wait the window out
    now[0] += 10.0
    assert [lim.try_acquire() for _ in range(5)] == [0.0] * 5
    assert lim.try_acquire() > 0
    redis.Redis.from_url(redis_url).flushdb()  # the restart
    assert lim.try_acquire() == pytest.approx(10.0)
    warm = RateLimiter([Limit("w", 5, 10.0)], redis_url=redis_url, key="warm", clock=lambda: now[0])
    assert warm.try_acquire() == 0.0  # a hub-side throttle (logins) starts open


@pytest.mark.parametrize("shared", [False, True])
def test_a_held_call_counts_from_when_it_ended(shared, request):
    """A vendor counts a call on arrival, any time until its answer is back: a call granted at
    1000 that ends at 1003 holds its slot until 1013, not 1010; one that outlasted the window
    is logged again at its end."""
    clock = FakeClock()
    url = request.getfixturevalue("redis_url") if shared else None
    lim = RateLimiter([Limit("ten", 2, 10)], redis_url=url, key="held", clock=clock, sleep=clock.sleep)
    with lim.held() as waited:
        clock.t += 3
    assert waited == 0.0
    clock.t = 1011.0
    assert lim.try_acquire() == 0.0
    assert lim.try_acquire() == pytest.approx(2.0)
    clock.t = 1030.0
    with lim.held():
        clock.t += 12  # longer than the window
    assert lim.try_acquire() == 0.0
    assert lim.try_acquire() == pytest.approx(10.0)
