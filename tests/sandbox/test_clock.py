"""The simulated clock: strictly increasing stamps, and a machine-speed-free mode."""

from __future__ import annotations

import time

from hub.sandbox.clock import DAY_MS, SimClock


def test_readings_increase_strictly_within_a_day():
    clock = SimClock()
    readings = [clock.now_ms() for _ in range(500)]
    assert all(b > a for a, b in zip(readings, readings[1:], strict=False))
    assert readings[-1] < clock.start_ms + DAY_MS


def test_without_realtime_the_stamps_do_not_depend_on_how_slow_the_machine_is():
    fast, slow = SimClock(realtime=False), SimClock(realtime=False)
    a = [fast.now_ms() for _ in range(3)]
    b = []
    for _ in range(3):
        time.sleep(0.02)
        b.append(slow.now_ms())
    assert a == b == [fast.start_ms, fast.start_ms + 1, fast.start_ms + 2]
    fast.set_day(2)
    assert fast.now_ms() == fast.start_ms + 2 * DAY_MS


def test_with_realtime_the_wall_clock_moves_the_stamps():
    clock = SimClock()
    first = clock.now_ms()
    time.sleep(0.05)
    assert clock.now_ms() - first >= 40


def test_skip_moves_time_on_within_the_day_only() -> None:
    for realtime in (True, False):
        clock = SimClock(realtime=realtime)
        before = clock.now_ms()
        clock.skip(15 * 60_000)
        assert 15 * 60_000 <= clock.now_ms() - before < 16 * 60_000
        clock.skip(2 * DAY_MS)
        assert clock.now_ms() < clock.start_ms + DAY_MS  # never past the day
        clock.set_day(1)
        assert clock.now_ms() - clock.day_start_ms < 60_000  # a new day starts at its midnight


def test_a_peek_takes_no_reading():
    """Quotas look at the time on every request; on a realtime=False clock a reading moves the
    next record's stamp, so they peek instead."""
    clock = SimClock(realtime=False)
    first = clock.now_ms()
    assert clock.peek_ms() == clock.peek_ms() == first
    assert clock.now_ms() == first + 1


def test_skip_until_reaches_the_time_asked_even_when_a_burst_ran_the_readings_ahead():
    """10,000 readings in a burst run the stamps up to ten seconds ahead of time (a millisecond
    each), so ``skip(5_000)`` could leave the next reading less than 5 s after the last one."""
    for clock in (SimClock(), SimClock(realtime=False)):
        last = [clock.now_ms() for _ in range(10_000)][-1]
        clock.skip_until(last + 5_000)
        assert clock.now_ms() >= last + 5_000


def test_a_wall_clock_reads_the_wall_and_days_only_count():
    """`hub sandbox serve`'s clock: stamps on the wall (a hub credits outcomes by wall-clock
    time), strictly increasing, a new day moving the count and not the time, nothing skipping it."""
    before = time.time_ns() // 1_000_000
    clock = SimClock(wall=True)
    readings = [clock.now_ms() for _ in range(500)]
    assert before <= readings[0] and all(b > a for a, b in zip(readings, readings[1:], strict=False))
    clock.set_day(3)
    clock.skip(3_600_000)
    clock.skip_until(readings[-1] + DAY_MS)
    after = clock.now_ms()
    assert clock.day == 3 and readings[-1] < after <= max(time.time_ns() // 1_000_000, readings[-1] + 2)
    assert clock.day_start_ms <= after and clock.peek_ms() >= after
