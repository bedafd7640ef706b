"""The owners each CRM reports (``crm_owners``), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.store import Store
from hub.store import owners as owner_store

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def test_an_owner_is_inactive_when_a_crm_says_so_and_none_says_active(store_url):
    store = Store(store_url, auto_migrate=True)
    try:
        with store.begin() as conn:
            owner_store.replace(conn, "hs", {"71001": True, "71002": False, "shared": False}, NOW)
            owner_store.replace(conn, "sf", {"shared": True, "005A": False}, NOW)
        with store.connect() as conn:
            assert owner_store.inactive(conn) == {"71002", "005A"}  # "shared" is still active in sf
        with store.begin() as conn:  # the next read replaces the last: 71002 reactivated, 005A gone
            owner_store.replace(conn, "hs", {"71001": True, "71002": True}, NOW)
            owner_store.replace(conn, "sf", {}, NOW)
        with store.connect() as conn:
            assert owner_store.inactive(conn) == set()
    finally:
        store.dispose()
