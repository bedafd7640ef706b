"""Pushing at the wire: collections with per-record results, owners, lists, and the API budget."""

from __future__ import annotations

import json

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st
from responses import matchers

from hub.errors import RetryableError
from hub.models import Action, ActionKind, Identity, PushRequest

from .wire import BASE, add_describe, connector, limit_header, query_page, session_settings

COLLECTION = f"{BASE}/composite/sobjects"


def req(pid: int, rid: str, kind: ActionKind, obj: str = "contact", **payload) -> PushRequest:
    return PushRequest(
        push_id=pid,
        identity=Identity(connector="sf", object_type=obj, external_id=rid),
        action=Action(kind=kind, payload=payload),
    )


def ok(rid: str) -> dict:
    return {"id": rid, "success": True, "errors": []}


def err(code: str, message: str = "bad") -> dict:
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": []}]}


def person_describes() -> None:
    """Contact and Lead describes (the writer reads field lengths from them)."""
    for name in ("Contact", "Lead"):
        add_describe(responses, name)


def body(call) -> dict:
    return json.loads(call.request.body)


@responses.activate
def test_fields_and_owner_merge_into_one_row_with_auto_assign_off() -> None:
    person_describes()
    responses.get(f"{BASE}/query/", json=query_page([{"Id": "005U"}]))  # the owner is an active user
    patch = responses.patch(
        COLLECTION,
        json=[  # rows go grouped by type: the two Contacts, then the Lead
            err("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access"),
            err("FIELD_CUSTOM_VALIDATION_EXCEPTION", "no"),
            ok("00QA"),
        ],
        headers=limit_header(500),
        match=[matchers.header_matcher({"Sforce-Auto-Assign": "FALSE"})],
    )
    conn = connector()
    results = conn.push(
        [
            req(1, "00QA", ActionKind.SET_FIELDS, obj="lead", fields={"lead_score": "80", "next_best_action": "call"}),
            req(2, "00QA", ActionKind.ASSIGN_OWNER, obj="lead", owner="005U"),
            req(3, "003B", ActionKind.SET_FIELDS, fields={"best_send_time": "2026-01-06T10:00:00+00:00"}),
            req(4, "003C", ActionKind.SET_FIELDS, fields={"experiment_arm": "engine"}),
        ]
    )
    rows = body(patch.calls[0])["records"]
    assert body(patch.calls[0])["allOrNone"] is False
    assert [r["id"] for r in rows] == ["003B", "003C", "00QA"]
    assert rows[2] == {
        "attributes": {"type": "Lead"},
        "id": "00QA",
        "Hub_Lead_Score__c": 80.0,
        "Hub_Next_Best_Action__c": "call",
        "OwnerId": "005U",
    }
    assert rows[0]["Hub_Best_Send_Time__c"] == "2026-01-06T10:00:00.000Z"
    assert [(r.push_id, r.status) for r in results] == [(1, "ok"), (2, "ok"), (3, "retryable"), (4, "failed")]
    assert results[3].reason == "FIELD_CUSTOM_VALIDATION_EXCEPTION: no"
    assert conn.usage()["api_used"] == 500


@responses.activate
def test_bad_values_inactive_owners_and_unknown_fields_fail_without_a_call() -> None:
    person_describes()
    responses.get(f"{BASE}/query/", json=query_page([]))  # 005X is not an active user
    conn = connector(session_settings(allowed_owner_queues=["00GQ"]))
    patch = responses.patch(COLLECTION, json=[ok("00QQ")])
    results = conn.push(
        [
            req(1, "003A", ActionKind.SET_FIELDS, fields={"lead_score": "high"}),
            req(2, "003A", ActionKind.ASSIGN_OWNER, owner="005X"),
            req(3, "003A", ActionKind.SET_FIELDS, fields={"shoe_size": 44}),
            req(4, "00QQ", ActionKind.ASSIGN_OWNER, obj="lead", owner="00GQ"),  # an allowed queue, on a Lead
            req(5, "001A", ActionKind.SET_FIELDS, obj="account", fields={"reason": "x"}),
            req(6, "003Q", ActionKind.ASSIGN_OWNER, owner="00GQ"),  # a queue owns no Contact
        ]
    )
    assert [r.status for r in results] == ["failed", "failed", "failed", "ok", "failed", "failed"]
    assert results[0].reason.startswith("INVALID_VALUE") and results[1].reason.startswith("INACTIVE_OWNER")
    assert results[2].reason.startswith("UNKNOWN_FIELD") and results[5].reason.startswith("INVALID_OWNER")
    assert [r["id"] for r in body(patch.calls[0])["records"]] == ["00QQ"]


