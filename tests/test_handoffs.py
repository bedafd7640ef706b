"""The day's sales handoffs per owner (the engine's budget), read through
ix_decision_features_action_window (migration 0013), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, inspect

from hub.models import Decision
from hub.store import Store
from hub.store import decisions as decision_store
from hub.store.db import make_engine, migrate
from hub.store.schema import contacts

DAY = datetime(2026, 12, 4, tzinfo=UTC)
INDEX = "ix_decision_features_action_window"


def decision(cid: int, hours: float, action: str, arm: str = "engine", days: float | None = 7.0) -> Decision:
    return Decision(
        contact_id=cid,
        actions=[],
        policy="engine",
        policy_version="t",
        arm=arm,
        created_at=DAY + timedelta(hours=hours),
        action=action,
        features=[0.0],
        feature_version="t",
        attribution_days=days,
    )


def test_handoffs_since_counts_only_the_days_handoffs_in_budgeted_arms(store_url):
    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn:
        for cid, owner in ((1, "ann"), (2, "ann"), (3, None), (4, "bob")):
            conn.execute(
                insert(contacts).values(
                    id=cid,
                    owner=owner,
                    created_at=DAY,
                    changed_at=DAY,
                    properties={},
                    email_opt_out=False,
                    do_not_contact=False,
                )
            )
        items = [
            decision(1, 9, "sales_outreach"),
            decision(2, 10, "sales_outreach", days=0.01),  # a short window, still after the day's start
            decision(3, 11, "sales_outreach", arm="random"),
            decision(4, -2, "sales_outreach"),  # yesterday: its window is open today, still not today's
            decision(4, 12, "sales_outreach", arm="control"),  # not a budgeted arm
            decision(4, 13, "email_nurture"),  # not a handoff
        ]
        for k, d in enumerate(items):  # one request key each: a contact has one decision per key
            decision_store.insert_decisions(conn, [d], f"run-{k}")
    with store.connect() as conn:
        used = decision_store.handoffs_since(conn, ["sales_outreach"], DAY, ["engine", "random"])
        none = decision_store.handoffs_since(conn, [], DAY, ["engine"])
    store.dispose()
    assert used == {"ann": 2, "unassigned": 1}
    assert none == {}


def test_migration_0013_adds_and_drops_the_handoff_index(store_url):
    from alembic import command

    from hub.store.db import alembic_config

    engine = make_engine(store_url)
    migrate(engine, "0012_activity_mirrors")
    before = {ix["name"] for ix in inspect(engine).get_indexes("decision_features")}
    migrate(engine)
    after = {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("decision_features")}
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0012_activity_mirrors")
    undone = {ix["name"] for ix in inspect(engine).get_indexes("decision_features")}
    engine.dispose()
    assert INDEX not in before and INDEX not in undone
    assert after[INDEX] == ["action", "window_ends_at"]
