"""Explanations in words: the top factors behind a choice, with their contributions.

Contributions come from the policy's ``explain_one`` (weight x the feature's distance from the
average of the rows the chosen action's model learned from, in objective points); this module only turns feature names and raw values into
phrases a sales rep can read in the CRM's ``reason`` field.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence

_TYPE_WORDS = {
    "page_view": "Viewed {n} page{s}",
    "email_sent": "Was sent {n} email{s}",
    "email_open": "Opened {n} email{s}",
    "email_click": "Clicked {n} email{s}",
    "form_submit": "Submitted {n} form{s}",
    "content_download": "Downloaded content {n} time{s}",
    "webinar": "Attended {n} webinar{s}",
    "meeting": "Had {n} meeting{s}",
    "call": "Had {n} call{s}",
    "unsubscribe": "Unsubscribed {n} time{s}",
}
_WINDOW_WORDS = {"1d": "today", "7d": "in the last 7 days", "30d": "in the last 30 days", "90d": "in the last 90 days"}
#: per activity kind: its count-column prefix, its recency column, its words (built once, not per phrase)
_KIND_NAMES = tuple((f"{kind}_", f"days_since_{kind}", kind.replace("_", " "), w) for kind, w in _TYPE_WORDS.items())


def _count(n: float) -> tuple[str, str]:
    return f"{n:g}", "" if n == 1 else "s"


def phrase(name: str, value: float) -> str:
    """A readable description of one feature's value.

    >>> phrase("pricing_7d", 3.0)
    'Visited the pricing page 3 times in the last 7 days'
    >>> phrase("industry_software", 1.0)
    'Industry is software'
    """
    # a decision words its top few columns, and the same (column, value) pairs recur across
    # decisions: kept by value and type, -0.0 apart from 0.0 (it is written "-0")
    return _phrase(name, value, value == 0 and math.copysign(1.0, value) < 0)


@functools.lru_cache(maxsize=4096, typed=True)
def _phrase(name: str, value: float, negative_zero: bool) -> str:
    n, s = _count(value)
    window = name.split("_")[-1]
    for page, words in (("pricing_", "the pricing page"), ("docs_", "the docs")):
        if name.startswith(page):
            return f"Visited {words} {n} time{s} {_WINDOW_WORDS[window]}"
    for prefix, since, kind, words in _KIND_NAMES:
        if name.startswith(prefix) and window in _WINDOW_WORDS:
            return f"{words.format(n=n, s=s)} {_WINDOW_WORDS[window]}"
        if name == since:
            return f"Last {kind} {value:.0f} days ago" if value < 365 else f"No {kind} on record"
    if name.startswith("topic_"):
        return f"{value:.0%} of recent content interest is {name[6:]}"
    for prefix, label in (
        ("industry_", "Industry is"),
        ("country_", "Country is"),
        ("seniority_", "Seniority is"),
        ("department_", "Department is"),
        ("stage_", "Lifecycle stage is"),
    ):
        if name.startswith(prefix):
            what = name[len(prefix) :].replace("_", " ")
            return f"{label} {what}" if value else f"{label} not {what}"
    if name == "email_open_rate":
        return f"Opens {value:.0%} of emails"
    if name == "email_click_rate":
        return f"Clicks {value:.0%} of emails"
    if name == "log_employees":
        return f"{value:,.0f} employees" if value else "Company size unknown"
    if name == "log_revenue":
        return f"Annual revenue {value:,.0f}" if value else "Revenue unknown"
    if name.startswith("days_since_") and name.endswith("_touch"):
        what = name[11:-6]
        return f"Last {what} touch {value:.0f} days ago" if value < 365 else f"No {what} touch on record"
    return f"{name.replace('_', ' ')} = {value:g}"


def top_factors(
    contributions: Iterable[tuple[int, float]],
    names: Sequence[str],
    raw: Sequence[float],
    top: int = 3,
    phrase: Callable[[str, float], str] = phrase,
) -> list[str]:
    """``["Visited the pricing page 3 times in the last 7 days: +0.21", ...]`` for the largest
    non-zero contributions (already sorted by ``explain_one``); ``phrase`` words a column
    (the engine's also knows the declared columns' labels)."""
    out: list[str] = []
    for j, c in contributions:
        if len(out) >= top or abs(c) < 1e-3:
            # largest first: past the first negligible one, every other is too (a model that
            # learned nothing of a row reads no further than that)
            break
        out.append(f"{phrase(names[j], float(raw[j]))}: {c:+.2f}")
    return out
