"""Migrations down and up keep the rows they do not change; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import func, select

from hub.models import Activity, Contact, Decision, Identity
from hub.store import Store
from hub.store.activities import insert_activities
from hub.store.contacts import upsert_contacts
from hub.store.db import alembic_config
from hub.store.decisions import insert_decisions
from hub.store.pushes import enqueue
from hub.store.schema import activities, contact_emails, contacts, decisions, identities, pushes
from tests.push_rows import set_field_rows

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
TABLES = (contacts, contact_emails, identities, activities, decisions, pushes)


def counts(store: Store) -> dict[str, int]:
    with store.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar() for t in TABLES}


def move(store: Store, how, revision: str) -> None:  # noqa: ANN001
    cfg = alembic_config(store.engine)
    with store.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        how(cfg, revision)
        conn.commit()


def test_downgrade_past_0015_and_back_keeps_every_child_row(store_url):
    """0015's downgrade rebuilds contacts on SQLite (batch mode); with foreign keys enforced the
    rebuild's DROP TABLE cascaded to every row referencing a contact."""
    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn:
        person = Contact(identities=[Identity(connector="crm", external_id="r1")], emails=["ada@example.com"])
        (cid,) = upsert_contacts(conn, [person], NOW).changed
        insert_activities(
            conn, [Activity(contact_id=cid, type="page_view", occurred_at=NOW, source="crm", external_id="a1")]
        )
        (did,) = insert_decisions(conn, [Decision(contact_id=cid, actions=[], policy="p", policy_version="1")], "k")
        enqueue(conn, set_field_rows(cid, did, ["r1"], {"next_best_action": "call"}), NOW)
    before = counts(store)
    try:
        move(store, command.downgrade, "0014_pending_push_index")
        down = counts(store)
        move(store, command.upgrade, "head")
        up = counts(store)
        with store.connect() as conn:
            enforced = conn.exec_driver_sql("PRAGMA foreign_keys").scalar() if store.dialect == "sqlite" else 1
    finally:
        store.dispose()
    assert set(before.values()) == {1}
    assert down == up == before
    assert enforced == 1  # the pooled connection enforces foreign keys again


def test_a_sqlite_migration_inside_the_callers_transaction_keeps_rows_and_pools_no_unenforced_connection(tmp_path):
    """Inside a caller's open transaction the pragma cannot be set back: that connection is not reused."""
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}", auto_migrate=True)
    with store.begin() as conn:
        person = Contact(identities=[Identity(connector="crm", external_id="r1")], emails=["ada@example.com"])
        upsert_contacts(conn, [person], NOW)
    cfg = alembic_config(store.engine)
    try:
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0014_pending_push_index")
            command.upgrade(cfg, "head")
        with store.connect() as conn:
            enforced = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
        after = counts(store)
    finally:
        store.dispose()
    assert enforced == 1
    assert (after["contacts"], after["identities"], after["contact_emails"]) == (1, 1, 1)
