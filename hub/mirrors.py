"""One event seen through two systems is one event.

A company that runs HubSpot and Salesforce side by side sees each marketing e-mail twice: the
send in HubSpot and the Task its Salesforce sync logs; a call logged in both; an unsubscribe that
arrives as a HubSpot event and, separately, as the opt-out flag the hub turns into an activity.
Counted twice, a person looks twice as touched (the 7-day cap bites at half the e-mails) and an
unsubscribe costs the learner twice its weight.

So an activity of a type below, for the same contact, from another source, within that type's
window of one already stored, is stored as a *mirror*: kept (the timeline shows both, nothing
is lost), with ``properties["mirror_of"] = "<source>:<external_id>"`` naming the first, and left
out of profiles, expression counts, outcome attribution and report metrics. Within one source two
events are two events (two e-mails an hour apart are two touches).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

MIRROR_KEY = "mirror_of"

#: how far apart two systems' records of one event may be stamped
WINDOWS: dict[str, timedelta] = {
    "email_sent": timedelta(hours=1),
    "email_open": timedelta(hours=1),
    "email_click": timedelta(hours=1),
    "form_submit": timedelta(hours=1),
    "content_download": timedelta(hours=1),
    "webinar": timedelta(hours=1),
    "meeting": timedelta(hours=1),
    "call": timedelta(hours=1),
    "opportunity_created": timedelta(days=1),
    "opportunity_won": timedelta(days=1),
    "opportunity_lost": timedelta(days=1),
    # an opt-out flag can reach the hub a sync or two after the vendor's unsubscribe event
    "unsubscribe": timedelta(days=2),
}
LONGEST = max(WINDOWS.values())


def is_mirror(properties: Mapping[str, Any] | None) -> bool:
    """True for a stored activity that repeats one recorded before it (see the module docstring)."""
    return bool(properties) and MIRROR_KEY in properties  # type: ignore[operator]


#: (contact id, type) -> the (time, source, external id) of events already counted
Seen = dict[tuple[int, str], list[tuple[datetime, str, str]]]


def mark(rows: Iterable[dict[str, Any]], seen: Seen) -> list[dict[str, Any]]:
    """Mark the rows (``contact_id``, ``type``, ``occurred_at``, ``source``, ``external_id``,
    ``properties``) that repeat an event in ``seen`` or an earlier row; returns those newly
    marked. ``seen`` grows by the rows that are not mirrors."""
    marked = []
    for r in sorted((r for r in rows if r["type"] in WINDOWS), key=lambda r: r["occurred_at"]):
        if is_mirror(r["properties"]):
            continue
        window = WINDOWS[r["type"]]
        known = seen.setdefault((r["contact_id"], r["type"]), [])
        first = next(
            (f"{s}:{e}" for at, s, e in known if s != r["source"] and abs(at - r["occurred_at"]) <= window), None
        )
        if first is None:
            known.append((r["occurred_at"], r["source"], r["external_id"]))
        else:
            r["properties"] = {**(r["properties"] or {}), MIRROR_KEY: first}
            marked.append(r)
    return marked
