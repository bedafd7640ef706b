"""A CRM field change declared as an outcome: detected when a sync re-merges the contact,
recorded once however often the record is read again, attributed to the decision before it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.pipeline.decide import decide_contacts
from hub.pipeline.outcomes import record_outcomes
from hub.pipeline.sync import sync_connector
from hub.store.schema import activities, outcomes
from tests.plugins.memory_crm import MemoryCRM
from tests.test_pipeline import make_ctx

CUSTOMER = {"name": "became_customer", "field": "lifecycle_stage", "to": "customer"}


@pytest.fixture
def crm(redis_url):
    c = MemoryCRM(redis_url, "memcrm")
    c.clear()
    yield c
    c.clear()


def field_activities(ctx) -> list:
    with ctx.store.connect() as conn:
        return conn.execute(select(activities).where(activities.c.source == "hub")).all()


def test_a_stage_change_is_one_outcome_across_syncs(tmp_path, store_url, redis_url, crm):
    ctx = make_ctx(
        tmp_path,
        store_url,
        redis_url,
        **{"decision.outcomes": [CUSTOMER], "decision.objective": {"became_customer": 100}},
    )
    try:
        crm.put_contact("1", email="p1@example.com", stage="lead")
        crm.put_contact("2", email="p2@example.com", stage="customer")  # a customer from the start: no change
        first = sync_connector(ctx, "crm")
        decide_contacts(ctx, sorted(first.changed), "d1")
        assert field_activities(ctx) == []

        crm.put_contact("1", stage="customer")
        second = sync_connector(ctx, "crm")
        (act,) = field_activities(ctx)
        assert act.type == "custom" and act.properties == {
            "name": "became_customer",
            "field": "lifecycle_stage",
            "from": "lead",
            "to": "customer",
        }
        assert act.id in second.new_activity_ids
        assert record_outcomes(ctx, second.new_activity_ids) == 1
        with ctx.store.connect() as conn:
            (row,) = conn.execute(select(outcomes.c.reward)).all()
        assert row.reward == {"custom": 1.0, "became_customer": 1.0}

        crm.put_contact("1", stage="customer", first_name="Pat")  # read again, still a customer
        third = sync_connector(ctx, "crm")
        assert third.records >= 1 and len(field_activities(ctx)) == 1

        crm.put_contact("2", stage="opportunity")  # a change, but not to the declared value
        sync_connector(ctx, "crm")
        assert len(field_activities(ctx)) == 1
    finally:
        ctx.close()
