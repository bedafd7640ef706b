"""Statements over a whole batch whose text does not grow with the batch (on PostgreSQL).

Decide reads and writes 200 contacts at a time. Written the plain way, a read is ``IN (:p1, ...
:p200)`` and a write is one INSERT per row (psycopg's pipelined executemany): SQLAlchemy renders
and psycopg re-parses a 200-placeholder statement on every batch (too long for psycopg's query
cache), the server binds 200 parameters per read and starts the executor once per written row,
and with two decide workers on two cores that server work is taken from the other worker. On
PostgreSQL :func:`among` passes the values as one array (``= ANY(:values)``), :func:`among_keys`
one array per key column (psycopg refuses a statement of more than 65,535 parameters, which a
Salesforce Bulk page of 50,000 records, three key columns each, would bind), and
:func:`insert_rows` inserts every row in one ``INSERT ... SELECT unnest(...)`` statement, one
array per column; on SQLite both are the plain forms. The arrays go in psycopg's binary format
(:class:`Values`): its text format escapes element by element in Python, about 7 times the
client CPU for a batch's columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Row,
    Table,
    Text,
    TypeDecorator,
    any_,
    bindparam,
    cast,
    func,
    insert,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from hub.store.codec import dumps_json


class Values(list):
    """A list psycopg sends as a binary array: ``register_dumpers`` (called on every new
    PostgreSQL connection, hub/store/db.py) binds the dumper to this class only."""


def register_dumpers(dbapi_conn: Any) -> None:
    from psycopg.types.array import ListBinaryDumper

    dbapi_conn.adapters.register_dumper(Values, ListBinaryDumper)


class _Array(TypeDecorator):
    """``ARRAY(item)`` whose bound value reaches psycopg as :class:`Values`, unprocessed (the
    items are plain values of the column's type); the bind still renders its ``::TYPE[]`` cast."""

    impl = ARRAY
    cache_ok = True

    def bind_processor(self, dialect: Any) -> Any:
        return Values


@cache
def _array_of(item_type: Any) -> _Array:
    """One array type per column type (building a type decorator introspects its class)."""
    return _Array(item_type)


def among(conn: Connection, column: Column, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL one array parameter, so the statement is one text."""
    values = list(values)
    if conn.dialect.name != "postgresql":
        return column.in_(values)
    return column == any_(bindparam(None, values, type_=_array_of(column.type), unique=True))


def among_keys(conn: Connection, columns: Sequence[Column], keys: Iterable[Sequence[Any]]) -> ColumnElement[bool]:
    """``(columns) IN keys`` for composite keys; on PostgreSQL ``IN (SELECT * FROM unnest(...))``
    of one array per column, so the statement binds as many parameters as there are columns."""
    keys = list(keys)
    if conn.dialect.name != "postgresql":
        return tuple_(*columns).in_(keys)
    arrays = [
        bindparam(None, [k[i] for k in keys], type_=_array_of(col.type), unique=True) for i, col in enumerate(columns)
    ]
    rows = func.unnest(*arrays).table_valued(*(c.name for c in columns)).render_derived()
    return tuple_(*columns).in_(select(*rows.c))


def insert_rows(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], returning: Sequence[Column] = ()
) -> list[Row]:
    """Insert ``rows`` (dicts with the same keys), in their order: the ids a sequence gives them
    follow it. Returns the ``returning`` columns of the inserted rows (PostgreSQL only: on
    SQLite the rows are inserted by executemany and nothing is returned)."""
    if not rows:
        return []
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), list(rows))
        return []
    names = list(rows[0])
    stmt = insert(table).from_select(names, select(*(_unnest(table.c[n], [r[n] for r in rows]) for n in names)))
    if returning:
        return list(conn.execute(stmt.returning(*returning)))
    conn.execute(stmt)
    return []


def _unnest(column: Column, values: list[Any]) -> ColumnElement[Any]:
    """One column's values as a set-returning function over one parameter. JSON values go in as
    one JSON array, ``json_array_elements`` handing back each element's own text (the store's
    :func:`~hub.store.codec.dumps_json` of it, what psycopg sends for one row; Python ``None``
    is JSON ``null``, as SQLAlchemy stores it): an array of JSON texts would cost psycopg an
    escape of every quote, and an array of lists would be read as a multi-dimensional array."""
    if isinstance(column.type, JSON):
        doc = bindparam(None, dumps_json(values), type_=Text, unique=True)
        return func.json_array_elements(cast(doc, column.type), type_=column.type)
    return func.unnest(bindparam(None, values, type_=_array_of(column.type), unique=True))
