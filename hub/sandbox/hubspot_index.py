"""A columnar index over HubSpot records (contacts; meetings, calls and deals), so list
paging and cursor searches stay fast at 100,000 records. Rebuilt lazily when the state's
version for that object moves (any write bumps it).

Only the fields a sync walks on are indexed: record id, last modified, created, archived;
each object type names the properties that read them (``CONTACT_FAST``, ``ENGAGEMENT_FAST``).
Searches filtering or sorting on anything else take the general path in hubspot_search.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hub.sandbox.clock import parse_datetime_ms
from hub.sandbox.hubspot_stamps import indexed_stamp

CONTACT_FAST = {
    "hs_object_id": "ids",
    "lastmodifieddate": "updated",
    "hs_lastmodifieddate": "updated",
    "createdate": "created",
}
# an engagement's createdate (a deal's) is when it opened, not when the record was made
ENGAGEMENT_FAST = {"hs_object_id": "ids", "hs_lastmodifieddate": "updated"}


@dataclass
class RecordIndex:
    version: int
    fast: dict[str, str]  # property -> the column it reads
    keys: list[str]  # record ids (strings), ascending numeric order
    ids: np.ndarray
    updated: np.ndarray
    created: np.ndarray
    archived: np.ndarray
    recs: list[dict[str, Any]]  # the records, in ``keys`` order

    @classmethod
    def build(cls, records: dict[str, dict[str, Any]], version: int, fast: dict[str, str]) -> RecordIndex:
        keys = list(records)
        ids = np.fromiter((int(k) for k in keys), dtype=np.int64, count=len(keys))
        order = np.argsort(ids, kind="stable")
        keys = [keys[i] for i in order]
        recs = [records[k] for k in keys]
        n = len(keys)
        return cls(
            version,
            fast,
            keys,
            ids[order],
            np.fromiter((r["updatedAt"] for r in recs), dtype=np.int64, count=n),
            np.fromiter((r["createdAt"] for r in recs), dtype=np.int64, count=n),
            np.fromiter((r["archived"] for r in recs), dtype=bool, count=n),
            recs,
        )

    def page_after(self, after: int, limit: int, archived: bool) -> tuple[list[str], bool]:
        """Up to ``limit`` ids greater than ``after`` (ascending), and whether more follow."""
        start = int(np.searchsorted(self.ids, after, side="right"))
        sel = np.flatnonzero(self.archived[start:] == archived)[: limit + 1] + start
        return [self.keys[i] for i in sel[:limit]], len(sel) > limit

    def search(self, groups: list[dict[str, Any]], sort_name: str, desc: bool, visible_until: int) -> list[str] | None:
        """Matching ids in sort order, or None when the request needs the general path."""
        if sort_name not in self.fast or any(
            f.get("propertyName") not in self.fast for g in groups for f in g.get("filters") or []
        ):
            return None
        cols = {"ids": self.ids, "updated": self.updated, "created": self.created}
        cols["updated"], indexed = self.indexed_stamps(visible_until)
        mask = np.zeros(len(self.keys), dtype=bool) if groups else np.ones(len(self.keys), bool)
        try:
            for g in groups:
                m = np.ones(len(self.keys), dtype=bool)
                for f in g.get("filters") or []:
                    m &= self._filter(f, cols)
                mask |= m
        except (ValueError, TypeError):
            return None  # unparseable values: let the general path apply its semantics
        mask &= ~self.archived & indexed
        sel = np.flatnonzero(mask)
        col = cols[self.fast[sort_name]][sel]
        order = np.lexsort((self.ids[sel], col))
        if desc:
            order = order[::-1]
        return [self.keys[i] for i in sel[order]]

    def indexed_stamps(self, until_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """The modification stamps search's index holds with changes up to ``until_ms`` indexed
        (a record changed since keeps its earlier stamp: ``indexed_stamp``), and which records
        it holds at all."""
        stamps, indexed = self.updated, np.ones(len(self.keys), dtype=bool)
        late = np.flatnonzero(self.updated > until_ms)
        if len(late):
            stamps = stamps.copy()
            for i in late:
                held = indexed_stamp(self.recs[i], until_ms)
                stamps[i], indexed[i] = (held, True) if held is not None else (0, False)
        return stamps, indexed

    def _filter(self, f: dict[str, Any], cols: dict[str, np.ndarray]) -> np.ndarray:
        name = f["propertyName"]
        col = cols[self.fast[name]]
        op = str(f.get("operator", "EQ")).upper()

        def val(v: Any) -> int:
            return int(float(v)) if name == "hs_object_id" else parse_datetime_ms(v)

        if op == "HAS_PROPERTY":
            return np.ones(len(col), dtype=bool)
        if op == "NOT_HAS_PROPERTY":
            return np.zeros(len(col), dtype=bool)
        if op in ("IN", "NOT_IN"):
            hit = np.isin(col, [val(v) for v in f.get("values") or []])
            return hit if op == "IN" else ~hit
        if op == "BETWEEN":
            return (col >= val(f.get("value"))) & (col <= val(f.get("highValue")))
        v = val(f.get("value"))
        ops = {
            "EQ": col == v,
            "NEQ": col != v,
            "GT": col > v,
            "GTE": col >= v,
            "LT": col < v,
            "LTE": col <= v,
        }
        if op not in ops:
            raise ValueError(op)
        return ops[op]
