"""Pushes to the sandbox portal: batched, diffed upstream, per-record errors, faults, limits."""

from __future__ import annotations

import threading
from collections import Counter

from hub.connector import Runtime
from hub.models import Action, Identity, PushRequest
from tests.connectors.hubspot.conftest import make_connector, oauth_connector


def req(i: int, rid: str, kind: str = "set_fields", **payload) -> PushRequest:
    payload = payload or {"fields": {"next_best_action": "email_nurture_technical", "decision_id": f"d-{i}"}}
    return PushRequest(
        push_id=i, identity=Identity(connector="hs", external_id=rid), action=Action(kind=kind, payload=payload)
    )


def live(world) -> list[str]:
    return sorted((rid for rid, r in world.hubspot.records.items() if not r["archived"]), key=int)


def test_ensure_schema_is_idempotent(connector):
    first = connector.ensure_schema()
    second = connector.ensure_schema()
    assert "hub_next_best_action" in first.created and not first.problems
    assert second.created == [] and "hub_next_best_action" in second.existing
    assert connector.check().problems == []


def test_check_names_the_missing_scopes(sandbox, connector):
    sandbox.hubspot.scopes -= {"crm.lists.write", "forms"}
    report = connector.check()
    assert not report.ok
    assert any("lacks the scopes crm.lists.write:" in p for p in report.problems), report.problems
    assert any("lacks the scopes forms: form submissions are not synced" in p for p in report.problems)


def test_check_passes_without_content_and_forms_but_names_what_is_not_synced(sandbox, connector):
    """The sync goes on without the sources they read (test_optional_streams.py), so the check
    warns in its problems and stays ok: a portal without marketing email is not failing."""
    connector.ensure_schema()
    sandbox.hubspot.scopes -= {"content", "forms"}
    report = connector.check()
    assert report.ok
    assert report.problems == [
        "the token lacks the scopes content, forms: marketing email events and form submissions are not synced"
        " (the rest is); add them to the HubSpot app and reinstall it"
    ]


def test_oauth_refreshes_by_lifetime_on_the_current_token_endpoint_with_the_same_refresh_token(world, sandbox):
    """``POST /oauth/2026-03/token`` replaces ``/oauth/v1/token`` (deprecated February 16, 2027:
    developers.hubspot.com/changelog/v1-oauth-api-deprecation); HubSpot's refresh tokens do
    not rotate, so the one configured keeps working (and none is required in the answer)."""
    c = oauth_connector(sandbox)
    report = c.check()
    assert report.details["portal"] == 4242 and sandbox.hubspot.refreshes == 1
    assert not report.ok and "run `hub connectors setup hs`" in report.problems[0]  # a new portal: no properties
    c.ensure_schema()
    assert c.check().ok and sandbox.hubspot.refreshes == 1
    c.client._token_expires = 0  # the token's lifetime is over: the next call refreshes first
    assert c.push([req(1, live(world)[0], "add_to_list", list="oauth-list")])[0].status == "ok"
    assert sandbox.hubspot.refreshes == 2 and sandbox.hubspot.v1_token_calls == 0
    assert c.client._refresh_token == "sandbox-refresh-0"
    sandbox.hubspot.scopes -= {"forms"}
    assert any("forms" in p for p in c.check().problems)  # scopes come from the introspect endpoint


def test_check_reports_a_bad_token(sandbox):
    c = make_connector(sandbox, access_token="wrong")
    report = c.check()
    assert not report.ok and "crm.objects.contacts.read" in report.problems[0]


