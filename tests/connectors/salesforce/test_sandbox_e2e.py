"""End to end: the hub pipeline, the real simple-salesforce, and the Salesforce sandbox over TLS.

Fault injection on: every action lands once, expired sessions recover, the daily limit stops a
sync cleanly and the next one resumes from its cursor, conversions keep one person one contact.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.salesforce.client import DailyLimitReached
from hub.config import load_settings
from hub.connectors_setup import setup_connector
from hub.errors import FatalConnectorError, HubError
from hub.pipeline.context import HubContext
from hub.pipeline.push import push_connector
from hub.pipeline.run import run_once
from hub.pipeline.sync import sync_connector
from hub.sandbox.salesforce_server import SalesforceLimits
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World
from hub.store import Store
from hub.store import owners as owner_store
from hub.store import pushes as push_store
from hub.store.schema import contacts, identities
from tests.conftest import hub_config
from tests.faults_met import unmet_faults

NAME = "salesforce"


@pytest.fixture
def redis12(redis_url: str) -> str:
    """The run's leased Redis database (see tests/conftest.py)."""
    return redis_url


@pytest.fixture
def world() -> World:
    return World(n_contacts=400, seed=21)


@pytest.fixture
def sandbox(world: World) -> Iterator[SandboxHandle]:
    with start_sandbox(world) as sb:
        yield sb
        assert not unmet_faults(sb), f"faults queued but never met: {unmet_faults(sb)}"


def sf_settings(sb: SandboxHandle, **extra) -> dict:
    return {
        "username": sb.salesforce_username,
        "password": sb.salesforce_password,
        "security_token": sb.salesforce_security_token,
        "domain": sb.salesforce_domain,
        "ca_bundle": sb.ca_cert_path,
        **extra,
    }


def make_ctx(
    tmp_path: Path,
    redis_url: str,
    sb: SandboxHandle,
    owner: str,
    store_url: str | None = None,
    setup: bool = True,
    **extra,
) -> HubContext:
    """A hub on the sandbox org; ``setup``: run `hub connectors setup` first, as a user does
    (a new org has none of the hub's fields)."""
    store_url = store_url or f"sqlite:///{tmp_path / 'hub.db'}"
    Store(store_url, auto_migrate=True).dispose()
    rule = {
        "name": "everyone",
        "when": "not do_not_contact",
        "actions": [
            {"kind": "set_fields", "fields": {"next_best_action": "email_nurture", "best_channel": "email"}},
            {"kind": "add_to_list", "list": "Hub nurture"},
            {"kind": "assign_owner", "owner": owner},
        ],
    }
    cfg = hub_config(
        tmp_path,
        store_url,
        redis_url,
        plugins=[],
        connectors={NAME: {"type": "salesforce", "settings": sf_settings(sb, **extra)}},
        **{"decision.rules": [rule], "push.backoff_base": 0.05, "push.backoff_max": 0.2, "push.max_attempts": 30},
    )
    ctx = HubContext.build(load_settings(cfg), embedded=True)
    if setup:
        done = setup_connector(ctx.connector(NAME))
        assert done.ok, done.as_dict()
    return ctx


def open_pushes(ctx: HubContext) -> int:
    with ctx.store.connect() as conn:
        counts = push_store.counts(conn)
    return counts.get((NAME, "pending"), 0) + counts.get((NAME, "sending"), 0)


def run_until_quiet(ctx: HubContext, rounds: int = 40) -> None:
    """Run the pipeline until no push is left (errors only delay; they must not lose anything)."""
    for _ in range(rounds):
        with contextlib.suppress(HubError):
            run_once(ctx)
        if open_pushes(ctx) == 0:
            return
        time.sleep(0.25)
    raise AssertionError(f"{open_pushes(ctx)} pushes still open")


def people(world: World) -> dict[str, dict]:
    sf = world.salesforce
    return {
        rid: rec
        for t in ("Contact", "Lead")
        for rid, rec in sf.objects[t].items()
        if not rec["IsDeleted"] and not rec.get("IsConverted") and not rec["DoNotCall"]  # the rule skips do-not-contact
    }


def our_writes(world: World) -> list:
    return [e for e in world.log.entries if e.system == "salesforce" and "composite" in e.endpoint]


