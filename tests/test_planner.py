"""A sync that loads a store from nothing keeps PostgreSQL's row estimates current."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from hub.models import Contact, Identity
from hub.store import Store
from hub.store.contacts import upsert_contacts
from hub.store.planner import GrowthAnalyzer

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def test_growth_is_analyzed_geometrically_on_postgresql_and_ignored_on_sqlite(store_url):
    store = Store(store_url, auto_migrate=True)
    growth = GrowthAnalyzer(store, floor=300)
    with store.begin() as conn:
        upsert_contacts(
            conn, [Contact(identities=[Identity(connector="c", external_id=str(i))]) for i in range(400)], NOW
        )
    if store.engine.dialect.name != "postgresql":
        assert growth.added(400) is False
        store.dispose()
        return
    assert growth.size == 0  # created empty, never analyzed: the planner believes it holds nothing
    assert growth.added(200) is False  # below the floor
    assert growth.added(200) is True
    with store.connect() as conn:
        rows = conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'identities'")).scalar()
    assert rows == 400 and growth.size >= 400
    assert growth.added(150) is False  # the next ANALYZE waits for half as many rows again (>= 300 here)
    store.dispose()


def test_decide_tables_are_analyzed_once_decisions_are_stored(store_url):
    """A decide worker on an empty store: its foreign-key checks must not stay planned for an
    empty decisions table (each pushed row would scan every decision)."""
    from hub.models import Decision
    from hub.store.decisions import insert_decisions
    from hub.store.planner import DECIDE_TABLES

    store = Store(store_url, auto_migrate=True)
    growth = GrowthAnalyzer(store, floor=2, tables=DECIDE_TABLES)
    with store.begin() as conn:
        (cid,) = upsert_contacts(conn, [Contact(identities=[Identity(connector="c", external_id="1")])], NOW).changed
        insert_decisions(conn, [Decision(contact_id=cid, actions=[], policy="p", policy_version="1")], "k")
    if store.engine.dialect.name != "postgresql":
        assert growth.added(2) is False
        store.dispose()
        return
    assert growth.added(1) is False and growth.added(1) is True
    with store.connect() as conn:
        assert conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'decisions'")).scalar() == 1
    store.dispose()
