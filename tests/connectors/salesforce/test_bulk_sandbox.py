"""Bulk API 2.0 first syncs end to end: the real simple-salesforce ``sf.bulk2`` against the sandbox.

A first sync over Bulk must leave exactly the store a REST sync leaves (contacts, identities,
activities; archived Tasks, deletions and merges included), on SQLite and on PostgreSQL; a small
increment stays on REST; a failed job says so and leaves the cursor where it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from connectors.salesforce.cursor import StreamCursor
from hub.errors import HubError
from hub.pipeline.sync import sync_connector
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World
from hub.store import sync_state
from hub.store.schema import activities, contacts, identities
from tests.conftest import _pg_database

from .test_sandbox_e2e import NAME, make_ctx

BULK = {"bulk_threshold": 1, "bulk_poll_seconds": 0.01}
REST = {"bulk_threshold": None}


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request, tmp_path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bulk.db'}", f"sqlite:///{tmp_path / 'rest.db'}"
        return
    gens = [_pg_database(), _pg_database()]
    urls = [next(g) for g in gens]
    yield urls[0], urls[1]
    for g in gens:
        next(g, None)


@pytest.fixture
def world() -> World:
    """A small org with what a first sync must get right: activities of both kinds, an archived
    Task (queryAll only), an opportunity, a deleted lead and a merged pair."""
    world = World(n_contacts=300, seed=7)
    sf = world.salesforce
    now = sf.clock.now_ms()
    leads = [r for r in sf.objects["Lead"].values() if r["Email"] and not r["IsDeleted"] and not r["IsConverted"]]
    contact = next(iter(sf.objects["Contact"].values()))
    for k, lead in enumerate(leads[:40]):
        sf.create("Task", {"WhoId": lead["Id"], "Subject": f"Call {k}", "TaskSubtype": "Call", "Status": "Open"})
    sf.create(
        "Task",
        {"WhoId": leads[0]["Id"], "Subject": "Email: old", "TaskSubtype": "Email", "Status": "Completed"}
        | {"ActivityDate": "2024-01-02"},
        at_ms=now - 400 * 86_400_000,
    )
    sf.create("Event", {"WhoId": contact["Id"], "Subject": "Meeting", "StartDateTime": now - 3_600_000})
    sf.create(
        "Opportunity",
        {"Name": "Deal", "ContactId": contact["Id"], "Amount": 1200.5, "StageName": "Closed Won"}
        | {"IsClosed": True, "IsWon": True, "CloseDate": "2026-01-05"},
    )
    sf.delete("Lead", leads[5]["Id"], "test")
    sf.merge("Lead", leads[1]["Id"], [leads[2]["Id"]])
    return world


@pytest.fixture
def sandbox(world: World) -> Iterator[SandboxHandle]:
    with start_sandbox(world) as sb:
        yield sb


def _norm(v: Any) -> Any:
    if isinstance(v, datetime):
        return (v.astimezone(UTC) if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()
    return v


def store_view(ctx) -> dict[str, Any]:
    """The store's content without its own ids and clocks: per identity, its record and its
    contact's fields; per activity, its fields and whose it is."""
    skip_contact = {"id", "created_at", "changed_at"}
    with ctx.store.connect() as conn:
        people = {
            r.id: {k: _norm(v) for k, v in r._mapping.items() if k not in skip_contact}
            for r in conn.execute(select(contacts))
        }
        ids = conn.execute(select(identities)).all()
        owner_of = {i.contact_id: i.external_id for i in sorted(ids, key=lambda i: i.external_id)}
        view_ids = {
            i.external_id: (
                i.object_type,
                i.record,
                i.crm_fields,
                i.owner,
                _norm(i.source_updated_at),
                people[i.contact_id],
            )
            for i in ids
        }
        acts = {
            a.external_id: (a.type, _norm(a.occurred_at), a.properties, a.source, owner_of[a.contact_id])
            for a in conn.execute(select(activities))
        }
    return {"identities": view_ids, "activities": acts, "contacts": len(people)}


def bulk_jobs(world: World) -> int:
    return sum(
        n
        for (system, call), n in world.log.calls.items()
        if system == "salesforce" and call.endswith("/jobs/query") and call.startswith("POST")
    )


