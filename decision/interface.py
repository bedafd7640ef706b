"""The small interface the pipeline's ``decide`` step calls.

A policy turns a batch of contact views into decisions. It never touches the store, the
broker or a connector; the pipeline loads the views and writes what comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from hub.models import Activity, Contact, Decision

#: batches up to this many rows (the real-time API's) take row-by-row Python paths where a
#: policy has them: on a few rows each numpy call costs more than its work
FEW_ROWS = 8


@dataclass
class ContactView:
    """A contact as of decision time: its stored ``profile`` (hub/profile.py), the aggregates of
    all its history, on every hub path (decide batches, the real-time API), or its
    ``activities`` where a caller has no store (in-process callers, tests), from which
    the engine builds the profile.
    """

    contact: Contact
    activities: list[Activity] = field(default_factory=list)
    profile: dict[str, Any] | None = None
    #: the hub's own recent decisions for this contact, ``(when, action id)``: the contact
    #: policy counts touches already ordered but not yet seen back as activities
    decided: list[tuple[datetime, str]] = field(default_factory=list)


class Policy(Protocol):
    name: str
    version: str

    def decide(self, batch: list[ContactView], now: datetime) -> list[Decision]:
        """One decision per view, in order. A view may get a decision with no actions."""
        ...
