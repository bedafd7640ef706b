"""Where `hub demo` keeps its store: a new SQLite file beside its hub.yaml, or a PostgreSQL
database with no data that the user names (the production store, walked end to end).

The demo never mixes its simulated people into data that is already there: a SQLite demo.db
from an earlier demo is the demo's own and is replaced (with its -wal and -shm files), but a
PostgreSQL database that holds data is refused (it may be a real hub's, or anything else), with
what to do instead: any table not the hub's, or one of the hub's with a row, is data; the hub's
tables empty (`hub migrate` on a new database) are not.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Connection, inspect, select, table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from hub.config import Settings
from hub.errors import ConfigError, StoreError, StoreUnavailable
from hub.store import Store
from hub.store.db import make_engine
from hub.store.schema import metadata

#: the demo's SQLite store, relative to its hub.yaml (load_settings resolves it beside the file)
SQLITE_URL = "sqlite:///demo.db"
#: the first line of the demo's hub.yaml: what tells it from a hub.yaml the demo must not replace
#: the demo's console user, and the file beside its hub.yaml holding that user's password
CONSOLE_USER, CONSOLE_PASSWORD = "demo", "console-password.txt"
DEMO_MARK = "# Written by `hub demo`; the next demo in this directory replaces it and demo.db."
#: the first line once the demo has ended (:func:`mark_demo_ended`): its simulated CRMs are gone
ENDED_MARK = "# Written by `hub demo`, which has ended; the next demo in this directory replaces it and demo.db."
#: the first line of a demo's hub.yaml from before the marks: such a demo has ended too
_LEGACY_FIRST = f"store_url: {SQLITE_URL}"


def _first_line(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            return f.readline().rstrip("\n")
    except OSError:
        return None


def is_demo_config(path: Path) -> bool:
    """Did `hub demo` write this hub.yaml? Marked (:data:`DEMO_MARK`, :data:`ENDED_MARK`), or from
    before the marks naming demo.db as its store. A demo's CRMs are simulated and stop when it ends."""
    return _first_line(path) in (DEMO_MARK, ENDED_MARK, _LEGACY_FIRST)


def mark_demo_ended(path: Path) -> None:
    """Mark a demo's hub.yaml as its demo's, ended: the sandbox it names has stopped. Rewritten in
    place, so the file keeps its owner-only mode. While a demo runs (and where a test or bench
    serves a sandbox with the demo's settings) its CRMs answer, and nothing says otherwise."""
    text = path.read_text(encoding="utf-8")
    if text.startswith(DEMO_MARK + "\n"):
        path.write_text(ENDED_MARK + text[len(DEMO_MARK) :], encoding="utf-8")


#: what a finished demo's store has instead of workers to start (`hub status`, the console's Queues)
DEMO_ENDED = (
    "This is a finished demo's store: its simulated CRMs stopped when the demo ended, so there is nothing "
    "to sync or push."
)

#: after DEMO_ENDED in the terminal (`hub status`, `hub config validate`): what to read it with
DEMO_READ = (
    " Read it with `hub report lift{c}`, `hub decisions{c}` or the console (`hub serve{c}`, user "
    f"{CONSOLE_USER}, password in {CONSOLE_PASSWORD} beside hub.yaml); `hub demo` runs another, `hub init` "
    "starts a hub on your own CRMs."
)


def demo_ended(settings: Settings) -> bool:
    """Are these settings a finished demo's (read from a hub.yaml whose demo has ended)?"""
    return settings.source_path is not None and _first_line(Path(settings.source_path)) in (ENDED_MARK, _LEGACY_FIRST)