def test_every_action_lands_once_under_faults(tmp_path, store_url, redis12, world, sandbox) -> None:
    owner = world.salesforce.users[2]
    ctx = make_ctx(tmp_path, redis12, sandbox, owner, store_url=store_url)
    sandbox.salesforce_faults.set(error_rate=0.08, drop_rate=0.04, seed=3)
    run_until_quiet(ctx)
    sandbox.salesforce_faults.clear()
    assert world.log.faults[("salesforce", "error")] > 0 and world.log.faults[("salesforce", "drop")] > 0
    everyone = people(world)
    writes = our_writes(world)
    nba = Counter(e.record_id for e in writes if e.field == "Hub_Next_Best_Action__c")
    assert set(nba) == set(everyone) and set(nba.values()) == {1}
    campaign = world._campaign
    members = Counter(
        (m["ContactId"] or m["LeadId"])
        for m in world.salesforce.objects["CampaignMember"].values()
        if m["CampaignId"] == campaign
    )
    assert set(members) == set(everyone) and set(members.values()) == {1}
    assert all(rec["OwnerId"] == owner for rec in everyone.values())
    assert {h for o, _, h in world.salesforce.auto_assign_log if o == "Lead"} == {"FALSE"}
    with ctx.store.connect() as conn:
        counts = push_store.counts(conn)
    assert counts.get((NAME, "failed"), 0) == 0
    # no-change runs: the echoes of our writes come back, nothing is written again. (The first
    # re-decides the people whose owner we changed: the hub hashes owner as content.)
    before = len(world.log.entries)
    for _ in range(2):
        report = run_once(ctx)
        assert report.pushes[0].sent == 0 and len(world.log.entries) == before
    assert report.decide.decided == 0
    ctx.close()


def test_expired_sessions_recover_with_one_login(tmp_path, redis12, world, sandbox) -> None:
    ctx = make_ctx(tmp_path, redis12, sandbox, world.salesforce.users[1])
    sync_connector(ctx, NAME)
    conn = ctx.connector(NAME)
    assert conn.client.logins == 1
    sandbox.salesforce.expire_sessions()
    push_connector(ctx, NAME)  # nothing decided yet: exercises no call
    run_once(ctx)
    assert conn.client.logins == 2
    assert open_pushes(ctx) == 0
    ctx.close()


def test_a_bare_session_id_fails_clearly_when_it_expires(sandbox) -> None:
    from connectors.salesforce.config import SalesforceSettings
    from connectors.salesforce.connector import SalesforceConnector

    password = SalesforceConnector(NAME, SalesforceSettings(**sf_settings(sandbox)), {})
    password.client.describe("Contact")
    token = password.client.sf.session_id
    bare = SalesforceConnector(
        NAME,
        SalesforceSettings(session_id=token, instance_url=sandbox.salesforce_url, ca_bundle=sandbox.ca_cert_path),
        {},
    )
    assert bare.client.describe("Lead")["name"] == "Lead"
    sandbox.salesforce.expire_sessions()
    with pytest.raises(FatalConnectorError, match="bare session id"):
        list(bare.pull_contacts(None))
    password.close()
    bare.close()


def count_identities(ctx: HubContext) -> int:
    with ctx.store.connect() as conn:
        return conn.execute(select(func.count()).select_from(identities)).scalar_one()


def test_daily_limit_stops_the_sync_cleanly_and_it_resumes_from_the_cursor(tmp_path, redis12) -> None:
    world = World(n_contacts=5000, seed=4)  # ~3,200 people: two pages of Leads
    limits = SalesforceLimits(daily_api_requests=2, query_batch_size=2000)
    with start_sandbox(world, salesforce_limits=limits) as sb:
        ctx = make_ctx(
            tmp_path,
            redis12,
            sb,
            world.salesforce.users[0],
            setup=False,  # a sync needs no hub field, and setup's calls would spend the 2 allowed
            objects=["Lead"],
            activity_objects=[],
            bulk_threshold=None,
        )  # REST paging is what resumes page by page (a Bulk window is re-read whole)
        with pytest.raises(DailyLimitReached):
            sync_connector(ctx, NAME)  # describe, first page, then 403 on the second page
        assert count_identities(ctx) == 2000
        used = sb.salesforce.daily.used
        sb.salesforce.daily.limit = 1000  # the allocation comes back
        sync_connector(ctx, NAME)
        leads = [r for r in world.salesforce.objects["Lead"].values() if not r["IsConverted"]]
        assert count_identities(ctx) == len(leads)
        # resumed where it stopped, not from scratch; the one more is the owners read that ends
        # a completed sync (routing's active owners)
        assert sb.salesforce.daily.used - used <= 3
        ctx.close()


