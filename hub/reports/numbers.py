"""One way to write a figure for people, shared by the CLI's tables and the console's pages.

Four significant digits with thousands separators, but never scientific notation where a person
expects an amount: ``format(72187.0, ',.4g')`` is ``7.219e+04``, so from 1,000 up a figure is
written whole (72,187). Not a number is ``-``; an infinity ``∞``. Contacts still needed are
rounded up, and times are written in UTC (the column or the value says so). Names that carry
numbers are listed in natural order (a2 before a10).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime


def figure(value: float | int | None, sign: bool = False) -> str:
    """``value`` as a table shows it: ``1,357``, ``72,187``, ``0.00277``, ``-1.341``; ``sign`` adds a + to positives."""
    if value is None:
        return "-"
    v = float(value)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return ("+∞" if sign else "∞") if v > 0 else "-∞"
    plus = "+" if sign else ""
    if abs(v) >= 999.95:  # what .4g would write as 1e+03 and up
        return f"{v:{plus},.0f}"
    return f"{v:{plus},.4g}"


def interval(low: float | None, high: float | None) -> str:
    """A 95% interval as every table and page writes it: ``[-0.7321, +5.532]``."""
    return f"[{figure(low, sign=True)}, {figure(high, sign=True)}]"


def estimate(diff: float | None, low: float | None, high: float | None, note: str | None = None) -> str:
    """A lift and its interval, or the note saying why there is none: ``+2.4 [-0.7321, +5.532]``."""
    return f"{figure(diff, sign=True)} " + (f"({note})" if note else interval(low, high))


def relative(value: float | None) -> str:
    """A lift relative to the baseline mean: ``-40.7%``; ``-`` where the baseline mean is not positive."""
    return "-" if value is None else f"{value:+.1%}"


def people(value: float | None) -> str:
    """A number of contacts: whole, rounded up, with separators (1,386); ``∞`` where no lift is seen."""
    if value is None or math.isnan(value):
        return "-"
    return "∞" if math.isinf(value) else f"{math.ceil(value):,}"


def utc_time(value: datetime | None, seconds: bool = False) -> str:
    """``value`` in UTC to the minute (or second): PostgreSQL hands back times in the session's
    zone, SQLite naive ones that are already UTC."""
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that reads the digits in a name as a number, as a person lists them.

    >>> sorted(["a10", "a2", "b", "a1"], key=natural_key)
    ['a1', 'a2', 'a10', 'b']
    """
    return tuple((1, int(part)) if part.isdigit() else (0, part) for part in re.split(r"(\d+)", name) if part)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and its noun, singular for exactly one (never ``1 columns`` nor ``contact(s)``).

    >>> counted(1, "column"), counted(0, "push", "pushes"), counted(1200, "person", "people")
    ('1 column', '0 pushes', '1,200 people')
    """
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def reach_title(with_action: int, total: int) -> str:
    """``3 of 10 contacts get an action``; ``1 of 1 contact gets an action`` (the verb agrees)."""
    return f"{with_action:,} of {counted(total, 'contact')} {'gets' if total == 1 else 'get'} an action"
