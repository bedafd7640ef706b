"""A reader that reads on from a cursor loses no row committed late (hub/store/tail.py).

Ids are drawn at INSERT, transactions commit in any order: on PostgreSQL a row can commit with
a lower id after a reader moved its cursor past a higher one. Checked with two real
connections on PostgreSQL, and the same read path on SQLite (one writer: no race to lose)."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import select

from decision.features import feature_names
from decision.segment_step import SegmentStep
from hub.config import ObjectiveWeights
from hub.models import Activity, ActivityType, Contact, Identity
from hub.store import Store
from hub.store.activities import insert_activities
from hub.store.contacts import upsert_contacts
from hub.store.db import alembic_config
from hub.store.learning import closed_opportunities
from hub.store.schema import activities
from hub.store.tail import START, Position

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def won(cid: int, ext: str, amount: float) -> Activity:
    return Activity(
        contact_id=cid,
        type=ActivityType.OPPORTUNITY_WON,
        occurred_at=NOW,
        properties={"amount": amount},
        source="crm",
        external_id=ext,
    )


def two_contacts(store: Store) -> list[int]:
    """Two people: writers to one contact would wait on each other's row lock (its profile)."""
    with store.begin() as conn:
        people = [Contact(identities=[Identity(connector="crm", external_id=f"r{i}")]) for i in (1, 2)]
        return sorted(upsert_contacts(conn, people, NOW).changed)


def read(store: Store, cursor: Position) -> tuple[list[float], Position]:
    with store.begin() as conn:
        amounts, _, cursor = closed_opportunities(conn, cursor)
    return amounts, cursor


def test_a_lower_id_committed_after_the_read_is_read_next_time_on_postgresql(pg_url):
    """A inserts (lower id) and stays open; B inserts (higher id) and commits; the reader reads;
    A commits: the next read returns A's row, and B's row is read exactly once in all."""
    store = Store(pg_url, auto_migrate=True)
    try:
        ca, cb = two_contacts(store)
        with store.engine.connect() as a, store.engine.connect() as b:
            insert_activities(a, [won(ca, "a", 1.0)])  # A's transaction stays open
            insert_activities(b, [won(cb, "b", 2.0)])
            b.commit()
            first, cursor = read(store, START)
            a.commit()
        second, cursor = read(store, cursor)
        third, _ = read(store, cursor)
    finally:
        store.dispose()
    assert sorted(first + second) == [1.0, 2.0]  # each row once: A's not skipped, B's not twice
    assert third == []


def test_a_transaction_open_elsewhere_does_not_stop_the_reads_on_postgresql(pg_url):
    """One writer left open (here a contact's update; it could be another database's) holds
    back no row committed meanwhile, and once it ends the cursor forgets it."""
    store = Store(pg_url, auto_migrate=True)
    try:
        _, cb = two_contacts(store)
        with store.engine.connect() as idle:
            upsert_contacts(idle, [Contact(identities=[Identity(connector="crm", external_id="r3")])], NOW)
            xid = idle.exec_driver_sql("SELECT pg_current_xact_id()::text::bigint").scalar()
            with store.begin() as conn:
                insert_activities(conn, [won(cb, "b", 2.0)])
            first, waiting = read(store, START)
            idle.commit()
        second, cursor = read(store, waiting)
    finally:
        store.dispose()
    assert first == [2.0] and second == []
    assert xid in waiting[2] and xid not in cursor[2]  # remembered while it ran, then let go


def test_reads_go_on_from_the_cursor_without_repeats(store_url):
    """The same path on both stores: each committed row is read once, in the order committed."""
    store = Store(store_url, auto_migrate=True)
    try:
        cid, _ = two_contacts(store)
        empty, cursor = read(store, START)
        with store.begin() as conn:
            insert_activities(conn, [won(cid, "a", 1.0), won(cid, "b", 2.0)])
        first, cursor = read(store, cursor)
        with store.begin() as conn:
            insert_activities(conn, [won(cid, "c", 3.0)])
        second, cursor = read(store, cursor)
        third, _ = read(store, cursor)
    finally:
        store.dispose()
    assert empty == [] and first == [1.0, 2.0] and second == [3.0] and third == []


def test_a_cursor_saved_as_an_id_before_migration_0019_reads_on_after_it(store_url):
    """Snapshots saved the learn cursor as an activity id: after the upgrade that id, loaded,
    reads the older rows after it and the new ones, and not the ones before."""
    store = Store(store_url, auto_migrate=True)
    cfg = alembic_config(store.engine)
    try:
        with store.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0017_unattributed_activities")
            conn.commit()
        cid, _ = two_contacts(store)
        with store.begin() as conn:
            insert_activities(conn, [won(cid, "old1", 1.0), won(cid, "old2", 2.0)])
            first_id = conn.execute(select(activities.c.id).where(activities.c.external_id == "old1")).scalar()
        with store.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
        with store.begin() as conn:
            insert_activities(conn, [won(cid, "new", 3.0)])
        stages = ("lead",)
        names = list(dict.fromkeys([*feature_names(), *(f"stage_{s}" for s in stages)]))
        step = SegmentStep(names, stages, ["mail", "wait"], 1, ObjectiveWeights())
        step.load_state({"cursor": first_id})
        amounts, cursor = read(store, step.cursor)
        again, _ = read(store, cursor)
    finally:
        store.dispose()
    assert amounts == [2.0, 3.0] and again == []