def test_push_pauses_near_the_daily_limit(tmp_path, redis12, world, sandbox) -> None:
    ctx = make_ctx(tmp_path, redis12, sandbox, world.salesforce.users[3], push_budget_share=0.5)
    sandbox.salesforce.daily.spend(60_000)  # someone else spent most of the org's allocation
    setup_writes = len(our_writes(world))  # the permission set that setup created
    report = run_once(ctx)
    assert report.pushes[0].done == 0 and report.pushes[0].retrying > 0
    assert len(our_writes(world)) == setup_writes
    assert ctx.connector(NAME).usage()["push_paused"] is True
    from hub.status import connector_status

    (st,) = connector_status(ctx.settings, ctx.store)  # what `hub status` and the console show
    assert st.usage["push_paused"] is True and st.usage_at is not None
    assert "of the daily API limit" in st.usage_summary and "pushing paused at 50%" in st.usage_summary
    ctx.close()


def test_deletes_and_conversions_keep_one_person_one_contact(tmp_path, redis12, world, sandbox) -> None:
    ctx = make_ctx(tmp_path, redis12, sandbox, world.salesforce.users[0])
    sync_connector(ctx, NAME)
    sf = world.salesforce
    with ctx.store.connect() as conn:
        n_contacts = conn.execute(select(func.count()).select_from(contacts)).scalar_one()
    leads = [r for r in sf.objects["Lead"].values() if r["Email"]]
    gone, converted = leads[0], leads[1]
    with world.lock:
        sf.delete("Lead", gone["Id"], "admin")
        contact_id = sf.create("Contact", {"LastName": converted["LastName"], "Email": converted["Email"]})
        sf.update(
            "Lead", converted["Id"], {"IsConverted": True, "ConvertedContactId": contact_id}, "convert", source="market"
        )
    sync_connector(ctx, NAME)
    with ctx.store.connect() as conn:
        rows = conn.execute(select(identities.c.object_type, identities.c.external_id, identities.c.contact_id)).all()
        after = conn.execute(select(func.count()).select_from(contacts)).scalar_one()
    by_id = {r.external_id: r for r in rows}
    assert gone["Id"] not in by_id and converted["Id"] not in by_id
    assert by_id[contact_id].object_type == "contact"
    assert after == n_contacts - 1  # the deleted lead's contact is gone; the converted one carried on
    ctx.close()


def test_a_conversion_to_another_email_and_a_purged_deletion_keep_the_store_true(tmp_path, redis12, world, sandbox):
    from datetime import UTC, datetime, timedelta

    from hub.models import Activity
    from hub.store.activities import insert_activities
    from hub.store.schema import activities, contact_emails

    ctx = make_ctx(tmp_path, redis12, sandbox, world.salesforce.users[0])
    sync_connector(ctx, NAME)
    sf = world.salesforce
    leads = [r for r in sf.objects["Lead"].values() if r["Email"] and not r["IsDeleted"]]
    converted, purged = leads[2], leads[3]
    with ctx.store.connect() as conn:
        lead_contact = conn.execute(
            select(identities.c.contact_id).where(identities.c.external_id == converted["Id"])
        ).scalar_one()
        n_before = conn.execute(select(func.count()).select_from(contacts)).scalar_one()
    with ctx.store.begin() as conn:  # some history on the lead's contact (the market has not run yet)
        insert_activities(
            conn,
            [
                Activity(
                    contact_id=lead_contact,
                    type="page_view",
                    occurred_at=datetime.now(UTC),
                    source="web",
                    external_id="pv1",
                )
            ],
        )
    with ctx.store.connect() as conn:
        history = set(conn.execute(select(activities.c.id).where(activities.c.contact_id == lead_contact)).scalars())
    with world.lock:
        new_id = sf.create("Contact", {"LastName": converted["LastName"], "Email": "work.address@newco.example"})
        sf.update(
            "Lead", converted["Id"], {"IsConverted": True, "ConvertedContactId": new_id}, "convert", source="market"
        )
        del sf.objects["Lead"][purged["Id"]]  # deleted and emptied from the Recycle Bin while the hub was away
    sync_connector(ctx, NAME)
    with ctx.store.connect() as conn:
        owner = conn.execute(select(identities.c.contact_id).where(identities.c.external_id == new_id)).scalar_one()
        emails = set(conn.execute(select(contact_emails.c.email).where(contact_emails.c.contact_id == owner)).scalars())
        ghost = conn.execute(select(identities.c.id).where(identities.c.external_id == purged["Id"])).first()
        moved = set(conn.execute(select(activities.c.id).where(activities.c.contact_id == owner)).scalars())
    assert converted["Email"].strip().lower() in emails and "work.address@newco.example" in emails
    assert history and history <= moved  # one person: the lead's history went with it
    assert ghost is not None  # within the Recycle Bin window nobody can tell a purge from a live record

    ctx.connector(NAME).clock = lambda: datetime.now(UTC) + timedelta(days=16)  # a long gap since the last read
    sync_connector(ctx, NAME)
    with ctx.store.connect() as conn:
        ghost = conn.execute(select(identities.c.id).where(identities.c.external_id == purged["Id"])).first()
        n_after = conn.execute(select(func.count()).select_from(contacts)).scalar_one()
    assert ghost is None
    assert n_after == n_before - 1  # the purged lead's contact went; the converted lead's did not double
    ctx.close()


