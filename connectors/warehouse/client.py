"""The database connection: engine, reflection of sources, and database errors as hub errors.

Only SQLAlchemy Core, so the same code runs on PostgreSQL, SQLite, Snowflake, BigQuery and
Redshift. Driver exceptions stop here: connection trouble is retryable, a missing table,
column or permission is fatal (a person must act). The URL never appears in a message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, column, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, NoSuchTableError, OperationalError, SQLAlchemyError
from sqlalchemy.sql import FromClause

from connectors.warehouse.config import WarehouseSettings
from hub.errors import FatalConnectorError, RetryableError
from hub.secrets import url_password

log = logging.getLogger(__name__)
#: dialect -> the extra that installs it
EXTRAS = {
    "snowflake": "warehouse-snowflake",
    "bigquery": "warehouse-bigquery",
    "redshift": "warehouse-redshift",
}
_FATAL_HINTS = ("authentication", "password", "permission", "denied", "does not exist", "no such", "not authorized")


def split_name(name: str) -> tuple[str | None, str]:
    """``schema.table`` -> (schema, table); a bare name has no schema."""
    schema, _, table = name.rpartition(".")
    return (schema or None), table


def describe(exc: BaseException, url: str | None = None) -> str:
    """The driver's own first line, without SQL, parameters, the URL or any part of the URL's
    user and password (a driver may quote a host it could not resolve, which a malformed URL
    can make of a password's tail)."""
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()
    text = first[0][:300] if first else type(orig).__name__
    return redact_credentials(text, url) if url else text


def redact_credentials(text: str, url: str) -> str:
    """``text`` with the password of ``url`` (``user:password@host``), and each piece of it
    between an ``@`` or ``:`` of 3+ characters, masked."""
    password = url_password(url)
    pieces = sorted({password, *re.split(r"[:@]", password)} - {""}, key=len, reverse=True)
    pieces = [p for p in pieces if len(p) >= 3]
    for piece in pieces:
        text = text.replace(piece, "***")
    return text


class WarehouseClient:
    def __init__(self, name: str, settings: WarehouseSettings):
        self.name = name
        self.s = settings
        self._engine: Engine | None = None
        self._sources: dict[str, FromClause] = {}

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = make_url(self.s.url.get_secret_value())
            args: dict[str, Any] = {}
            if url.get_backend_name() == "postgresql":
                args["connect_timeout"] = int(self.s.timeout_seconds)
            try:
                self._engine = create_engine(url, pool_pre_ping=True, connect_args=args)
            except NoSuchModuleError:
                extra = EXTRAS.get(url.get_backend_name())
                how = f"pip install 'decision-hub[{extra}]'" if extra else "install its SQLAlchemy dialect"
                raise FatalConnectorError(
                    f"{self.name}: no SQLAlchemy dialect for {url.get_backend_name()!r}; {how}"
                ) from None
            except (ImportError, SQLAlchemyError) as exc:
                raise FatalConnectorError(
                    f"{self.name}: cannot use the database URL: {describe(exc, self.s.url.get_secret_value())}"
                ) from None
        return self._engine

    @contextmanager
    def connect(self, what: str) -> Iterator[Connection]:
        """A connection whose database errors come out as hub errors that say ``what`` failed."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except NoSuchTableError as exc:
            raise FatalConnectorError(f"{self.name}: {what}: no table {str(exc)!r}") from None
        except (OperationalError, DBAPIError) as exc:
            reason = describe(exc, self.s.url.get_secret_value())
            if isinstance(exc, OperationalError) and not any(h in reason.lower() for h in _FATAL_HINTS):
                raise RetryableError(f"{self.name}: {what}: {reason}") from None
            raise FatalConnectorError(f"{self.name}: {what}: {reason}") from None
        except SQLAlchemyError as exc:
            raise FatalConnectorError(f"{self.name}: {what}: {describe(exc, self.s.url.get_secret_value())}") from None

    def source(self, key: str, table: str | None, query: str | None) -> FromClause:
        """The table (reflected) or the query (as a subquery ``src`` with its probed columns)."""
        if key not in self._sources:
            with self.connect(f"reading {key} source") as conn:
                if table is not None:
                    schema, name = split_name(table)
                    self._sources[key] = Table(name, MetaData(), schema=schema, autoload_with=conn)
                else:
                    probe = conn.execute(text(f"SELECT * FROM ({query}) AS src WHERE 1 = 0"))
                    names = list(probe.keys())
                    probe.close()
                    self._sources[key] = text(query).columns(*[column(n) for n in names]).subquery("src")
        return self._sources[key]

    def table_exists(self, name: str) -> bool:
        from sqlalchemy import inspect

        schema, table = split_name(name)
        with self.connect(f"looking for table {name!r}") as conn:
            return inspect(conn).has_table(table, schema=schema)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