@responses.activate
def test_a_hub_field_the_org_lacks_fails_its_pushes_and_the_row_is_sent_again_without_it() -> None:
    """A new org before `hub connectors setup`: Salesforce refuses the row naming the field."""
    person_describes()
    responses.get(f"{BASE}/query/", json=query_page([{"Id": "005U"}]))
    missing = err("INVALID_FIELD", "No such column 'Hub_Reason__c' on sobject of type Contact")
    patch = responses.patch(COLLECTION, json=[missing, ok("003B")])
    again = responses.patch(COLLECTION, json=[ok("003A")])
    results = connector().push(
        [
            req(1, "003A", ActionKind.SET_FIELDS, fields={"reason": "why", "decision_id": "d1"}),
            req(2, "003A", ActionKind.ASSIGN_OWNER, owner="005U"),
            req(3, "003B", ActionKind.SET_FIELDS, fields={"decision_id": "d2"}),
        ]
    )
    assert [r.status for r in results] == ["failed", "ok", "ok"]
    assert results[0].reason == (
        "INVALID_FIELD: No such column 'Hub_Reason__c' on sobject of type Contact. Contact.Hub_Reason__c does not "
        "exist or is hidden from this user by field-level security; run `hub connectors setup` to create the hub's fields"
    )
    first, second = [c for c in responses.calls if c.request.method == "PATCH"]
    assert [r["id"] for r in body(first)["records"]] == ["003A", "003B"]
    assert body(second)["records"] == [{"attributes": {"type": "Contact"}, "id": "003A", "OwnerId": "005U"}]
    assert (len(patch.calls), len(again.calls)) == (1, 1)


@responses.activate
def test_a_request_refused_whole_for_a_missing_field_is_sent_again_with_each_kept_push_s_own_values() -> None:
    """sObject Collections read every record before writing any, so a field the org lacks
    refuses the whole request (400 INVALID_FIELD): the pushes that set it fail with the setup
    hint, the rest go again, and a record keeps the values of its surviving pushes, not a value
    merged in from the push that failed."""
    person_describes()
    refused = [{"errorCode": "INVALID_FIELD", "message": "No such column 'Hub_Reason__c' on sobject of type Contact"}]
    first = responses.patch(COLLECTION, json=refused, status=400)
    again = responses.patch(COLLECTION, json=[ok("003A"), ok("003B")])
    results = connector().push(
        [
            req(1, "003A", ActionKind.SET_FIELDS, fields={"decision_id": "old"}),
            req(2, "003A", ActionKind.SET_FIELDS, fields={"decision_id": "new", "reason": "why"}),
            req(3, "003B", ActionKind.SET_FIELDS, fields={"decision_id": "d3"}),
        ]
    )
    assert [r.status for r in results] == ["ok", "failed", "ok"]
    assert "No such column 'Hub_Reason__c'" in results[1].reason and "hub connectors setup" in results[1].reason
    assert (len(first.calls), len(again.calls)) == (1, 1)
    resent = {r["id"]: r for r in body(again.calls[0])["records"]}
    assert resent["003A"]["Hub_Decision_Id__c"] == "old" and "Hub_Reason__c" not in resent["003A"]
    assert resent["003B"]["Hub_Decision_Id__c"] == "d3"


@responses.activate
def test_two_hundred_rows_per_call() -> None:
    person_describes()
    patch = responses.add_callback(
        responses.PATCH,
        COLLECTION,
        callback=lambda r: (200, {}, json.dumps([ok(x["id"]) for x in json.loads(r.body)["records"]])),
    )
    conn = connector()
    results = conn.push(
        [req(i, f"003{i:05d}", ActionKind.SET_FIELDS, fields={"decision_id": str(i)}) for i in range(450)]
    )
    assert [len(body(c)["records"]) for c in patch.calls] == [200, 200, 50]
    assert all(r.status == "ok" for r in results) and len(results) == 450


@responses.activate
def test_push_pauses_above_the_budget_share() -> None:
    person_describes()
    responses.patch(COLLECTION, json=[ok("003A")], headers=limit_header(95_000))
    # over the budget, the usage is read again before refusing (it is a rolling 24 h): still 95%
    limits = responses.get(f"{BASE}/limits/", json={}, headers=limit_header(95_000))
    conn = connector(session_settings(push_budget_share=0.9, budget_retry_after=1800))
    conn.push([req(1, "003A", ActionKind.SET_FIELDS, fields={"decision_id": "1"})])
    with pytest.raises(RetryableError) as paused:
        conn.push([req(2, "003A", ActionKind.SET_FIELDS, fields={"decision_id": "2"})])
    assert paused.value.retry_after == 1800 and "95%" in str(paused.value) and limits.call_count == 1
    assert conn.usage() | {"calls": 0} == {
        "api_used": 95_000,
        "api_limit": 100_000,
        "share": 0.95,
        "push_pause_share": 0.9,
        "push_paused": True,
        "calls": 0,
        "logins": 0,
    }