def test_a_first_sync_over_bulk_stores_exactly_what_rest_stores(
    tmp_path, redis_url, world, sandbox, two_stores
) -> None:
    bulk_url, rest_url = two_stores
    owner = world.salesforce.users[0]
    over_bulk = make_ctx(tmp_path, redis_url, sandbox, owner, store_url=bulk_url, **BULK)
    sync_connector(over_bulk, NAME)
    assert bulk_jobs(world) == 5  # Contact, Lead, Task, Event, Opportunity: one job each
    over_rest = make_ctx(tmp_path, redis_url, sandbox, owner, store_url=rest_url, **REST)
    sync_connector(over_rest, NAME)
    assert bulk_jobs(world) == 5
    got, want = store_view(over_bulk), store_view(over_rest)
    assert want["activities"] and any(k.startswith("Task:") for k in want["activities"])
    assert any(v[0] == "opportunity_won" for v in want["activities"].values())
    assert got["contacts"] == want["contacts"] and set(got["identities"]) == set(want["identities"])
    for rid, row in want["identities"].items():
        assert got["identities"][rid] == row, rid
    assert got["activities"] == want["activities"]
    with over_bulk.store.connect() as a, over_rest.store.connect() as b:
        for stream in ("contacts", "activities"):
            ca, cb = (StreamCursor.loads(sync_state.get_cursor(c, NAME, stream)) for c in (a, b))
            assert ca.objects.keys() == cb.objects.keys()
            for sobject, oc in ca.objects.items():  # the same place in every object ("r" is the wall clock)
                assert (oc.since_ms, oc.seen) == (cb.objects[sobject].since_ms, cb.objects[sobject].seen)
    over_bulk.close()
    over_rest.close()


def test_a_small_increment_stays_on_rest(tmp_path, redis_url, world, sandbox) -> None:
    ctx = make_ctx(tmp_path, redis_url, sandbox, world.salesforce.users[0], bulk_threshold=100, bulk_poll_seconds=0.01)
    sync_connector(ctx, NAME)
    first = bulk_jobs(world)
    assert first >= 1  # Leads (172 > 100) went over Bulk
    lead = next(r for r in world.salesforce.objects["Lead"].values() if not r["IsDeleted"] and not r["IsConverted"])
    with world.lock:
        world.salesforce.update("Lead", lead["Id"], {"Title": "Chief Tester"}, "test", source="market")
    sync_connector(ctx, NAME)
    assert bulk_jobs(world) == first  # one changed row: read over REST
    with ctx.store.connect() as conn:
        record = conn.execute(select(identities.c.record).where(identities.c.external_id == lead["Id"])).scalar_one()
    assert record["job_title"] == "Chief Tester"
    ctx.close()


def test_a_failed_bulk_job_is_reported_and_the_cursor_stays(tmp_path, redis_url, world, sandbox) -> None:
    ctx = make_ctx(tmp_path, redis_url, sandbox, world.salesforce.users[0], **BULK)
    sandbox.salesforce.fail_next_bulk_jobs = 1
    with pytest.raises(HubError, match=r"Bulk API 2\.0 query job .* on Contact ended Failed"):
        sync_connector(ctx, NAME)
    with ctx.store.connect() as conn:
        assert sync_state.get_cursor(conn, NAME, "contacts") is None
        n = len(conn.execute(select(identities.c.id)).all())
        states = {s.stream: s for s in sync_state.all_states(conn)}
    assert n == 0
    assert states["contacts"].last_status == "failed" and "ended Failed" in (states["contacts"].last_error or "")
    sync_connector(ctx, NAME)  # the next sync reads it all
    with ctx.store.connect() as conn:
        assert sync_state.get_cursor(conn, NAME, "contacts") is not None
        assert len(conn.execute(select(identities.c.id)).all()) > 100
    ctx.close()


def test_a_job_that_never_finishes_is_given_up_clearly(world) -> None:
    from connectors.salesforce.client import BulkJobFailed, SalesforceClient
    from connectors.salesforce.config import SalesforceSettings
    from hub.sandbox.salesforce_server import SalesforceLimits

    with start_sandbox(world, salesforce_limits=SalesforceLimits(bulk_polls=10_000)) as sb:
        settings = SalesforceSettings(
            **sb.salesforce_password_login,
            bulk_poll_seconds=0.01,
            bulk_timeout_seconds=0.05,
        )
        client = SalesforceClient(settings)
        with pytest.raises(BulkJobFailed, match=r"on Lead is still InProgress after"):
            list(client.bulk_query_pages("Lead", "SELECT Id FROM Lead"))
        assert 2 <= client.calls <= 8  # create and a few polls, no endless loop
        client.close()
