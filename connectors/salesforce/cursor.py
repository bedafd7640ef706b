"""The opaque cursor of one stream: per object, the newest SystemModstamp read, the Id read last
at it, and the ids read near it.

The next window starts ``overlap`` before ``since`` (a row committed late with an older stamp is
still caught) and skips rows whose (Id, SystemModstamp) was already read, so the overlap costs
no duplicates. At ``since`` itself the window starts after ``last_id`` (rows come ordered by
(SystemModstamp, Id)): a run of equal stamps longer than a batch, or than ``seen`` holds, is
resumed exactly where it stopped. A run of equal stamps the cursor has moved past is kept as
its (stamp, last Id) too, so the next window's overlap leaves it out without listing its ids.
Stored as compact JSON; a cursor that does not parse is
refused, never guessed.

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
#: ids kept for the overlap; beyond this the next window's overlap re-reads rows (harmless: the
#: store is idempotent, just slower). Rows at ``since`` up to ``last_id`` are kept last: the
#: window leaves them out by ``last_id`` for as long as ``since`` stays.
MAX_SEEN = 2000
#: rows on one stamp that make a run (a Bulk load, a mass update): once the cursor has moved past
#: it, the run is kept as (stamp, last Id) and left out of the overlap by that, not by its ids
RUN_MIN = 100
MAX_RUNS = 10  # runs kept within the overlap, newest first; an older one's rows may be re-read


@dataclass
class ObjectCursor:
    since_ms: int | None = None
    seen: dict[str, int] = field(default_factory=dict)
    #: when (the connector's clock) a window of this object was last read to its end; deletions
    #: older than the Recycle Bin's retention cannot be seen after a longer gap
    read_ms: int | None = None
    #: the Id read last at ``since_ms`` in (SystemModstamp, Id) order; None: not known (a Bulk
    #: read, a cursor written before it), so rows at ``since_ms`` are read again and deduplicated
    last_id: str | None = None
    #: rows read at ``since_ms`` so far
    at_since: int = 0
    #: runs older than ``since_ms`` within the overlap: stamp -> the last Id read at it. The window
    #: leaves out the rows at that stamp up to that Id, so the run takes no room in ``seen``. A
    #: row committed late at exactly that stamp behind that Id is not caught: a risk taken for
    #: runs only (a run is one transaction's rows, committed together)
    runs: dict[int, str] = field(default_factory=dict)

    def is_new(self, record_id: str, stamp_ms: int) -> bool:
        return self.seen.get(record_id) != stamp_ms

    def advance(
        self, rows: list[tuple[str, int]], overlap_ms: int, last: tuple[int, str] | None = None
    ) -> ObjectCursor:
        """The cursor after ``rows`` (id, stamp) were read. ``last``: the (stamp, id) of the batch's
        last row when the batch came ordered by (stamp, Id); without it (Bulk results come in no
        order) the Id read last at a new ``since`` is unknown and the stamp is read again."""
        if not rows and last is None:
            return self
        since = max([self.since_ms or 0] + [s for _, s in rows] + ([last[0]] if last else []))
        if last is not None and last[0] == since:
            last_id: str | None = last[1]
        else:
            last_id = self.last_id if since == self.since_ms else None
        count: dict[int, int] = {}
        last_at: dict[int, str] = {}  # in an ordered batch, the last row read at each stamp
        for rid, stamp in rows:
            count[stamp] = count.get(stamp, 0) + 1
            last_at[stamp] = rid
        if self.since_ms is not None:
            count[self.since_ms] = count.get(self.since_ms, 0) + self.at_since
            if self.last_id is not None:
                last_at.setdefault(self.since_ms, self.last_id)
        floor = since - overlap_ms
        runs = dict(self.runs)
        if last is not None:  # ordered: every row at a stamp passed was read, up to its last Id
            runs.update({t: last_at[t] for t, n in count.items() if t != since and n >= RUN_MIN and t in last_at})
        runs = dict(sorted(((t, i) for t, i in runs.items() if t >= floor), reverse=True)[:MAX_RUNS])
        seen = dict(self.seen)
        seen.update(rows)
        newest = sorted(
            ((i, t) for i, t in seen.items() if t >= floor and t not in runs), key=lambda x: x[1], reverse=True
        )
        if last_id is not None:
            newest.sort(key=lambda x: x[1] == since)  # stable: older stamps first, newest first among them
        return ObjectCursor(
            since_ms=since,
            seen=dict(newest[:MAX_SEEN]),
            read_ms=self.read_ms,
            last_id=last_id,
            at_since=count.get(since, 0),
            runs=runs,
        )


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
                        "t": c.last_id,
                        "n": c.at_since,
                        "u": {str(t): i for t, i in c.runs.items()},
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
                    last_id=None if v.get("t") is None else str(v["t"]),  # likewise
                    at_since=int(v.get("n") or 0),
                    runs={int(t): str(i) for t, i in (v.get("u") or {}).items()},
                )
                for k, v in data["o"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FatalConnectorError(
                f"Salesforce cursor {raw[:60]!r} is not one this connector wrote ({exc}); reset the stream's cursor."
            ) from None
        return cls(objects=objects)
