"""The org's Recycle Bin: how long ``queryAll`` still shows a deleted record.

Deleted records stay in the Recycle Bin 15 days, then are deleted for good; an org's bin holds
at most 5,000 records a user license, and past that Salesforce removes the oldest records that
have been in it at least two hours (SOAP API guide, emptyRecycleBin(), Usage). A record gone
from the bin is gone from queryAll (the guide: after emptyRecycleBin() queryAll may find it for
about 24 hours more; the sandbox drops it at once) and from one-row writes (404 NOT_FOUND).
``GET /sobjects/{T}/deleted`` reports as ``earliestDateAvailable`` "the timestamp of the last
physically deleted object" of the type (SOAP GetDeletedResult): its deletion time here, so a
reader that last read deletions before it may have missed some (with nothing deleted for good
yet, 15 days before the sandbox clock's start).
"""

from __future__ import annotations

RETENTION_MS = 15 * 86_400_000
MIN_HELD_MS = 2 * 3_600_000  # a full bin removes only records held at least this long


class RecycleBin:
    """Deleted records, oldest first, and those deleted for good since."""

    def __init__(self, capacity: int = 25_000) -> None:
        self.capacity = capacity
        self.held: dict[str, tuple[str, int]] = {}  # id -> (sObject type, deleted at)
        self.purged: set[str] = set()
        self.last_purged: dict[str, int] = {}  # sObject type -> deletion time of its last purged record

    def earliest_available(self, sobject: str, org_start_ms: int) -> int:
        """``earliestDateAvailable`` for ``sobject``. GK: what Salesforce answers when nothing
        was ever deleted for good is not documented; the sandbox says 15 days before its clock's
        start (the org existed before), never a time a reader could have read after."""
        return self.last_purged.get(sobject, org_start_ms - RETENTION_MS)

    def add(self, sobject: str, rid: str, at: int) -> None:
        self.held[rid] = (sobject, at)

    def sweep(self, now: int) -> None:
        """Delete for good what has been held 15 days, and the oldest of a full bin."""
        while self.held:
            rid, (sobject, at) = next(iter(self.held.items()))
            held = now - at
            if held < RETENTION_MS and not (len(self.held) > self.capacity and held >= MIN_HELD_MS):
                return  # the rest were deleted later still
            del self.held[rid]
            self.purged.add(rid)
            self.last_purged[sobject] = max(self.last_purged.get(sobject, at), at)
