"""Two steps of one connector that end together both record its API usage. With three push
lanes and a sync, on PostgreSQL, the second of two overlapping delete-then-insert transactions
hit the primary key ("duplicate key value violates unique constraint connector_usage_pkey"):
a warning with a traceback in the worker's log on a quiet hub, and the newer usage lost."""

from __future__ import annotations

import threading

from hub.models import utcnow
from hub.store import Store
from hub.store import usage as usage_store


def test_overlapping_records_of_one_connector_both_land_and_the_later_wins(store_url):
    store = Store(store_url, auto_migrate=True)
    try:
        with store.begin() as conn:
            usage_store.record(conn, "crm", {"calls": 1}, utcnow())
        errors: list[BaseException] = []

        def second() -> None:
            try:
                with store.begin() as conn:
                    usage_store.record(conn, "crm", {"calls": 3}, utcnow())
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                errors.append(exc)

        with store.begin() as conn:
            usage_store.record(conn, "crm", {"calls": 2}, utcnow())
            other = threading.Thread(target=second)
            other.start()
            other.join(0.5)  # it waits on this transaction's row (PostgreSQL) or the file (SQLite)
        other.join(10)
        assert not other.is_alive()
        assert errors == []
        with store.connect() as conn:
            assert usage_store.all_usage(conn)["crm"][0] == {"calls": 3}
    finally:
        store.dispose()
