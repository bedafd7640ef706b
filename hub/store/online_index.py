"""Indexes that migrations build without stopping a live hub's writes.

On PostgreSQL a plain ``CREATE INDEX`` locks its table against writes until the build ends: on
a large decisions or pushes table, minutes in which decide, push and the API wait. ``CREATE
INDEX CONCURRENTLY`` lets writes go on, but runs outside a transaction, and a build that fails
part-way (a lost connection, a cancelled upgrade, a deadlock) leaves the index behind marked
INVALID: maintained on every write, never read, and in the way of a second attempt ("already
exists"). So a leftover invalid index of the same name is dropped and built again. SQLite has
no such lock problem (one writer at a time anyway) and builds it plainly.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_index_online(name: str, table: str, columns: list[str], where: str | None = None) -> None:
    """``CREATE INDEX name ON table (columns) [WHERE where]``, CONCURRENTLY on PostgreSQL,
    replacing an invalid index a failed earlier attempt left."""
    bind = op.get_bind()
    predicate = sa.text(where) if where is not None else None
    if bind.dialect.name != "postgresql":
        op.create_index(name, table, columns, sqlite_where=predicate)
        return
    with op.get_context().autocommit_block():
        if index_valid(bind, name) is False:
            op.drop_index(name, table_name=table, postgresql_concurrently=True)
        op.create_index(name, table, columns, postgresql_where=predicate, postgresql_concurrently=True)


def index_valid(conn: sa.Connection, name: str) -> bool | None:
    """PostgreSQL: whether the index ``name`` (on the search path) is valid; None if there is none."""
    found = conn.execute(
        sa.text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"), {"name": name}
    ).scalar()
    return None if found is None else bool(found)