def test_fields_owner_and_lists_land_in_batches_of_100_with_per_record_errors(world, connector):
    connector.ensure_schema()
    ids = live(world)[:230]
    reqs = [req(i, rid) for i, rid in enumerate(ids)]
    reqs += [req(1000, ids[0], "assign_owner", owner="71002"), req(1001, ids[1], "assign_owner", owner="not-an-owner")]
    reqs += [req(2000 + i, rid, "add_to_list", list="sales-ready") for i, rid in enumerate(ids[:5])]
    reqs += [req(3000, "999999", "set_fields", fields={"next_best_action": "wait"})]  # no such record
    before = dict(world.log.calls)
    results = {r.push_id: r for r in connector.push(reqs)}
    assert len(results) == len(reqs)
    assert results[3000].status == "failed" and "OBJECT_NOT_FOUND" in results[3000].reason
    assert results[1001].status == "failed" and "not an active HubSpot owner" in results[1001].reason
    assert all(results[i].status == "ok" for i in range(230)) and results[1000].status == "ok"
    assert world.hubspot.records[ids[0]]["properties"]["hubspot_owner_id"] == "71002"
    calls = Counter({k: v - before.get(k, 0) for k, v in world.log.calls.items()})
    batch_calls = sum(v for (sys, ep), v in calls.items() if "batch/update" in ep)
    assert batch_calls == 3  # 231 records (owner folded into its record) -> ceil(231 / 100)
    lst = next(x for x in world.hubspot.lists.values() if x["name"] == "sales-ready")
    assert set(lst["members"]) == set(ids[:5])


def test_a_removal_from_a_list_of_a_contact_gone_from_hubspot_is_done_an_add_fails(world, connector):
    """HubSpot names ids it cannot find in ``recordIdsMissing``: "not added or removed" (Lists v3
    spec, MembershipsUpdateResponse). A contact deleted for good is in no list, so its removal
    holds (as the Salesforce writer counts a removal of no member); its add cannot, and fails.
    The removal failed "record not found in HubSpot", a failed push no one could fix."""
    kept, gone = live(world)[:2]
    with world.lock:
        world.hubspot.gdpr_delete(gone)
    results = connector.push(
        [
            req(1, kept, "add_to_list", list="sales-ready"),
            req(2, gone, "remove_from_list", list="sales-ready"),
            req(3, gone, "add_to_list", list="nurture"),
        ]
    )
    assert [r.status for r in results] == ["ok", "ok", "failed"]
    assert "not found in HubSpot" in results[2].reason


def test_faults_every_action_lands_exactly_once(world, sandbox, connector):
    connector.ensure_schema()
    reqs = [req(i, rid) for i, rid in enumerate(live(world)[:300])]
    # 20% 5xx, a burst of 429s and dropped connections: the client's own retry covers POSTs
    sandbox.hubspot_faults.set(error_rate=0.2, burst_429=5, drop_rate=0.05, seed=4)
    results = []
    for i in range(0, len(reqs), 100):
        results += connector.push(reqs[i : i + 100])
    sandbox.hubspot_faults.clear()
    assert Counter(r.status for r in results) == {"ok": 300}
    writes = Counter(
        (e.record_id, e.field) for e in world.log.entries if e.kind == "field" and e.field == "hub_decision_id"
    )
    assert len(writes) == 300 and set(writes.values()) == {1}
    assert sum(world.log.faults.values()) > 0, "faults were injected"


def test_four_workers_pushing_at_once_never_exceed_the_limit(world, sandbox, redis_url):
    sandbox.hubspot.limits.per_ten_seconds = 40
    from hub.sandbox.ratelimit import RollingWindow

    sandbox.hubspot.window = RollingWindow(40, 10.0)
    runtime = Runtime(shared_url=redis_url)
    workers = [make_connector(sandbox, runtime, requests_per_ten_seconds=38) for _ in range(4)]
    workers[0].ensure_schema()
    ids = live(world)[:400]
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            mine = ids[k::4]
            for i in range(0, len(mine), 10):  # small batches: many calls
                workers[k].push([req(j, rid) for j, rid in enumerate(mine[i : i + 10])])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert world.log.total_limits_exceeded() == 0
    assert sum(c.client.calls.get("contacts.batch_update", 0) for c in workers) == 40


