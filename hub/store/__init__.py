"""The hub store: SQLAlchemy Core over SQLite (embedded default) or PostgreSQL.

Repository functions live in the sibling modules and take a ``Connection``, so a caller can
commit several of them in one transaction (a page and its cursor, a decision and its pushes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from hub.store.db import check_current, make_engine, migrate


class Store:
    def __init__(self, url: str, *, auto_migrate: bool | None = None):
        self.url = url
        self.engine: Engine = make_engine(url)
        if auto_migrate is None:
            auto_migrate = self.engine.dialect.name == "sqlite"
        if auto_migrate:
            migrate(self.engine)
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
