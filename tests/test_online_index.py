"""Migrations build their indexes without locking out a live hub's writes on PostgreSQL
(CREATE INDEX CONCURRENTLY), and a build that failed part-way is built again, not left invalid
(hub/store/online_index.py)."""

from __future__ import annotations

from sqlalchemy import event, inspect

from hub.store.db import make_engine, migrate
from hub.store.online_index import index_valid


def _statements(engine) -> list[str]:  # noqa: ANN001
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, sql, *rest: seen.append(" ".join(sql.split())))
    return seen


def test_index_migrations_build_concurrently_on_postgresql(pg_url):
    engine = make_engine(pg_url)
    migrate(engine, "0012_activity_mirrors")
    seen = _statements(engine)
    migrate(engine)
    with engine.connect() as conn:
        valid = {n: index_valid(conn, n) for n in ("ix_decision_features_action_window", "ix_pushes_pending_record")}
    engine.dispose()
    built = [s for s in seen if s.startswith("CREATE INDEX")]
    assert any(s.startswith("CREATE INDEX CONCURRENTLY ix_decision_features_action_window") for s in built), built
    assert any(s.startswith("CREATE INDEX CONCURRENTLY ix_pushes_pending_record") for s in built), built
    assert valid == {"ix_decision_features_action_window": True, "ix_pushes_pending_record": True}


def test_an_index_left_invalid_by_a_failed_build_is_built_again(pg_url):
    engine = make_engine(pg_url)
    migrate(engine, "0013_handoff_index")
    with engine.begin() as conn:  # what a cancelled CREATE INDEX CONCURRENTLY leaves: the name, invalid
        conn.exec_driver_sql("CREATE INDEX ix_pushes_pending_record ON pushes (connector)")
        conn.exec_driver_sql(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = to_regclass('ix_pushes_pending_record')"
        )
        left = index_valid(conn, "ix_pushes_pending_record")
    migrate(engine)  # without the repair: "relation already exists"
    with engine.connect() as conn:
        rebuilt = index_valid(conn, "ix_pushes_pending_record")
    columns = {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("pushes")}
    engine.dispose()
    assert left is False and rebuilt is True
    assert columns["ix_pushes_pending_record"] == ["connector", "external_id"]


def test_index_valid_says_none_when_there_is_no_such_index(pg_url):
    engine = make_engine(pg_url)
    migrate(engine)
    with engine.connect() as conn:
        assert index_valid(conn, "ix_no_such_index") is None
        assert index_valid(conn, "ix_pushes_pending_record") is True
    engine.dispose()
