"""Pushes through HubSpot's outages and changes: a revoked token, a missing scope, a spent daily
limit, an owner added or a list deleted in HubSpot, a create whose answer was lost, a property
that does not exist. Each turned queued writes into permanent failures (or wasted calls) before.
"""

from __future__ import annotations

from collections import Counter

import yaml
from sqlalchemy import select, update

from hub.config import load_settings
from hub.models import utcnow
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.pipeline.push import push_connector
from hub.pipeline.sync import sync_connector
from hub.sandbox import hubspot_routes
from hub.sandbox.hubspot_server import HubSpotLimits
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from hub.store import Store
from hub.store.schema import pushes
from tests.connectors.hubspot.conftest import make_connector
from tests.connectors.hubspot.test_push import live, req


def _hub(tmp_path, sb, store_url) -> HubContext:
    cfg = {
        "store_url": store_url,
        "connectors": {
            "crm": {"type": "hubspot", "settings": {"access_token": sb.hubspot_token, "base_url": sb.hubspot_url}}
        },
        "decision": {
            "policy": "rules",
            "rules": [
                {
                    "name": "all",
                    "when": "True",
                    "actions": [{"kind": "set_fields", "fields": {"next_best_action": "email_nurture", "reason": "x"}}],
                }
            ],
        },
        "push": {"max_attempts": 2},
    }
    (tmp_path / "hub.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    Store(store_url, auto_migrate=True).dispose()
    ctx = HubContext.build(load_settings(tmp_path / "hub.yaml"), embedded=True)
    ctx.connector("crm").ensure_schema()
    ctx.connector("crm").client.sleep = lambda s: None
    return ctx


def _states(ctx) -> Counter:
    with ctx.store.connect() as conn:
        return Counter((r.state, r.attempts) for r in conn.execute(select(pushes.c.state, pushes.c.attempts)))


def _due_now(ctx) -> None:
    with ctx.store.begin() as conn:
        conn.execute(update(pushes).where(pushes.c.state == "pending").values(next_attempt_at=utcnow()))


def test_a_revoked_token_blocks_the_pushes_without_spending_their_attempts(tmp_path, store_url):
    """With two attempts allowed, three passes under a revoked token left every write failed
    for good; now they wait, with the reason, and land once the token is fixed."""
    with start_sandbox(World(n_contacts=40, seed=7)) as sb:
        ctx = _hub(tmp_path, sb, store_url)
        try:
            changed = sorted(sync_connector(ctx, "crm").changed)
            queued = decide_contacts(ctx, changed, "k1").pushes
            assert queued > 0
            sb.hubspot.token = "pat-revoked"
            for _ in range(3):
                push_connector(ctx, "crm")
                _due_now(ctx)
            assert _states(ctx) == Counter({("pending", 0): queued})
            with ctx.store.connect() as conn:
                errors = {e for (e,) in conn.execute(select(pushes.c.last_error))}
            assert len(errors) == 1 and "fix the connector" in errors.pop()
            sb.hubspot.token = sb.hubspot_token
            assert push_connector(ctx, "crm").done == queued
        finally:
            ctx.close()


def test_a_missing_list_scope_keeps_the_field_writes_that_landed(world, sandbox):
    """The field writes land, then the list call is refused (403 MISSING_SCOPES): the fields are
    done, the list adds wait. Before, the whole batch was retried and at last failed while
    HubSpot held the fields."""
    c = make_connector(sandbox)
    c.client.sleep = lambda s: None
    c.ensure_schema()
    ids = live(world)[:3]
    sandbox.hubspot.scopes -= {"crm.lists.write"}
    results = c.push([req(i, rid) for i, rid in enumerate(ids)] + [req(10, ids[0], "add_to_list", list="hot")])
    assert [r.status for r in results] == ["ok", "ok", "ok", "blocked"]
    assert "MISSING_SCOPES" in results[3].reason or "scope" in results[3].reason.lower()
    assert all(world.hubspot.records[rid]["properties"]["hub_next_best_action"] for rid in ids)


def test_an_owner_added_in_hubspot_after_the_first_read_is_assigned(world, sandbox):
    c = make_connector(sandbox)
    rid = live(world)[0]
    assert c.push([req(1, rid, "assign_owner", owner="71001")])[0].status == "ok"
    world.hubspot.owners.append(dict(world.hubspot.owners[0], id="71099", email="new.rep@sandbox.example.com"))
    assert c.push([req(2, rid, "assign_owner", owner="71099")])[0].status == "ok"
    assert world.hubspot.records[rid]["properties"]["hubspot_owner_id"] == "71099"
    (refused,) = c.push([req(3, rid, "assign_owner", owner="00000")])
    assert refused.status == "failed" and "not an active HubSpot owner" in refused.reason


def test_a_list_deleted_in_hubspot_is_made_again(world, sandbox):
    c = make_connector(sandbox)
    a, b = live(world)[:2]
    assert c.push([req(1, a, "add_to_list", list="sales-ready")])[0].status == "ok"
    world.hubspot.lists.clear()  # someone tidies up lists in HubSpot
    assert c.push([req(2, b, "add_to_list", list="sales-ready")])[0].status == "ok"
    (made,) = world.hubspot.lists.values()
    assert b in {str(m) for m in made["members"]}


def test_a_list_create_whose_answer_was_lost_uses_the_list_it_made(world, sandbox):
    """HubSpot made the list and the gateway timed out on the answer: the retry is refused as a
    duplicate name, and the connector uses the list it made. (This test patched the sandbox's
    class after the sandbox had bound its routes, so no answer was ever lost: 1 create call.)"""
    sandbox.hubspot_faults.set(lost=[504], match="^POST /crm/v3/lists/?$")
    c = make_connector(sandbox)
    c.client.sleep = lambda s: None
    results = c.push([req(i, rid, "add_to_list", list="sales-ready") for i, rid in enumerate(live(world)[:3])])
    assert [r.status for r in results] == ["ok"] * 3
    assert world.log.faults[("hubspot", "lost 504")] == 1 and c.client.calls["lists.create"] == 2
    assert len(world.hubspot.lists) == 1


def test_a_lost_list_create_is_known_by_its_subcategory_not_its_wording(world, sandbox, monkeypatch):
    """HubSpot's refusal of a second list of one name is told by ``subCategory``
    ILS.DUPLICATE_LIST_NAMES (segmentio/action-destinations' HubSpot lists code checks that); its
    message's wording is not documented, so another wording must not fail the push."""
    monkeypatch.setattr(hubspot_routes, "DUPLICATE_LIST_MESSAGE", "List name must be unique: {name}")
    sandbox.hubspot_faults.set(lost=[504], match="^POST /crm/v3/lists/?$")
    c = make_connector(sandbox)
    c.client.sleep = lambda s: None
    results = c.push([req(i, rid, "add_to_list", list="sales-ready") for i, rid in enumerate(live(world)[:2])])
    assert [r.status for r in results] == ["ok"] * 2
    assert c.client.calls["lists.create"] == 2 and len(world.hubspot.lists) == 1


def test_a_property_that_does_not_exist_fails_its_writes_in_one_call(world, sandbox):
    c = make_connector(sandbox)  # no `hub connectors setup`: hub_next_best_action does not exist
    results = c.push([req(i, rid) for i, rid in enumerate(live(world)[:100])])
    assert {r.status for r in results} == {"failed"} and "PROPERTY_DOESNT_EXIST" in results[0].reason
    assert c.client.calls.get("contacts.batch_update") == 1  # it was 199 calls, halving to single records


def test_a_spent_daily_limit_answers_search_as_daily_and_stops_the_sync():
    with start_sandbox(World(n_contacts=30, seed=7), hubspot_limits=HubSpotLimits(per_day=3)) as sb:
        c = make_connector(sb)
        waits: list[float] = []
        c.client.sleep = waits.append
        for _ in range(3):
            c.client.api.crm.contacts.basic_api.get_page(limit=1)
        try:
            list(c.pull_contacts('{"phase":"inc","since":1}'))
        except Exception as exc:  # noqa: BLE001 - the error's kind and wait are what is checked
            error = exc
        assert getattr(error, "retry_after", None) == 3600 and error.blocked
        assert waits == []  # it had retried every second as if it were the per-second search limit


def test_a_list_name_taken_by_an_active_list_fails_with_what_to_do(world, sandbox):
    """HubSpot changes memberships only of MANUAL and SNAPSHOT lists; an active (DYNAMIC) list of
    the same name had no place in the sandbox, so the refusal was never met in a test."""
    from hubspot import HubSpot

    api = HubSpot(access_token=sandbox.hubspot_token, host=sandbox.hubspot_url).crm.lists.lists_api
    branch = {"filterBranchType": "OR", "filterBranchOperator": "OR", "filterBranches": [], "filters": []}
    made = api.create(
        list_create_request={
            "name": "sales-ready",
            "objectTypeId": "0-1",
            "processingType": "DYNAMIC",
            "filterBranch": branch,
        }
    )
    (result,) = make_connector(sandbox).push([req(1, live(world)[0], "add_to_list", list="sales-ready")])
    assert result.status == "failed" and "active (DYNAMIC) list" in result.reason and "list_prefix" in result.reason
    members = HubSpot(access_token=sandbox.hubspot_token, host=sandbox.hubspot_url).crm.lists.memberships_api
    try:
        members.add_and_remove(
            list_id=made.list.list_id,
            membership_change_request={"recordIdsToAdd": [live(world)[0]], "recordIdsToRemove": []},
        )
        refused = None
    except Exception as exc:  # noqa: BLE001 - the SDK's ApiException; its status is what is checked
        refused = exc
    assert refused is not None and refused.status == 400 and "DYNAMIC" in refused.body


def test_a_list_name_taken_by_a_list_of_another_object_fails_with_what_to_do(world, sandbox):
    """List names are unique across a portal (Lists v3 spec, update-list-name: "globally unique
    relative to all other public lists in the portal"), but a list is fetched by name within one
    object type. A company list holding the hub list's name makes the contact lookup 404 and the
    create a duplicate: the push said "HTTP 404: List ... does not exist", naming no cause."""
    from hubspot import HubSpot

    api = HubSpot(access_token=sandbox.hubspot_token, host=sandbox.hubspot_url).crm.lists.lists_api
    api.create(list_create_request={"name": "key-accounts", "objectTypeId": "0-2", "processingType": "MANUAL"})
    (result,) = make_connector(sandbox).push([req(1, live(world)[0], "add_to_list", list="key-accounts")])
    assert result.status == "failed"
    assert "another object type" in result.reason and "list_prefix" in result.reason


def test_a_dropdown_mapped_in_without_the_hub_s_values_is_flagged_and_setup_adds_them(world, sandbox):
    """best_channel mapped onto a portal's own dropdown lacking ad_audience: setup and check said
    ok, then HubSpot refused every record whose channel was not an option, with all its fields."""
    from hub.sandbox.hubspot_state import _prop

    world.hubspot.properties["preferred_channel"] = _prop(
        "preferred_channel", "Preferred channel", "enumeration", "select", options=["email", "sales_call"]
    )
    from hub.config import ConnectorEntry
    from hub.plugins import build_plugin_manager

    entry = ConnectorEntry(
        type="hubspot",
        settings={"access_token": sandbox.hubspot_token, "base_url": sandbox.hubspot_url},
        field_mapping={"best_channel": "preferred_channel"},
    )
    c = build_plugin_manager().build("hs", entry)
    c.client.sleep = lambda s: None
    (item,) = [i for i in c.schema_plan() if i.name == "preferred_channel"]
    assert item.state == "incomplete" and "ad_audience" in item.note
    c.ensure_schema()
    report = c.check()
    assert not [p for p in report.problems if "preferred_channel" in p], report.problems
    values = [o["value"] for o in world.hubspot.properties["preferred_channel"]["options"]]
    assert values[:2] == ["email", "sales_call"] and {"ad_audience", "direct_mail"} <= set(values)
    rid = live(world)[0]
    (res,) = c.push([req(1, rid, fields={"best_channel": "ad_audience", "next_best_action": "webinar_invite"})])
    assert res.status == "ok" and world.hubspot.records[rid]["properties"]["preferred_channel"] == "ad_audience"


def test_an_owner_archived_after_the_owners_read_fails_only_its_assignment(world, sandbox):
    """HubSpot refuses a whole batch for one archived owner; that failed the record's field
    writes with it and cost a halving per level. Now the owners are read again, only the
    assignment fails, and the rest is sent once more."""
    c = make_connector(sandbox)
    c.ensure_schema()
    a, b = live(world)[:2]
    assert c.push([req(1, a, "assign_owner", owner="71003")])[0].status == "ok"  # owners read and kept
    world.hubspot.archive_owner("71003")
    before = c.client.calls["contacts.batch_update"]
    results = c.push([req(2, a, "assign_owner", owner="71003"), req(3, a), req(4, b, "assign_owner", owner="71001")])
    assert [r.status for r in results] == ["failed", "ok", "ok"]
    assert "'71003' is not an active HubSpot owner" in results[0].reason
    assert world.hubspot.records[a]["properties"]["hub_decision_id"] == "d-3"
    assert world.hubspot.records[b]["properties"]["hubspot_owner_id"] == "71001"
    assert c.client.calls["contacts.batch_update"] - before == 2
    (again,) = c.push([req(5, b, "assign_owner", owner="71003")])  # refused at once now, no call
    assert again.status == "failed"
    assert c.client.calls["contacts.batch_update"] - before == 2


def test_a_portal_that_stops_answering_keeps_its_writes_with_an_error_naming_where_and_what_to_do(tmp_path, store_url):
    """HubSpot's host goes away (an outage, a firewall, a wrong base_url): the writes wait with
    an error that names the address tried, why it failed and what to do, and land once it is
    back. Before, the error was "connection problem (MaxRetryError)": neither where nor what.
    No push is at fault when nothing answers, so none spends an attempt: with `push.max_attempts`
    2, the third pass of an outage had failed every queued write for good (with the default 8,
    an outage of 5-10 minutes: `hub sandbox serve` stopped under a running worker)."""
    from hub.sandbox.httpkit import ServerThread

    with start_sandbox(World(n_contacts=40, seed=7)) as sb:
        ctx = _hub(tmp_path, sb, store_url)
        try:
            queued = decide_contacts(ctx, sorted(sync_connector(ctx, "crm").changed), "k1").pushes
            port = sb._servers[0].port
            sb._servers[0].stop()
            for _ in range(3):
                push_connector(ctx, "crm")
                _due_now(ctx)
            with ctx.store.connect() as conn:
                errors = {e for (e,) in conn.execute(select(pushes.c.last_error))}
            assert _states(ctx) == Counter({("pending", 0): queued})
            (error,) = errors
            assert sb.hubspot_url in error and "connection refused" in error, error
            assert "check base_url" in error and "retry by themselves" in error, error
            sb._servers[0] = ServerThread(sb.hubspot, port).start()
            assert push_connector(ctx, "crm").done == queued
        finally:
            ctx.close()