def test_a_merge_moves_the_loser_into_the_master_and_archived_activities_arrive(
    tmp_path, redis12, world, sandbox
) -> None:
    from hub.store.schema import activities

    sf = world.salesforce
    leads = [r for r in sf.objects["Lead"].values() if r["Email"] and not r["IsDeleted"] and not r["IsConverted"]]
    master, loser = leads[0]["Id"], leads[1]["Id"]
    with world.lock:  # an e-mail sent 400 days ago: archived, so only queryAll returns it
        old_task = sf.create(
            "Task",
            {"WhoId": master, "Subject": "Email: old", "TaskSubtype": "Email", "Status": "Completed"}
            | {"ActivityDate": "2024-01-02"},
            at_ms=sf.clock.now_ms() - 400 * 86_400_000,
        )
    ctx = make_ctx(tmp_path, redis12, sandbox, world.salesforce.users[0])
    sync_connector(ctx, NAME)

    def owners() -> dict[str, int]:
        with ctx.store.connect() as conn:
            return dict(
                conn.execute(
                    select(identities.c.external_id, identities.c.contact_id).where(
                        identities.c.external_id.in_([master, loser])
                    )
                ).all()
            )

    before = owners()
    with ctx.store.connect() as conn:
        n_before = conn.execute(select(func.count()).select_from(contacts)).scalar_one()
        archived = conn.execute(
            select(activities.c.contact_id).where(activities.c.external_id == f"Task:{old_task}")
        ).scalar_one_or_none()
    assert archived == before[master]  # the archived Task came through queryAll
    assert before[master] != before[loser]
    with world.lock:
        sf.merge("Lead", master, [loser])
    sync_connector(ctx, NAME)
    after = owners()
    with ctx.store.connect() as conn:
        n_after = conn.execute(select(func.count()).select_from(contacts)).scalar_one()
    assert loser not in after and after[master] == before[master]  # the loser's identity moved, not deleted
    assert n_after == n_before - 1  # two hub contacts became one
    ctx.close()


def test_an_owner_deactivated_after_the_users_read_fails_only_the_assignment(tmp_path, redis12, world, sandbox) -> None:
    """Salesforce refuses the whole row for an inactive owner, and the row held the record's
    field writes too: they failed with it. Now only the assignment fails, with Salesforce's
    error, the fields are sent again, and the owner is known inactive for the next push."""
    from hub.models import Action, Identity, PushRequest

    sf = world.salesforce
    owner, other = sf.users[3], sf.users[4]
    ctx = make_ctx(tmp_path, redis12, sandbox, owner)
    run_until_quiet(ctx)  # every owner assignment landed: the connector holds the owner as active
    lead = next(rid for rid, rec in people(world).items() if rid.startswith("00Q"))
    with world.lock:
        sf.deactivate_user(owner)

    def push(i: int, kind: str, **payload) -> PushRequest:
        ident = Identity(connector=NAME, object_type="lead", external_id=lead)
        return PushRequest(push_id=i, identity=ident, action=Action(kind=kind, payload=payload))

    conn = ctx.connector(NAME)
    results = conn.push(
        [push(1, "set_fields", fields={"next_best_action": "call_now"}), push(2, "assign_owner", owner=owner)]
    )
    assert [r.status for r in results] == ["ok", "failed"]
    assert (
        results[1].reason
        == f"INACTIVE_OWNER_OR_USER: operation performed with inactive user [{owner}] as owner of lead"
    )
    assert sf.objects["Lead"][lead]["Hub_Next_Best_Action__c"] == "call_now"
    patches = sum(n for (system, ep), n in world.log.calls.items() if system == "salesforce" and ep.startswith("PATCH"))
    (again,) = conn.push([push(3, "assign_owner", owner=owner)])  # refused at once: no call
    assert again.status == "failed"
    assert (
        sum(n for (system, ep), n in world.log.calls.items() if system == "salesforce" and ep.startswith("PATCH"))
        == patches
    )
    assert conn.push([push(4, "assign_owner", owner=other)])[0].status == "ok"
    assert sf.objects["Lead"][lead]["OwnerId"] == other
    users = conn.owners()  # what the next sync stores for routing
    assert users[owner] is False and users[other] is True and set(users) == set(sf.objects["User"])
    sync_connector(ctx, NAME)
    with ctx.store.connect() as db:
        assert owner_store.inactive(db) == {owner}
    ctx.close()


