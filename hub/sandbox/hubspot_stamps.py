"""What HubSpot's search index holds of a record's modification stamp while it lags.

Search is eventually consistent ("a few moments"; anchors: CRM search). A record made since the
index caught up is not found; one changed since is still found, under its earlier stamp.
"""

from __future__ import annotations

from typing import Any

#: modification stamps kept per record, for what search's lagging index still holds
STAMPS_KEPT = 8


def remember_stamp(rec: dict[str, Any], at_ms: int) -> None:
    """Keep the record's latest modification stamps (``rec["stamps"]``, oldest first)."""
    stamps = rec.setdefault("stamps", [])
    stamps.append(at_ms)
    del stamps[:-STAMPS_KEPT]


def indexed_stamp(rec: dict[str, Any], until_ms: int) -> int | None:
    """The modification stamp search's index holds for ``rec`` when it has caught up with
    changes up to ``until_ms``: its newest stamp at or before then; None when the record was
    made after it (not searchable yet). A record changed since is still found, under the stamp
    of its version before: filtered and sorted by that, while the record returned is the
    current one, with its new ``lastmodifieddate``. estuary/connectors PR #2210 saw live search
    results out of order on their modification stamp, some with stamps past the filter's upper
    bound; its guess at why is this model ("included in the search results based on its
    original timestamp", returned as updated since). That other indexed properties lag alike
    is not modelled."""
    if rec["updatedAt"] <= until_ms:
        return rec["updatedAt"]
    older = [s for s in rec.get("stamps") or () if s <= until_ms]
    return older[-1] if older else None
