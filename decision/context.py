"""The names a rule or eligibility expression can use about a contact."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from decision.interface import ContactView
from hub.mirrors import is_mirror
from hub.models import ActivityType, Contact
from hub.profile import DAY_SECONDS

WINDOWS = (7, 30, 90)
_TYPES = tuple(t.value for t in ActivityType)
_TYPE_SET = frozenset(_TYPES)

#: each name read off the contact, and how
_CONTACT_NAMES: dict[str, Callable[[Contact], Any]] = {
    "email": attrgetter("primary_email"),
    "first_name": attrgetter("first_name"),
    "last_name": attrgetter("last_name"),
    "job_title": attrgetter("job_title"),
    "role": attrgetter("role"),
    "lifecycle_stage": attrgetter("lifecycle_stage"),
    "owner": attrgetter("owner"),
    "company": attrgetter("company.name"),
    "industry": attrgetter("company.industry"),
    "employees": attrgetter("company.employees"),
    "annual_revenue": attrgetter("company.annual_revenue"),
    "country": attrgetter("company.country"),
    "timezone": attrgetter("company.timezone"),
    "email_opt_out": attrgetter("consent.email_opt_out"),
    "do_not_contact": attrgetter("consent.do_not_contact"),
    "properties": attrgetter("properties"),
    "connectors": lambda c: sorted({i.connector for i in c.identities}),
}


def window_counts(view: ContactView, now: datetime, windows: tuple[int, ...] = WINDOWS) -> dict[int, dict[str, int]]:
    """Per window of days, the activities of each type in it: one pass over the activities
    (or the profile's day buckets) for every window."""
    out = {days: dict.fromkeys(_TYPES, 0) for days in windows}
    if view.profile is not None and not view.activities:
        # calendar days from the profile's day buckets; buckets after today are the future
        today = int(now.timestamp() // DAY_SECONDS)
        for kind, bucket in view.profile.get("days", {}).items():
            if kind in _TYPE_SET:
                for d, c in bucket.items():  # each window's sum in bucket order, from 0
                    age = today - int(d)
                    for days in windows:
                        if 0 <= age < days:
                            out[days][kind] += c
        return out
    since = [(days, now - timedelta(days=days)) for days in windows]
    for a in view.activities:
        at = a.occurred_at
        if at <= now and not is_mirror(a.properties):
            kind = str(a.type)  # the StrEnum's value, cheaper than .value
            for days, start in since:
                if start <= at:
                    out[days][kind] += 1
    return out


@functools.lru_cache(maxsize=64)
def _reads(names: frozenset[str] | None) -> tuple[tuple[tuple[str, Callable[[Contact], Any]], ...], tuple[int, ...]]:
    """The contact names and the windows of :func:`expression_env` for ``names`` (None: all)."""
    contact = tuple((k, get) for k, get in _CONTACT_NAMES.items() if names is None or k in names)
    windows = tuple(days for days in WINDOWS if names is None or f"activities_{days}d" in names)
    return contact, windows


def expression_env(view: ContactView, now: datetime, names: frozenset[str] | None = None) -> dict[str, Any]:
    """What expressions can read about ``view``'s contact at ``now``; ``names``: only these
    (an engine's expressions read a few names, and each read costs, the window counts most)."""
    contact, windows = _reads(names)
    c = view.contact
    env: dict[str, Any] = {}
    for k, get in contact:
        env[k] = get(c)
    if windows:
        for days, counts in window_counts(view, now, windows).items():
            env[f"activities_{days}d"] = counts
    return env


#: Every name an expression may use; config validation rejects any other.
EXPRESSION_NAMES = frozenset(expression_env(ContactView(contact=Contact()), datetime(2000, 1, 1)))