def test_locked_rows_stay_queued_with_their_error_and_land_once(tmp_path, redis12, world, sandbox) -> None:
    """Rows another transaction holds answer UNABLE_TO_LOCK_ROW per record: those pushes wait
    with Salesforce's error while the rest land, then land once when the lock is gone. (The
    rows stay locked through the first run however often its push step retries them: with a
    lock of two attempts, a slow run retried past it and the check of what waits was flaky.)"""
    sf = world.salesforce
    owner = sf.users[2]
    ctx = make_ctx(tmp_path, redis12, sandbox, owner)
    everyone = people(world)
    locked = sorted(everyone)[:3]
    with world.lock:
        for rid in locked:
            sf.lock_row(rid, attempts=1_000_000)
        sf.lock_row(world._campaign, attempts=1)
    with contextlib.suppress(HubError):
        run_once(ctx)
    with ctx.store.connect() as conn:
        waiting = push_store.list_pushes(conn, state="pending", connector=NAME, limit=10_000)
    errors = {p.external_id: p.last_error for p in waiting}
    assert set(locked) <= set(errors)
    assert all(errors[rid].startswith("UNABLE_TO_LOCK_ROW: unable to obtain exclusive access") for rid in locked)
    with world.lock:
        assert set(sf.locks) == set(locked)  # the Campaign's lock refused a member insert
        assert all(sf.locks[rid] < 1_000_000 for rid in locked)  # each refused the locked row's writes
        sf.locks.clear()  # the other transaction commits
    run_until_quiet(ctx)
    writes = our_writes(world)
    nba = Counter(e.record_id for e in writes if e.field == "Hub_Next_Best_Action__c")
    assert set(nba) == set(everyone) and set(nba.values()) == {1}
    members = Counter(
        (m["ContactId"] or m["LeadId"])
        for m in sf.objects["CampaignMember"].values()
        if m["CampaignId"] == world._campaign and not m["IsDeleted"]
    )
    assert set(members) == set(everyone) and set(members.values()) == {1}
    with ctx.store.connect() as conn:
        assert push_store.counts(conn).get((NAME, "failed"), 0) == 0
    ctx.close()


def test_a_push_to_an_id_of_another_object_fails_alone_with_salesforce_s_reason(
    tmp_path, redis12, world, sandbox
) -> None:
    """A hub identity whose type and id disagree (a lead id held as a contact) is refused by
    Salesforce as MALFORMED_ID: that push fails with the id in its reason, the rest land."""
    from hub.models import Action, Identity, PushRequest

    sf = world.salesforce
    ctx = make_ctx(tmp_path, redis12, sandbox, sf.users[1])
    lead = next(rid for rid in people(world) if rid.startswith("00Q"))
    contact = next(rid for rid in people(world) if rid.startswith("003"))

    def push(i: int, rid: str) -> PushRequest:
        ident = Identity(connector=NAME, object_type="contact", external_id=rid)
        action = Action(kind="set_fields", payload={"fields": {"next_best_action": "call_now"}})
        return PushRequest(push_id=i, identity=ident, action=action)

    results = ctx.connector(NAME).push([push(1, lead), push(2, contact)])
    assert [r.status for r in results] == ["failed", "ok"]
    assert results[0].reason == f"MALFORMED_ID: Contact ID: id value of incorrect type: {lead}"
    assert sf.objects["Lead"][lead]["Hub_Next_Best_Action__c"] is None
    assert sf.objects["Contact"][contact]["Hub_Next_Best_Action__c"] == "call_now"
    ctx.close()