def check_demo_workdir(workdir: Path) -> None:
    """Raise ConfigError (exit 2) if ``workdir`` holds a hub.yaml that is not a demo's: the demo
    writes its own there, and `hub demo --workdir .` in a project replaced the project's config.
    A demo's is marked (:data:`DEMO_MARK`), or from before the mark names demo.db as its store."""
    path = workdir / "hub.yaml"
    if not path.is_file() or is_demo_config(path):
        return
    raise ConfigError(
        [
            (
                "--workdir",
                f"{path} is not a demo's hub.yaml, and the demo would replace it. Give the demo a "
                "directory of its own (--workdir hub-demo, the default), or move that file first.",
            )
        ]
    )


def prepare_demo_store(workdir: Path, store_url: str | None) -> str:
    """The store URL the demo's hub.yaml names, with the store created and migrated.

    None: a new SQLite file in ``workdir`` (an earlier demo's is deleted). A PostgreSQL URL:
    the database must exist and hold no data; the demo migrates it to the latest schema."""
    check_demo_workdir(workdir)
    if store_url is None:
        db = workdir / "demo.db"
        for leftover in (db, db.with_name("demo.db-wal"), db.with_name("demo.db-shm")):
            leftover.unlink(missing_ok=True)
        return SQLITE_URL
    check_demo_store(store_url)
    Store(store_url, auto_migrate=True).dispose()
    return store_url


def check_demo_store(store_url: str | None) -> None:
    """Raise StoreError unless the demo can run on ``store_url`` (None: SQLite, always can);
    before anything runs, so a refused database is said at once."""
    if store_url is not None:
        _must_be_postgresql(store_url)
        _must_be_empty(store_url)


def _must_be_postgresql(url: str) -> None:
    try:
        backend = make_url(url).get_backend_name()
    except (ArgumentError, ValueError):
        raise StoreError(
            f"--store-url {_shown(url)} is not a database URL: give postgresql://user@host:5432/db"
        ) from None
    if backend != "postgresql":
        raise StoreError(
            f"--store-url {_shown(url)} is not PostgreSQL: the demo's SQLite store needs no URL (leave it out)"
        )


def _must_be_empty(url: str) -> None:
    """Refuse a database that holds data: the demo's simulated people and decisions would be
    mixed with what is there, and every report would count both. The hub's own tables with no
    row in them (`hub migrate` on a new database) are no data."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            held = _holding_data(conn)
    except OperationalError as exc:
        why = str(exc.orig or exc).strip().splitlines() or ["no answer"]
        raise StoreUnavailable(
            f"cannot reach the demo's database at {_shown(url)}: {why[0]}; create it first (createdb NAME)"
        ) from None
    finally:
        engine.dispose()
    if held:
        name = make_url(url).database
        raise StoreError(
            f"database {name!r} at {_shown(url)} already holds data in {_tables(held)}:"
            " `hub demo` only writes into an empty database, so its simulated data is never mixed with yours."
            f' Create a new one (createdb {name}_demo, or CREATE DATABASE "{name}_demo") and pass its URL,'
            f" or drop this one if it is an earlier demo's."
        )


def _holding_data(conn: Connection) -> list[str]:
    """The tables that count as data: any that is not the hub's, and the hub's that have a row."""
    ours = set(metadata.tables) | {"alembic_version"}
    names = inspect(conn).get_table_names()
    foreign = [n for n in names if n not in ours]
    filled = [
        n for n in names if n in metadata.tables and conn.execute(select(1).select_from(table(n)).limit(1)).first()
    ]
    return foreign + filled


def has_password(url: str) -> bool:
    try:
        return bool(make_url(url).password)
    except (ArgumentError, ValueError):
        return False


def write_config(path: Path, text: str, *, secret: bool) -> None:
    """Write the demo's hub.yaml; one holding a password (in the store URL) readable by its
    owner only, from the moment it exists (an earlier file's mode is reset too)."""
    if not secret:
        path.write_text(text, encoding="utf-8")
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _tables(names: list[str]) -> str:
    first = sorted(names)[0]
    return f"1 table ({first})" if len(names) == 1 else f"{len(names)} tables (e.g. {first})"


def _shown(url: str) -> str:
    """The URL as it may be printed: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(unparseable)"
