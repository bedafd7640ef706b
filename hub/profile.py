"""A contact's activity profile: day-bucketed counts that grow one activity at a time.

Features need recency and frequency over 1/7/30/90 days. Rescanning 90 days of activities per
decision does not scale, so the store keeps one profile per contact, updated in the same
transaction that inserts the activities (hub/store/activities.py). The profile is plain JSON:

- ``days``: ``{kind: {day_number: count}}`` for the last :data:`KEEP_DAYS` days, where a kind is
  an activity type or a derived tag (``pricing``, ``docs``, ``topic:<name>``);
- ``last``: ``{kind: epoch seconds}`` of the newest occurrence (recency survives pruning);
- ``total``: ``{kind: count}`` over all time;
- ``hours``: ``{kind: {utc_hour_of_week: count}}`` over all time for the engagement kinds in
  :data:`HOUR_KINDS` (send-time optimization, decision/send_time.py; absent in old profiles);
- declared tags (decision/declared/aggregates.py): filtered counts as more kinds in ``days`` /
  ``last`` / ``total`` and ``latest``: ``{tag: [epoch seconds, value]}`` of event properties.

:func:`build_profile` computes the same structure from a list of activities up to a cut-off,
which is what tests and the learner use to prove features never see the future.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from decision.declared.aggregates import fold_tags
from hub.mirrors import is_mirror
from hub.models import Activity

KEEP_DAYS = 90
#: kinds whose hour of week is kept: when a person opens, clicks and browses
HOUR_KINDS = frozenset({"email_sent", "email_open", "email_click", "page_view", "form_submit", "content_download"})
DAY_SECONDS = 86_400
PRICING_WORDS = ("pricing", "price", "plans")
DOCS_WORDS = ("docs", "documentation", "developer", "api-reference")
#: Topic words searched in activity properties; the first match tags the activity.
TOPIC_WORDS = {
    "technical": ("technical", "architecture", "docs", "developer", "api", "webinar"),
    "business": ("business", "roi", "pricing", "case study", "case_study", "customer story"),
}


def empty_profile() -> dict[str, Any]:
    return {"days": {}, "last": {}, "total": {}}


def _text(props: dict[str, Any]) -> str:
    return " ".join(str(v) for v in props.values() if isinstance(v, str | int | float)).lower()


def tags(activity: Activity) -> list[str]:
    """The profile kinds one activity counts under: its type plus derived tags."""
    kind = str(activity.type)  # a StrEnum's value (a plain string: itself), cheaper than .value
    props = activity.properties
    if not props:
        return [kind]
    try:  # the same few pages and e-mails recur: their tags are worked out once
        return list(_tags_of(kind, tuple((k, type(v), v) for k, v in props.items())))
    except TypeError:  # a list or dict among the properties: not hashable
        return list(_derive(kind, props))


@functools.lru_cache(maxsize=4096)
def _tags_of(kind: str, items: tuple[tuple[str, type, Any], ...]) -> tuple[str, ...]:
    return _derive(kind, {k: v for k, _, v in items})


def _derive(kind: str, props: dict[str, Any]) -> tuple[str, ...]:
    out = [kind]
    text = _text(props)
    if text:
        if any(w in text for w in PRICING_WORDS):
            out.append("pricing")
        if any(w in text for w in DOCS_WORDS):
            out.append("docs")
        topic = props.get("topic")
        if isinstance(topic, str) and topic:
            out.append(f"topic:{topic.lower()}")
        else:
            for name, words in TOPIC_WORDS.items():
                if any(w in text for w in words):
                    out.append(f"topic:{name}")
                    break
    return tuple(out)


def add_activity(
    profile: dict[str, Any], activity: Activity, declared: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """Fold one activity into ``profile`` (in place) and return it; ``declared``: the store's
    declared tags (decision/declared/aggregates.py). A mirror of an event already folded
    (hub/mirrors.py) adds nothing."""
    if is_mirror(activity.properties):
        return profile
    ts = activity.occurred_at.timestamp()
    day = str(int(ts // DAY_SECONDS))
    how = None  # its UTC hour of week, worked out once for every hour kind it counts under
    if declared:
        fold_tags(profile, activity, declared, day, ts)
    days, total, last = profile["days"], profile["total"], profile["last"]
    for kind in tags(activity):
        bucket = days.setdefault(kind, {})
        bucket[day] = bucket.get(day, 0) + 1
        total[kind] = total.get(kind, 0) + 1
        if ts > last.get(kind, float("-inf")):
            last[kind] = ts
        if kind in HOUR_KINDS:
            if how is None:
                utc = activity.occurred_at.astimezone(UTC)
                how = str(utc.weekday() * 24 + utc.hour)
            hours = profile.setdefault("hours", {}).setdefault(kind, {})
            hours[how] = hours.get(how, 0) + 1
    return profile


def prune(profile: dict[str, Any], now_ts: float) -> dict[str, Any]:
    """Drop day buckets older than :data:`KEEP_DAYS` before ``now_ts``."""
    floor = int(now_ts // DAY_SECONDS) - KEEP_DAYS - 1
    for kind, bucket in list(profile["days"].items()):
        kept = {d: c for d, c in bucket.items() if int(d) >= floor}
        if kept:
            profile["days"][kind] = kept
        else:
            del profile["days"][kind]
    return profile


def build_profile(
    activities: Iterable[Activity], until: datetime, declared: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The profile of ``activities`` that occurred at or before ``until`` (the no-leak path)."""
    profile = empty_profile()
    for a in activities:
        if a.occurred_at <= until:
            add_activity(profile, a, declared)
    return profile
