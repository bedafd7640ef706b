"""Reading a table's new rows on from a cursor without losing one committed late.

Why: ids are drawn at INSERT, but transactions commit in any order. A reader that keeps the
highest id it read and next reads ``id > cursor`` skips for good a row whose lower id committed
after that read, and sync, decide and the API write concurrently. So a tailed table has a
``tx`` column: on PostgreSQL the inserting transaction's id (migration 0019). Rows are read in
(tx, id) order, only those of transactions that had ended when the read took its snapshot
(below its ``xmax``, not in its in-progress list), and the position is the last (tx, id) read
plus the transactions below it still in progress then: the next read takes their rows once
they have ended. Waiting for the oldest running transaction (``pg_snapshot_xmin``) would be
simpler, but the snapshot spans the whole server: one idle transaction in another database
would stop every read.

SQLite commits one writer at a time, so ids follow commit order: ``tx`` is 0 there and a read
goes on by id (the primary key). Rows from before the column have tx 0 too, which makes a
cursor saved as an id N the position (0, N, ()) on both stores.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row, Select, Table, and_, literal, or_, text, tuple_

#: (tx, id) of the last row read, and the transactions below it still in progress then
Position = tuple[int, int, tuple[int, ...]]

#: before every row
START: Position = (0, 0, ())

_SNAPSHOT = text(
    "SELECT pg_snapshot_xmax(s)::text::bigint, ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) x)"
    " FROM pg_current_snapshot() s"
)


def read_on(conn: Connection, q: Select, table: Table, after: Position) -> tuple[list[Row], Position]:
    """The rows of ``q`` (a select over ``table``) after ``after`` that no late commit can
    still precede, in that order, and the position to read on from next time."""
    tx, row_id, pending = after
    q = q.add_columns(table.c.tx.label("tail_tx"), table.c.id.label("tail_id"))
    if conn.dialect.name != "postgresql":  # one writer at a time: ids follow commit order (tx is 0)
        rows = conn.execute(q.where(table.c.id > row_id).order_by(table.c.id)).all()
        return rows, ((0, rows[-1].tail_id, ()) if rows else after)
    # taken before the rows are read: every transaction it calls ended has its rows visible then
    xmax, running = conn.execute(_SNAPSHOT).one()
    newer = tuple_(table.c.tx, table.c.id) > tuple_(literal(tx), literal(row_id))
    if pending:  # the lower bound keeps the index range from the oldest pending on, not from 0
        newer = and_(table.c.tx >= min(pending), or_(newer, table.c.tx.in_(pending)))
    q = q.where(newer, table.c.tx < xmax, table.c.tx.not_in(running))
    rows = conn.execute(q.order_by(table.c.tx, table.c.id)).all()
    if rows and (rows[-1].tail_tx, rows[-1].tail_id) > (tx, row_id):
        tx, row_id = rows[-1].tail_tx, rows[-1].tail_id
    return rows, (tx, row_id, tuple(sorted(x for x in running if x < tx)))