@responses.activate
def test_list_adds_create_missing_campaigns_and_skip_existing_members() -> None:
    responses.get(f"{BASE}/query/", json=query_page([]))  # no Campaign named "vip" yet
    responses.post(COLLECTION, json=[ok("701V")])
    responses.get(
        f"{BASE}/query/", json=query_page([{"Id": "00vM", "CampaignId": "701V", "ContactId": "003A", "LeadId": None}])
    )
    responses.post(
        COLLECTION, json=[{"success": False, "errors": [{"statusCode": "DUPLICATE_VALUE", "message": "dup"}]}]
    )
    conn = connector()
    results = conn.push(
        [
            req(1, "003A", ActionKind.ADD_TO_LIST, list="vip"),  # already a member: nothing to write
            req(2, "00QB", ActionKind.ADD_TO_LIST, obj="lead", list="vip"),
        ]
    )
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert body(posts[0])["records"] == [{"attributes": {"type": "Campaign"}, "Name": "vip", "IsActive": True}]
    assert body(posts[1])["records"] == [
        {"attributes": {"type": "CampaignMember"}, "CampaignId": "701V", "LeadId": "00QB"}
    ]
    assert [r.status for r in results] == ["ok", "ok"]  # a duplicate member means the add holds


@responses.activate
def test_list_removes_delete_only_existing_members() -> None:
    responses.get(
        f"{BASE}/query/", json=query_page([{"Id": "00vM", "CampaignId": "701V", "ContactId": "003A", "LeadId": None}])
    )
    delete = responses.delete(COLLECTION, json=[ok("00vM")])
    conn = connector(session_settings(campaigns={"vip": "701V"}))
    results = conn.push(
        [
            req(1, "003A", ActionKind.REMOVE_FROM_LIST, list="vip"),
            req(2, "003B", ActionKind.REMOVE_FROM_LIST, list="vip"),
        ]
    )
    assert "ids=00vM" in delete.calls[0].request.url and "allOrNone=false" in delete.calls[0].request.url
    assert [r.status for r in results] == ["ok", "ok"] and len(delete.calls) == 1


@responses.activate
def test_interleaved_contacts_and_leads_are_grouped_by_type() -> None:
    person_describes()
    """Push order alternates Contact and Lead; Salesforce refuses more than 10 type chunks per call."""
    rows = [(f"003C{k:03d}", "contact") if k % 2 == 0 else (f"00QL{k:03d}", "lead") for k in range(230)]
    patch = responses.patch(COLLECTION, json=[ok("x")] * 200)
    results = connector().push(
        [
            req(i, rid, ActionKind.SET_FIELDS, obj=obj, fields={"next_best_action": "call"})
            for i, (rid, obj) in enumerate(rows)
        ]
    )
    sent = [[r["attributes"]["type"] for r in body(c)["records"]] for c in patch.calls]
    assert [len(s) for s in sent] == [200, 30]
    for types in sent:
        chunks = 1 + sum(a != b for a, b in zip(types, types[1:], strict=False))
        assert chunks <= 10
    assert sent[0][:115] == ["Contact"] * 115 and set(sent[0][115:]) == {"Lead"}
    assert len(results) == 230 and results[0].status == "ok"


@responses.activate
def test_a_concurrency_limit_does_not_pause_pushing_for_an_hour() -> None:
    person_describes()
    busy = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentPerOrgLongTxn Limit exceeded."}]
    responses.patch(COLLECTION, json=busy, status=403)
    (res,) = connector().push([req(1, "003A", ActionKind.SET_FIELDS, fields={"next_best_action": "call"})])
    assert res.status == "retryable" and res.retry_after is not None and res.retry_after <= 60
    daily = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]
    responses.replace(responses.PATCH, COLLECTION, json=daily, status=403)
    # the org's daily allocation is spent: the push waits for it without using an attempt
    (res,) = connector().push([req(1, "003A", ActionKind.SET_FIELDS, fields={"next_best_action": "call"})])
    assert res.status == "blocked" and res.retry_after == 3600.0


@given(st.lists(st.sampled_from(["Contact", "Lead", "Account", "Task"]), max_size=700))
def test_typed_chunks_keep_every_row_within_salesforce_s_limits(types: list[str]) -> None:
    from connectors.salesforce.actions import _Row, typed_chunks

    rows = [_Row(t, f"id{k}") for k, t in enumerate(types)]
    parts = typed_chunks(rows)
    assert sorted(r.record_id for p in parts for r in p) == sorted(r.record_id for r in rows)
    for part in parts:
        assert 0 < len(part) <= 200
        assert 1 + sum(a.sobject != b.sobject for a, b in zip(part, part[1:], strict=False)) <= 10
    assert len(parts) == -(-len(rows) // 200)  # grouping costs no extra calls


@given(st.lists(st.text(min_size=1, max_size=80), max_size=300, unique=True))
def test_lookups_are_cut_to_queries_salesforce_takes(names: list[str]) -> None:
    from connectors.salesforce.actions import fitting
    from connectors.salesforce.client import MAX_QUERY_BYTES, query_bytes
    from connectors.salesforce.mapping import campaigns_soql

    parts = fitting(names, campaigns_soql)
    assert [n for p in parts for n in p] == names
    for part in parts:
        assert 0 < len(part) <= 200
        assert query_bytes(campaigns_soql(part)) <= MAX_QUERY_BYTES
