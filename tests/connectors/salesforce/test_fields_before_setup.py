"""A new org, before `hub connectors setup`: the hub's custom fields do not exist yet.

Real simple-salesforce over TLS against the sandbox's default org (no hub fields, as a real
org before its admin creates them). Pushes that set a hub field fail with a reason that says to
run setup, the rest of the batch lands, the sync still reads; after setup the same push lands.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from hub.connectors_setup import setup_connector
from hub.models import Action, ActionKind, Identity, PushRequest
from hub.pipeline.run import run_once
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World
from hub.store import pushes as push_store

from .test_sandbox_e2e import NAME, count_identities, make_ctx, people, run_until_quiet


@pytest.fixture
def sb() -> Iterator[SandboxHandle]:
    with start_sandbox(World(n_contacts=60, seed=8)) as handle:
        yield handle


def _connector(sb: SandboxHandle) -> SalesforceConnector:
    settings = SalesforceSettings(
        **sb.salesforce_password_login,
    )
    return SalesforceConnector("sf", settings, {})


def _push(push_id: int, rid: str, kind: ActionKind, **payload: object) -> PushRequest:
    return PushRequest(
        push_id=push_id,
        identity=Identity(connector="sf", object_type="contact", external_id=rid),
        action=Action(kind=kind, payload=payload),
    )


def test_push_before_setup_fails_saying_to_run_setup_and_the_rest_lands(sb: SandboxHandle) -> None:
    conn = _connector(sb)
    first, second = list(sb.world.salesforce.objects["Contact"])[:2]
    owner, other = sb.world.salesforce.users[1], sb.world.salesforce.users[2]
    nba, same_record, other_record = conn.push(
        [
            _push(1, first, ActionKind.SET_FIELDS, fields={"next_best_action": "call", "reason": "r"}),
            _push(2, first, ActionKind.ASSIGN_OWNER, owner=owner),  # one row with the fields
            _push(3, second, ActionKind.ASSIGN_OWNER, owner=other),
        ]
    )
    assert nba.status == "failed"
    assert nba.reason.startswith("INVALID_FIELD: No such column 'Hub_")
    assert "does not exist or is hidden" in nba.reason and "run `hub connectors setup`" in nba.reason
    assert same_record.status == "ok", same_record.reason  # sent again without the fields
    assert other_record.status == "ok", other_record.reason
    contacts = sb.world.salesforce.objects["Contact"]
    assert (contacts[first]["OwnerId"], contacts[second]["OwnerId"]) == (owner, other)


def test_sync_before_setup_reads_contacts_without_the_hub_fields(sb: SandboxHandle) -> None:
    contacts = [c for page in _connector(sb).pull_contacts(None) for c in page.items]
    live = sum(not r["IsDeleted"] for t in ("Contact", "Lead") for r in sb.world.salesforce.objects[t].values())
    assert 0 < len(contacts) <= live
    assert all(c.crm_fields == {} for c in contacts)


def test_after_setup_the_same_push_lands(sb: SandboxHandle) -> None:
    conn = _connector(sb)
    cid = next(iter(sb.world.salesforce.objects["Contact"]))
    [before] = conn.push([_push(1, cid, ActionKind.SET_FIELDS, fields={"next_best_action": "call"})])
    assert before.status == "failed"
    report = conn.ensure_schema()
    assert report.problems == [], report.problems
    [after] = conn.push([_push(1, cid, ActionKind.SET_FIELDS, fields={"next_best_action": "call"})])
    assert after.status == "ok", after.reason
    assert sb.world.salesforce.objects["Contact"][cid]["Hub_Next_Best_Action__c"] == "call"
    read = [
        c for page in conn.pull_contacts(None) for c in page.items if any(i.external_id == cid for i in c.identities)
    ]
    assert [c.crm_fields.get("next_best_action") for c in read] == ["call"]


def test_the_pipeline_before_setup_syncs_and_keeps_the_pushes_failed_until_setup_and_a_retry(
    tmp_path, redis_url, sb: SandboxHandle
) -> None:
    world = sb.world
    ctx = make_ctx(tmp_path, redis_url, sb, world.salesforce.users[0], setup=False)
    run_once(ctx)
    assert count_identities(ctx) > 0  # the sync read the people
    with ctx.store.connect() as db:
        failed = push_store.list_pushes(db, state="failed", connector=NAME, limit=10_000)
        done = [p.kind for p in push_store.list_pushes(db, state="done", connector=NAME, limit=10_000)]
    assert failed and {p.kind for p in failed} == {"set_fields"}
    assert all("run `hub connectors setup`" in (p.last_error or "") for p in failed)
    assert {"add_to_list", "assign_owner"} <= set(done)  # the rest of the batch went on
    assert all(rec["Hub_Next_Best_Action__c"] is None for rec in people(world).values())

    assert setup_connector(ctx.connector(NAME)).ok
    with ctx.store.begin() as db:
        assert push_store.retry_failed(db, [p.id for p in failed], datetime.now(UTC)) == len(failed)
    run_until_quiet(ctx)
    with ctx.store.connect() as db:
        assert push_store.counts(db).get((NAME, "failed"), 0) == 0
    assert all(rec["Hub_Next_Best_Action__c"] == "email_nurture" for rec in people(world).values())
    ctx.close()


def test_a_long_lived_connector_reads_fields_setup_made_elsewhere_once_its_describe_is_old(sb: SandboxHandle) -> None:
    """A worker syncs before setup; setup runs from another process (`hub connectors setup`).
    The worker's describe is trusted for ``DESCRIBE_TTL`` only, so its reads pick the new fields
    up then, instead of never (the push diff would compare against fields it never read)."""
    from connectors.salesforce.client import DESCRIBE_TTL

    worker = _connector(sb)
    now = [0.0]
    worker.client.clock = lambda: now[0]
    cid = next(iter(sb.world.salesforce.objects["Contact"]))

    def synced() -> dict:
        [c] = [
            c for p in worker.pull_contacts(None) for c in p.items if any(i.external_id == cid for i in c.identities)
        ]
        return c.crm_fields

    assert synced() == {}  # before setup: the fields do not exist
    admin = _connector(sb)
    assert admin.ensure_schema().problems == []
    [pushed] = admin.push([_push(1, cid, ActionKind.SET_FIELDS, fields={"next_best_action": "call"})])
    assert pushed.status == "ok", pushed.reason
    assert synced() == {}  # the worker's describe is still the one from before setup
    now[0] += DESCRIBE_TTL + 1
    assert synced().get("next_best_action") == "call"
