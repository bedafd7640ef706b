"""The simulated clock every record timestamp comes from.

Within a simulated day time runs with the wall clock (so successive writes get distinct,
increasing stamps) but never leaves the day; ``advance_days`` jumps to later days. Readings are
strictly increasing in milliseconds (HubSpot's stamps are these readings; Salesforce keeps its
own to the second, one per transaction, ``SalesforceState.stamp``, so its cursors do meet
ties). ``skip`` moves time on within the day (an idle quarter of an hour, the hours to a
midnight in another zone) without simulating anything. With ``realtime=False`` each reading is one millisecond after the last instead, so a
run that reads the clock the same way gets the same stamps however fast the machine is (tests
that compare learning runs need that).

With ``wall=True`` (`hub sandbox serve`) the clock reads the wall clock instead and a simulated
day is only a count that ``set_day`` moves on: a hub stamps its decisions with the wall clock,
and credits an activity only to a decision made before it (hub/pipeline/outcomes.py), so a world
on its own calendar (the default one starts on 2026-01-05) never had an outcome credited.
Nothing can move a wall clock on: ``skip`` and ``skip_until`` leave it, and time passes by itself.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

DAY_MS = 86_400_000
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)


class SimClock:
    """Simulated time in epoch milliseconds; thread-safe."""

    def __init__(self, start: datetime = DEFAULT_START, realtime: bool = True, wall: bool = False) -> None:
        """``start`` is ignored with ``wall``: that clock starts now."""
        self.wall = wall
        self.start_ms = _wall_ms() if wall else int(start.timestamp() * 1000)
        self.realtime = realtime or wall
        self.day = 0
        self._real0 = time.monotonic()
        self._skipped = 0  # ms skipped within the current day
        self._last = self.start_ms - 1
        self._wall_day_start = self.start_ms
        self._lock = threading.Lock()

    @property
    def day_start_ms(self) -> int:
        return self._wall_day_start if self.wall else self.start_ms + self.day * DAY_MS

    def now_ms(self) -> int:
        """The current simulated time; strictly greater than any earlier reading."""
        with self._lock:
            if self.wall:
                self._last = max(_wall_ms(), self._last + 1)
                return self._last
            elapsed = int((time.monotonic() - self._real0) * 1000) if self.realtime else 0
            elapsed += self._skipped
            t = self.day_start_ms + min(elapsed, DAY_MS - 1)
            t = max(t, self._last + 1)
            self._last = t
            return t

    def peek_ms(self) -> int:
        """The current simulated time without taking a reading: a quota that looks at the time
        on every request must not move the stamps records get (a ``realtime=False`` clock
        advances one millisecond per reading)."""
        with self._lock:
            if self.wall:
                return max(_wall_ms(), self._last)
            elapsed = int((time.monotonic() - self._real0) * 1000) if self.realtime else 0
            return max(self.day_start_ms + min(elapsed + self._skipped, DAY_MS - 1), self._last)

    @property
    def last_ms(self) -> int:
        return self._last

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ms() / 1000, UTC)

    def set_day(self, day: int) -> None:
        """Jump to the start of ``day`` (never backwards)."""
        with self._lock:
            if day < self.day:
                raise ValueError(f"cannot move the clock back from day {self.day} to {day}")
            self.day = day
            if self.wall:
                self._wall_day_start = max(_wall_ms(), self._last + 1)
                return
            self._real0 = time.monotonic()
            self._skipped = 0
            self._last = max(self._last, self.day_start_ms - 1)

    def skip_until(self, ms: int) -> None:
        """Move time on until it reads ``ms`` at least. Not ``skip(ms - now)``: a burst of
        readings runs them ahead of time (each a millisecond after the last), and time has to
        catch up with them before it moves them on."""
        if self.wall:
            return
        with self._lock:
            elapsed = int((time.monotonic() - self._real0) * 1000) if self.realtime else 0
            self._skipped += max(0, ms - (self.day_start_ms + elapsed + self._skipped))

    def skip(self, ms: int) -> None:
        """Move time ``ms`` on, never past the end of the day (``set_day`` leaves it)."""
        if ms < 0:
            raise ValueError(f"cannot move the clock back {ms} ms")
        if self.wall:
            return
        with self._lock:
            self._skipped += ms


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def iso_ms(ms: int) -> str:
    """HubSpot style: 2026-01-05T10:00:00.123Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def sf_datetime(ms: int) -> str:
    """Salesforce style: 2026-01-05T10:00:00.000+0000."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def parse_datetime_ms(value: str | int | float) -> int:
    """Epoch ms from epoch-ms numbers/strings or ISO 8601 (Z, +0000 or +00:00 offsets)."""
    if isinstance(value, int | float):
        return int(value)
    s = str(value).strip()
    if s.lstrip("-").isdigit():
        return int(s)
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    if len(s) > 5 and s[-5] in "+-" and s[-4:].isdigit():
        s = s[:-2] + ":" + s[-2:]
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def day_of(ms: int, start_ms: int) -> int:
    return (ms - start_ms) // DAY_MS


__all__ = ["SimClock", "iso_ms", "sf_datetime", "parse_datetime_ms", "timedelta"]
