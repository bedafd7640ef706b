"""Alembic environment: the hub's tables from hub.store.schema, URL from the caller."""

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from hub.errors import StoreError
from hub.store.schema import metadata

config = context.config


@contextmanager
def _foreign_keys_off(conn: Connection) -> Iterator[None]:
    """On SQLite, migrate with foreign keys unenforced, as Alembic's batch mode asks: a batch
    operation rebuilds a table (copy, DROP, rename), and with ``foreign_keys=ON`` the DROP deletes
    every row referencing it (ON DELETE CASCADE). The pragma is a no-op inside a transaction, so
    it is set before the migrations' and checked; the references are checked after. A connection
    that cannot get its pragma back (a caller's transaction is still open) is closed, not pooled."""
    if conn.dialect.name != "sqlite":
        yield
        return
    was = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        if conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
            raise StoreError("cannot turn SQLite foreign keys off inside a transaction; migrate on a fresh connection")
        yield
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            tables = sorted({f"{r[0]} -> {r[2]}" for r in broken})
            raise StoreError(f"the migration left {len(broken)} row(s) referencing missing rows: {', '.join(tables)}")
    finally:
        conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if was else 'OFF'}")
        if conn.exec_driver_sql("PRAGMA foreign_keys").scalar() != was:
            conn.connection.detach()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=metadata, render_as_batch=True, transaction_per_migration=True
        )
        with _foreign_keys_off(connection), context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with _foreign_keys_off(conn), context.begin_transaction():
            context.run_migrations()


run_migrations()
