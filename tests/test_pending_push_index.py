"""The fold on enqueue reads a record's pending pushes through ix_pushes_pending_record
(migration 0014), not every push the record ever had; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect, select, update

from hub.models import Contact, Decision, Identity
from hub.store import Store
from hub.store import pushes as push_store
from hub.store.contacts import upsert_contacts
from hub.store.db import alembic_config, make_engine, migrate
from hub.store.decisions import insert_decisions
from hub.store.schema import contacts, pushes
from tests.push_rows import set_field_rows

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
INDEX = "ix_pushes_pending_record"


def _rows(cid: int, did: int, records: list[str], value: str) -> list[dict]:
    fields = {"next_best_action": value, f"f_{value}": value}  # two fields, so a fold of two pushes shows
    return set_field_rows(cid, did, records, fields)


def _plan(conn, stmt) -> str:  # noqa: ANN001
    sql = str(stmt.compile(conn, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a small table: ask which index, not whether
        return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))
    return "\n".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))


def test_fold_reads_only_pending_pushes_through_the_partial_index(store_url):
    store = Store(store_url, auto_migrate=True)
    records = [f"r{k}" for k in range(300)]
    with store.begin() as conn:
        upsert_contacts(conn, [Contact(identities=[Identity(connector="crm", external_id="r0")])], NOW)
        cid = conn.execute(select(contacts.c.id)).scalar()
        (did,) = insert_decisions(conn, [Decision(contact_id=cid, actions=[], policy="p", policy_version="1")], "k")
        for day in range(8):  # a history: each day's write was sent, then the next day's came
            push_store.enqueue(conn, _rows(cid, did, records, f"v{day}"), NOW + timedelta(days=day))
            conn.execute(update(pushes).where(pushes.c.state == "pending").values(state="done"))
        # a backlog (the CRM was down): every record has an open write
        push_store.enqueue(conn, _rows(cid, did, records, "open"), NOW + timedelta(days=8))
        conn.exec_driver_sql("ANALYZE")
        new = _rows(cid, did, records[:5], "newest")
        plan = _plan(conn, push_store.pending_of(conn, new))
        pending = conn.execute(push_store.pending_of(conn, new)).all()
        push_store.enqueue(conn, new, NOW + timedelta(days=9))
        folded = conn.execute(
            select(pushes.c.external_id, pushes.c.payload).where(
                pushes.c.state == "pending", pushes.c.external_id.in_(["r0", "r4", "r5"])
            )
        ).all()
        superseded = conn.execute(select(pushes.c.id).where(pushes.c.state == "superseded")).all()
    store.dispose()
    # neither every push the record had (ix_pushes_record) nor every pending push (ix_pushes_due)
    assert INDEX in plan, plan
    assert sorted(r.external_id for r in pending) == records[:5]
    by_record = {r.external_id: r.payload["fields"] for r in folded}
    # the still-open write rides along in the newest one; the done history does not
    assert by_record["r0"] == by_record["r4"] == {"next_best_action": "newest", "f_open": "open", "f_newest": "newest"}
    assert by_record["r5"] == {"next_best_action": "open", "f_open": "open"}
    assert len(superseded) == 5


def test_migration_0014_adds_and_drops_the_partial_index(store_url):
    from alembic import command

    engine = make_engine(store_url)
    migrate(engine, "0013_handoff_index")
    before = {ix["name"] for ix in inspect(engine).get_indexes("pushes")}
    migrate(engine)
    after = {ix["name"]: ix for ix in inspect(engine).get_indexes("pushes")}
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013_handoff_index")
    undone = {ix["name"] for ix in inspect(engine).get_indexes("pushes")}
    migrate(engine)  # and up again: the downgrade left nothing behind
    again = {ix["name"] for ix in inspect(engine).get_indexes("pushes")}
    engine.dispose()
    assert INDEX not in before and INDEX not in undone and INDEX in again
    assert after[INDEX]["column_names"] == ["connector", "external_id"]
    where = " ".join(str(v) for k, v in after[INDEX].get("dialect_options", {}).items() if k.endswith("_where"))
    assert "pending" in where, after[INDEX]
