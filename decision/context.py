"""The names a rule or eligibility expression can use about a contact."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from decision.interface import ContactView
from hub.mirrors import is_mirror
from hub.models import ActivityType, Contact
from hub.profile import DAY_SECONDS

WINDOWS = (7, 30, 90)
_TYPES = tuple(t.value for t in ActivityType)
_TYPE_SET = frozenset(_TYPES)


def window_counts(view: ContactView, now: datetime, windows: tuple[int, ...] = WINDOWS) -> dict[int, dict[str, int]]:
    """Per window of days, the activities of each type in it: one pass over the activities
    (or the profile's day buckets) for every window."""
    out = {days: dict.fromkeys(_TYPES, 0) for days in windows}
    if view.profile is not None and not view.activities:
        # calendar days from the profile's day buckets; buckets after today are the future
        today = int(now.timestamp() // DAY_SECONDS)
        for kind, bucket in view.profile.get("days", {}).items():
            if kind in _TYPE_SET:
                ages = [(today - int(d), c) for d, c in bucket.items()]
                for days in windows:
                    out[days][kind] = sum(c for age, c in ages if 0 <= age < days)
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


def expression_env(view: ContactView, now: datetime) -> dict[str, Any]:
    c = view.contact
    env: dict[str, Any] = {
        "email": c.primary_email,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "job_title": c.job_title,
        "role": c.role,
        "lifecycle_stage": c.lifecycle_stage,
        "owner": c.owner,
        "company": c.company.name,
        "industry": c.company.industry,
        "employees": c.company.employees,
        "annual_revenue": c.company.annual_revenue,
        "country": c.company.country,
        "timezone": c.company.timezone,
        "email_opt_out": c.consent.email_opt_out,
        "do_not_contact": c.consent.do_not_contact,
        "properties": c.properties,
        "connectors": sorted({i.connector for i in c.identities}),
    }
    for days, counts in window_counts(view, now).items():
        env[f"activities_{days}d"] = counts
    return env


#: Every name an expression may use; config validation rejects any other.
EXPRESSION_NAMES = frozenset(expression_env(ContactView(contact=Contact()), datetime(2000, 1, 1)))