def test_one_invalid_value_in_a_batch_fails_that_record_alone_and_the_rest_are_written(world, connector):
    """HubSpot refuses a whole batch update for one invalid value (400 VALIDATION_ERROR); the
    writer splits the batch until the bad record stands alone (Hightouch's split retries,
    hightouch.com/docs/syncs/retries), so 99 writes land and one fails with HubSpot's reason."""
    connector.ensure_schema()
    ids = live(world)[:100]
    reqs = [req(i, rid, fields={"decision_id": f"d-{i}", "lead_score": 50}) for i, rid in enumerate(ids)]
    reqs[37] = req(37, ids[37], fields={"decision_id": "d-37", "best_channel": "fax"})  # not an option
    results = {r.push_id: r for r in connector.push(reqs)}
    assert results[37].status == "failed" and "VALIDATION_ERROR" in results[37].reason
    assert "hub_best_channel" in results[37].reason
    assert all(results[i].status == "ok" for i in range(100) if i != 37)
    assert all(
        world.hubspot.records[ids[i]]["properties"]["hub_decision_id"] == f"d-{i}" for i in range(100) if i != 37
    )
    assert connector.client.calls["contacts.batch_update"] <= 2 * 7 + 1  # a bisection, not 100 calls


def test_a_refused_value_reads_as_hubspots_code_and_property_without_the_values_sent(world, connector):
    """HubSpot's validation body names each refused property with its code and echoes the value
    sent and the portal id in every item: the reason keeps code, property and message, once."""
    connector.ensure_schema()
    (res,) = connector.push([req(1, live(world)[0], fields={"best_channel": "fax"})])
    assert res.status == "failed"
    assert res.reason.startswith(
        "HubSpot refused the record: VALIDATION_ERROR: Property values were not valid: "
        "INVALID_OPTION 'hub_best_channel': fax was not one of the allowed options: ["
    ), res.reason
    assert "portalId" not in res.reason and "propertyValue" not in res.reason


def test_missing_properties_fail_every_record_with_one_reason_naming_them_all(world, connector):
    """A portal without the hub's properties: HubSpot names every one the batch writes; records
    with different values share one reason, so an operator sees one cause, not one per record."""
    ids = live(world)[:3]
    results = connector.push([req(i, rid) for i, rid in enumerate(ids)])
    assert {r.status for r in results} == {"failed"} and len({r.reason for r in results}) == 1
    reason = results[0].reason
    assert (
        "PROPERTY_DOESNT_EXIST 'hub_next_best_action'" in reason and "PROPERTY_DOESNT_EXIST 'hub_decision_id'" in reason
    )
    assert reason.count("hub_decision_id'") == 1 and "d-1" not in reason
    assert "hub connectors setup" in reason  # and what fixes it


def test_an_invalid_email_reason_does_not_quote_the_address():
    """HubSpot's INVALID_EMAIL message quotes the address; a push reason is shown in the console
    and grouped by cause, so it keeps the code and property only."""
    import json

    from connectors.hubspot.actions import _message
    from connectors.hubspot.client import HubSpotRequestError

    item = {
        "isValid": False,
        "message": "Email address ann@@example.com is invalid",
        "error": "INVALID_EMAIL",
        "name": "email",
        "propertyValue": "ann@@example.com",
    }
    body = {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": "Property values were not valid: " + json.dumps([item]),
    }
    said = _message(HubSpotRequestError(400, body, "refused"))
    assert "INVALID_EMAIL 'email'" in said and "ann@@example.com" not in said


def test_check_of_an_unreachable_portal_says_so_without_blaming_the_scopes(capfd):
    """... and prints nothing on stdout: the SDK's own "HTTP error occurred" print there made
    `hub connectors list --check --json` output that is not JSON."""
    from hub.config import ConnectorEntry
    from hub.plugins import build_plugin_manager

    entry = ConnectorEntry(
        type="hubspot", settings={"access_token": "pat-x", "base_url": "http://127.0.0.1:9", "max_retries": 0}
    )
    conn = build_plugin_manager().build("hs", entry, None)
    try:
        report = conn.check()
    finally:
        conn.close()
    assert not report.ok and len(report.problems) == 1
    assert (
        "scopes" not in report.problems[0]
        and "cannot connect to http://127.0.0.1:9 (connection refused)" in report.problems[0]
    ), report.problems
    assert capfd.readouterr().out == ""
