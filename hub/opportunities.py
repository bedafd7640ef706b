"""A closed opportunity implies its opening.

HubSpot and Salesforce give every deal an ``opportunity_created`` (at its create date) beside
its ``opportunity_won`` / ``opportunity_lost``, and the hub counts opportunities, pipeline and
the objective's ``opportunity`` points from the openings. A file, a Segment ``track`` or a
warehouse table often holds only the closed deals, and a won deal is an opportunity too: in
CRM terms it was opened before it closed. So each closing that no opening of the contact
accounts for gets one: same contact, time, source and properties (its amount is the pipeline),
keyed ``<closing id>:opened`` and marked ``implied_by``. Openings and closings are matched per
contact in time order (an opening at the closing's time counts); only a new closing gets one,
so reading the same rows again adds nothing. Mirrors (the same event from a second source,
hub/mirrors.py) are neither openings nor closings.

Known limit: closed deals imported before their openings (a file of openings imported after
the file of wins) count twice; import openings first, or both in one file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from hub import mirrors

OPENED = "opportunity_created"
CLOSED = ("opportunity_won", "opportunity_lost")
TYPES = (OPENED, *CLOSED)
SUFFIX = ":opened"
#: the property an implied opening carries: the id of the closing it was made for
IMPLIED = "implied_by"


def is_implied(properties: dict[str, Any] | None) -> bool:
    """Is this opening one implied by a closing (its time is the close, not when it opened)?"""
    return bool((properties or {}).get(IMPLIED))


def _events(rows: Iterable[dict[str, Any]], new: bool) -> list[tuple[datetime, int, bool, dict[str, Any]]]:
    """(time, 0 for an opening / 1 for a closing, new, row): openings sort before closings at one time."""
    return [
        (r["occurred_at"], 0 if r["type"] == OPENED else 1, new, r)
        for r in rows
        if r["type"] in TYPES and not mirrors.is_mirror(r["properties"])
    ]


def implied_openings(new_rows: list[dict[str, Any]], stored: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Openings for the new closings in ``new_rows`` that no opening accounts for.

    Rows are store rows (``contact_id``, ``type``, ``occurred_at``, ``properties``, ``source``,
    ``external_id``, ``channel``); ``stored`` are the contacts' opportunity activities already
    in the store.

    >>> from datetime import UTC, datetime
    >>> won = {"contact_id": 1, "type": "opportunity_won", "occurred_at": datetime(2026, 1, 2, tzinfo=UTC),
    ...        "properties": {"amount": 9}, "source": "import", "external_id": "w1", "channel": "sales"}
    >>> [(r["type"], r["external_id"], r["properties"]) for r in implied_openings([won], [])]
    [('opportunity_created', 'w1:opened', {'amount': 9, 'implied_by': 'w1'})]
    >>> opened = {**won, "type": "opportunity_created", "external_id": "c1"}
    >>> implied_openings([won], [opened])
    []
    """
    by_contact: dict[int, list[tuple[datetime, int, bool, dict[str, Any]]]] = {}
    for ev in _events(stored, False) + _events(new_rows, True):
        by_contact.setdefault(ev[3]["contact_id"], []).append(ev)
    out: list[dict[str, Any]] = []
    for events in by_contact.values():
        open_ = 0  # openings not yet matched to a closing
        for _at, closing, new, row in sorted(events, key=lambda e: e[:2]):
            if not closing:
                open_ += 1
            elif open_:
                open_ -= 1
            elif new:
                out.append(_opening(row))
    return out


def _opening(closing: dict[str, Any]) -> dict[str, Any]:
    return {
        **closing,
        "type": OPENED,
        "properties": {**(closing["properties"] or {}), IMPLIED: closing["external_id"]},
        "external_id": closing["external_id"] + SUFFIX,
    }
