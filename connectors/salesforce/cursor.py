"""The opaque cursor of one stream: per object, the newest SystemModstamp read and the
(Id, SystemModstamp) of the rows read near it.

Every sync's window starts ``overlap`` before ``since`` and skips only the rows whose exact
(Id, SystemModstamp) was already read, so the overlap costs no duplicates and loses nothing.
Salesforce stamps whole seconds, one per transaction, and transactions started in the same
second commit at different times, with Ids in no commit order (an update of an older record
keeps its low Id): a row can land at a second a sync has already read, behind the Id it read
last. So the cursor keeps no position inside a second across syncs; (SystemModstamp, Id)
keyset paging lives inside one sync only (connectors/salesforce/reader.py). Past ``MAX_SEEN``
ids the overlap re-reads rows, which the store's idempotent upserts absorb.
Stored as compact JSON; a cursor that does not parse is refused, never guessed.

>>> c = StreamCursor.loads(None)
>>> c.objects["Contact"] = ObjectCursor(since_ms=1_700_000_000_000, seen={"003A": 1_700_000_000_000})
>>> StreamCursor.loads(c.dumps()).objects["Contact"].since_ms
1700000000000
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from hub.errors import FatalConnectorError

VERSION = 1
#: ids kept for the overlap, newest stamps first; beyond this the next window's overlap re-reads
#: rows (harmless: the store is idempotent, just slower)
MAX_SEEN = 2000


@dataclass
class ObjectCursor:
    since_ms: int | None = None
    seen: dict[str, int] = field(default_factory=dict)
    #: when (the connector's clock) a window of this object was last read to its end; deletions
    #: older than the Recycle Bin's retention cannot be seen after a longer gap
    read_ms: int | None = None

    def is_new(self, record_id: str, stamp_ms: int) -> bool:
        return self.seen.get(record_id) != stamp_ms

    def advance(self, rows: list[tuple[str, int]], overlap_ms: int) -> ObjectCursor:
        """The cursor after ``rows`` (id, stamp) were read: ``since`` is the newest stamp, and
        ``seen`` the ids of the newest rows within the overlap before it."""
        if not rows:
            return self
        since = max([self.since_ms or 0] + [s for _, s in rows])
        floor = since - overlap_ms
        seen = dict(self.seen)
        seen.update(rows)
        newest = sorted(((i, t) for i, t in seen.items() if t >= floor), key=lambda x: x[1], reverse=True)
        return ObjectCursor(since_ms=since, seen=dict(newest[:MAX_SEEN]), read_ms=self.read_ms)


@dataclass
class StreamCursor:
    objects: dict[str, ObjectCursor] = field(default_factory=dict)

    def get(self, sobject: str) -> ObjectCursor:
        return self.objects.get(sobject, ObjectCursor())

    def dumps(self) -> str:
        return json.dumps(
            {
                "v": VERSION,
                "o": {
                    k: {
                        "s": c.since_ms,
                        "i": c.seen,
                        "r": c.read_ms,
                    }
                    for k, c in sorted(self.objects.items())
                },
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, raw: str | None) -> StreamCursor:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            if data.get("v") != VERSION:
                raise ValueError(f"version {data.get('v')!r}")
            objects = {
                k: ObjectCursor(
                    since_ms=None if v["s"] is None else int(v["s"]),
                    seen={str(i): int(s) for i, s in v["i"].items()},
                    read_ms=None if v.get("r") is None else int(v["r"]),  # absent in cursors written before it
                )
                # "t", "n", "u" (a position inside a second and runs of equal stamps, written by
                # earlier versions) are ignored: the next window re-reads the overlap instead
                for k, v in data["o"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FatalConnectorError(
                f"Salesforce cursor {raw[:60]!r} is not one this connector wrote ({exc}); reset the stream's cursor."
            ) from None
        return cls(objects=objects)
