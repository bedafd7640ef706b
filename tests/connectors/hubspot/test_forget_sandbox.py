"""End to end against the sandbox HubSpot portal: `hub forget --clear-crm`, then syncs (the
clearing write itself changes the record, then someone edits it, then a full re-sync) must not
bring the person back, and the events API must not either. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from hub.api.events import ingest
from hub.api.schemas import EventIn
from hub.config import load_settings
from hub.forget import forget, unsuppress
from hub.pipeline.context import HubContext
from hub.pipeline.run import run_once
from hub.pipeline.sync import sync_connector
from hub.sandbox.world import World
from hub.store import Store
from hub.store.schema import contact_emails, contacts, identities, sync_state
from tests.conftest import hub_config

NAME = "hubspot"


@pytest.fixture
def world():
    return World(n_contacts=120, seed=11)


@pytest.fixture
def ctx(tmp_path, store_url, redis_url, sandbox):
    Store(store_url, auto_migrate=True).dispose()
    rule = {
        "name": "everyone",
        "when": "not do_not_contact",
        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "email_nurture", "best_channel": "email"}}],
    }
    cfg = hub_config(
        tmp_path,
        store_url,
        redis_url,
        plugins=[],
        connectors={
            NAME: {
                "type": "hubspot",
                "settings": {"access_token": sandbox.hubspot_token, "base_url": sandbox.hubspot_url},
            }
        },
        **{"decision.rules": [rule]},
    )
    c = HubContext.build(load_settings(cfg), embedded=True)
    c.connector(NAME).ensure_schema()  # the hub's properties, as `hub connectors setup` makes them
    yield c
    c.close()


class _NoDispatch:
    mode = "embedded"

    def learn(self, ids):
        return None

    def decide(self, contact_id, key):
        return "not_needed"


def in_store(ctx, email: str, record_id: str) -> tuple[int, int]:
    with ctx.store.connect() as conn:
        by_email = conn.execute(select(func.count()).where(contact_emails.c.email == email)).scalar()
        by_id = conn.execute(
            select(func.count()).where(identities.c.connector == NAME, identities.c.external_id == record_id)
        ).scalar()
    return by_email, by_id


def test_forgotten_person_is_not_read_back_from_hubspot(ctx, world, sandbox):
    run_once(ctx)
    hs = world.hubspot
    with world.lock:
        rid, rec = next(
            (rid, r)
            for rid, r in sorted(hs.records.items(), key=lambda kv: int(kv[0]))
            if not r["archived"] and r["properties"].get("email") and r["properties"].get("hub_next_best_action")
        )
        email = rec["properties"]["email"].strip().lower()
    assert in_store(ctx, email, rid) == (1, 1)
    with ctx.store.connect() as conn:
        people_before = conn.execute(select(func.count()).select_from(contacts)).scalar()

    report = forget(ctx, email, clear_crm=True)
    assert report.done, report.waiting
    with world.lock:
        assert not hs.records[rid]["properties"].get("hub_next_best_action"), "the hub's fields were cleared"
        writes_after_forget = len(world.log.entries)

    # 1. the clearing write changed the record: the next run once search has it reads it and must skip it
    sandbox.hubspot.catch_up_search()
    first = run_once(ctx)
    assert in_store(ctx, email, rid) == (0, 0)
    assert sum(s.suppressed for s in first.syncs) >= 1
    # 2. someone edits the record in HubSpot
    with world.lock:
        hs.set_properties(rid, {"jobtitle": "Asked to be forgotten"}, endpoint="ui", source="ui")
    sandbox.hubspot.catch_up_search()
    second = sync_connector(ctx, NAME)
    assert second.suppressed == 1 and in_store(ctx, email, rid) == (0, 0)
    # 3. a full re-sync from the start
    with ctx.store.begin() as conn:
        conn.execute(delete(sync_state).where(sync_state.c.connector == NAME))
    full = sync_connector(ctx, NAME)
    assert full.suppressed >= 1 and in_store(ctx, email, rid) == (0, 0)
    with ctx.store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contacts)).scalar() == people_before - 1
    # 4. events for them are dropped, by email or by their HubSpot record id
    for i, who in enumerate(({"email": email.upper()}, {"external": {"connector": NAME, "id": rid}})):
        ev = EventIn(event_id=f"after-forget-{i}", type="form_submit", identity=who)
        assert ingest(ctx, _NoDispatch(), ev).status == "suppressed"
    assert in_store(ctx, email, rid) == (0, 0)
    # nothing the hub did after the forget wrote to their record
    with world.lock:
        later = [e for e in world.log.entries[writes_after_forget:] if e.record_id == rid and e.system == "hubspot"]
    assert later == []

    # they consent again: lifted, and their next change in HubSpot brings them back
    assert unsuppress(ctx, email) >= 2
    with world.lock:
        hs.set_properties(rid, {"jobtitle": "Back, with consent"}, endpoint="ui", source="ui")
    sandbox.hubspot.catch_up_search()
    sync_connector(ctx, NAME)
    assert in_store(ctx, email, rid) == (1, 1)
