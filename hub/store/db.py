"""Engine creation and migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import OperationalError

from hub.errors import StoreError, StoreUnavailable
from hub.store.batch import register_dumpers
from hub.store.codec import dumps_json

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    codec = {"json_serializer": dumps_json}  # reads stay json.loads: orjson turns an int past 64 bits into a float
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False}, **codec)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL lets workers read while one writes
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            # SQLite's lower() folds ASCII only; `hub forget` finds "ÉLODIE" by lower() (as on PostgreSQL)
            dbapi_conn.create_function("lower", 1, _lower, deterministic=True)

        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, **codec)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", lambda dbapi_conn, _record: register_dumpers(dbapi_conn))
    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


@dataclass(frozen=True)
class Migrated:
    """What :func:`migrate` did: the schema before (None: a new, empty store) and after, how
    many migrations it ran and how many of the hub's tables the store now holds."""

    before: str | None
    after: str | None
    applied: int
    tables: int


def migrate(engine: Engine, revision: str = "head") -> Migrated:
    """Upgrade to ``revision``, one transaction per migration (alembic's own), so a migration can
    step out of it to build an index CONCURRENTLY on PostgreSQL; a failed one leaves the store at
    the last revision that completed."""
    cfg = alembic_config(engine)
    scripts = ScriptDirectory.from_config(cfg)
    with engine.connect() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        _known(scripts, before)
        conn.rollback()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        after = MigrationContext.configure(conn).get_current_revision()
        tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
        conn.rollback()
    applied = 0 if after == before else sum(1 for _ in scripts.iterate_revisions(after, before))
    return Migrated(before, after, applied, len(tables))


def is_current(engine: Engine) -> bool:
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    _known(scripts, current)
    return current == scripts.get_current_head()


def _known(scripts: ScriptDirectory, current: str | None) -> None:
    """A store a newer release migrated (a rolled-back deploy, an old CLI on a new store) is at a
    revision these scripts do not have: say so, rather than alembic's traceback or "run `hub
    migrate`", which cannot help."""
    if current is None:
        return
    try:
        scripts.get_revision(current)
    except Exception:  # noqa: BLE001 - alembic raises CommandError / ResolutionError by version
        raise StoreError(
            f"the store is at schema {current}, newer than this hub knows (its newest is "
            f"{scripts.get_current_head()}): upgrade the hub to the release that migrated it"
        ) from None


def check_current(engine: Engine) -> None:
    try:
        current = is_current(engine)
    except StoreError:
        raise
    except Exception as exc:
        why = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
        # a driver's connection failure may pass (a restart); anything else will not by waiting
        error = StoreUnavailable if isinstance(exc, OperationalError) else StoreError
        raise error(
            f"cannot reach the store at {engine.url.render_as_string(hide_password=True)}: {why[0]}; "
            "check store_url and that the database is up"
        ) from None
    if not current:
        raise StoreError("the store is not migrated to the latest schema; run `hub migrate`")
