"""How a source is read: keyset pages on (cursor column, id column), declared once.

A sync starts at the bookmark minus the lookback (``cursor >= since``), so rows committed
late with older stamps are read; within a sync each page continues strictly after the last
(cursor, id) read, so no row is skipped and none is read twice by one walk. The bookmark
stored with each page is the (cursor, id) of its last row; rows read again inside the
lookback are the same records with the same ids, which the store treats as no change.

Bookmark values keep their kind (a datetime, epoch number or text), so the comparison the
database makes is the one its column type knows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import String, and_, func, or_, select, type_coerce
from sqlalchemy.sql import ColumnElement, FromClause

CURSOR_LABEL = "_hub_cursor"  # the cursor value as compared, selected beside the row's columns


def encode(value: Any) -> dict[str, Any]:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, bool):
        return {"num": int(value)}
    if isinstance(value, int | float | Decimal):
        f = float(value)
        return {"num": int(f) if f.is_integer() else f}
    return {"str": str(value)}


def decode(raw: dict[str, Any]) -> Any:
    if "dt" in raw:
        return datetime.fromisoformat(raw["dt"])
    if "date" in raw:
        return date.fromisoformat(raw["date"])
    return raw.get("num", raw.get("str"))


def earlier(value: Any, seconds: int) -> Any:
    """``value`` moved back by ``seconds`` in its own kind; text that is not ISO is left alone."""
    if not seconds:
        return value
    if isinstance(value, datetime):
        return value - timedelta(seconds=seconds)
    if isinstance(value, date):
        return value - timedelta(days=-(-seconds // 86_400))
    if isinstance(value, int | float):
        return value - (seconds * 1000 if abs(value) > 1e11 else seconds)  # epoch ms or s
    try:
        ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return value
    sep = "T" if "T" in str(value) else " "
    back = (ts - timedelta(seconds=seconds)).isoformat(sep=sep)
    return back.replace("+00:00", "Z") if str(value).endswith("Z") else back


def plain_id(value: Any) -> Any:
    """An id as JSON keeps it: integers stay integers (so they sort as numbers), the rest text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return str(value)


@dataclass
class Bookmark:
    at: Any = None  # cursor column value of the last row read (None: nothing read yet)
    id: Any = None  # its id
    exact: bool = False  # True within a sync: continue strictly after (at, id)

    def dump(self) -> str | None:
        if self.at is None:
            return None
        return json.dumps({"at": encode(self.at), "id": self.id}, separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | None) -> Bookmark:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(at=decode(data["at"]), id=data.get("id"))


@dataclass
class KeysetReader:
    """Pages of rows from ``source`` ordered by (cursor, id)."""

    source: FromClause
    cursor_column: str
    id_column: str
    page_size: int
    lookback_seconds: int
    #: compare the cursor as the text the database holds (SQLite: a DATETIME is text there,
    #: and SQLAlchemy's rendering of a bound datetime may not be the stored one, e.g. no
    #: ".000000"; a tie at a page boundary would then be skipped)
    text_cursor: bool = False

    @property
    def _at(self) -> ColumnElement:
        col = self.source.c[self.cursor_column]
        return type_coerce(col, String) if self.text_cursor else col

    @property
    def _id(self) -> ColumnElement:
        return self.source.c[self.id_column]

    def start(self, stored: str | None) -> Bookmark:
        """Where a sync begins: the stored bookmark less the lookback, inclusive."""
        mark = Bookmark.load(stored)
        if mark.at is not None:
            mark = Bookmark(at=earlier(mark.at, self.lookback_seconds))
        return mark

    def page_query(self, mark: Bookmark):
        q = select(self.source, self._at.label(CURSOR_LABEL)).where(self._at.is_not(None), self._id.is_not(None))
        if mark.at is not None and mark.exact:
            q = q.where(or_(self._at > mark.at, and_(self._at == mark.at, self._id > mark.id)))
        elif mark.at is not None:
            q = q.where(self._at >= mark.at)
        return q.order_by(self._at, self._id).limit(self.page_size)

    def orphans_query(self, mark: Bookmark, limit: int = 100):
        """Rows in the window with no id: they cannot be paged or stored, only reported."""
        q = select(self.source).where(self._id.is_(None), self._at.is_not(None))
        if mark.at is not None:
            q = q.where(self._at >= mark.at)
        return q.order_by(self._at).limit(limit)

    def count_unstamped(self):
        return select(func.count()).select_from(self.source).where(self._at.is_(None))

    def pages(
        self, run: Callable[[Any], list[dict[str, Any]]], mark: Bookmark
    ) -> Iterator[tuple[list[dict], Bookmark]]:
        """``run(query)`` returns the rows as dicts (a short connection per page: no
        transaction stays open on the warehouse while the hub stores a page)."""
        while True:
            rows = run(self.page_query(mark))
            if not rows:
                return
            last = rows[-1]
            mark = Bookmark(at=last[CURSOR_LABEL], id=plain_id(last[self.id_column]), exact=True)
            yield rows, mark
            if len(rows) < self.page_size:
                return
