"""The hub store: SQLAlchemy Core over SQLite (embedded default) or PostgreSQL.

Repository functions live in the sibling modules and take a ``Connection``, so a caller can
commit several of them in one transaction (a page and its cursor, a decision and its pushes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine

from hub.errors import StoreError
from hub.store.db import Migrated, check_current, make_engine, migrate


class Store:
    def __init__(self, url: str, *, auto_migrate: bool | None = None, must_exist: bool = False):
        """``must_exist``: a SQLite file that is not there is an error, not a new empty store (a
        report on a mistyped path said "no experiment yet" and left an empty file behind)."""
        self.url = url
        if must_exist:
            _must_exist(url)
        self.engine: Engine = make_engine(url)
        if auto_migrate is None:
            auto_migrate = self.engine.dialect.name == "sqlite"
        #: what opening it migrated (None: it was checked, not migrated); `hub migrate` says it
        self.migrated: Migrated | None = None
        if auto_migrate:
            self.migrated = migrate(self.engine)
        else:
            check_current(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _must_exist(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    path = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and path and path != ":memory:" and not Path(path).exists():
        raise StoreError(f"no store at {path}: check store_url or --store-url (a hub writes it on its first run)")
