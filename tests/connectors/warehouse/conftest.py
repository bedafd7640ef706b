"""A source database (SQLite file or a throw-away PostgreSQL database) and a hub on a SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine

from hub.config import load_settings
from hub.pipeline.context import HubContext
from hub.store import Store
from tests.conftest import _pg_database, hub_config

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def source_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
    else:
        for url in _pg_database():
            yield url.replace("postgresql://", "postgresql+psycopg://")


@pytest.fixture
def source(source_url):
    engine = create_engine(source_url)
    yield engine
    engine.dispose()


def people_table(md: MetaData, name: str = "people") -> Table:
    return Table(
        name,
        md,
        Column("id", Integer),
        Column("email", String(200)),
        Column("first_name", String(100)),
        Column("industry", String(100)),
        Column("stage", String(50)),
        Column("plan", String(50)),
        Column("updated_at", DateTime(timezone=True)),
    )


def person(i: int, minutes: float = 0, **kw) -> dict:
    row = {
        "id": i,
        "email": f"p{i}@example.com",
        "first_name": f"P{i}",
        "industry": "Software",
        "stage": "lead",
        "plan": "pro",
        "updated_at": T0 + timedelta(minutes=minutes),
    }
    return {**row, **kw}


def wh_entry(url: str, **settings) -> dict:
    contacts = {
        "table": "people",
        "fields": {"lifecycle_stage": "stage"},
        "properties": ["plan"],
        **settings.pop("contacts", {}),
    }
    return {"type": "warehouse", "receives": [], "settings": {"url": url, "contacts": contacts, **settings}}


def make_ctx(tmp_path, redis_url, entry: dict, store_url: str | None = None) -> HubContext:
    store_url = store_url or f"sqlite:///{tmp_path / 'hub.db'}"
    Store(store_url, auto_migrate=True).dispose()
    cfg = hub_config(tmp_path, store_url, redis_url, **{"connectors.wh": entry})
    return HubContext.build(load_settings(cfg), embedded=True)
