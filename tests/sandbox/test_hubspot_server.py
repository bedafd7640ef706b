"""The unmodified hubspot-api-client against the HubSpot look-alike."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
)
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.lists import ListCreateRequest, MembershipChangeRequest
from hubspot.crm.objects.exceptions import ApiException as ObjectsApiException
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate
from hubspot.crm.properties.exceptions import ApiException as PropertiesApiException

from hub.sandbox.clock import parse_datetime_ms
from hub.sandbox.hubspot_server import HubSpotLimits
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World

from .conftest import hubspot_client


def _ensure_hub_properties(hs) -> None:  # noqa: ANN001
    hs.crm.properties.groups_api.create("contacts", PropertyGroupCreate(name="decision_hub", label="Decision Hub"))
    for name in (
        "hub_next_best_action",
        "hub_best_send_time",
        "hub_best_channel",
        "hub_decision_id",
    ):
        hs.crm.properties.core_api.create(
            "contacts",
            PropertyCreate(name=name, label=name, type="string", field_type="text", group_name="decision_hub"),
        )


def test_get_all_pages_every_live_contact_and_archived_is_separate(hs, world: World) -> None:
    live = [r for r in world.hubspot.records.values() if not r["archived"]]
    archived = [r for r in world.hubspot.records.values() if r["archived"]]
    got = hs.crm.contacts.get_all(properties=["email", "lifecyclestage"])
    assert sorted(c.id for c in got) == sorted(r["id"] for r in live)
    assert "lifecyclestage" in got[0].properties
    page = hs.crm.contacts.basic_api.get_page(limit=100, archived=True)
    assert archived and {c.id for c in page.results} == {r["id"] for r in archived}
    assert all(c.archived for c in page.results)
    calls = world.log.calls[("hubspot", "GET /crm/v3/objects/{objectType}")]
    assert calls == -(-len(live) // 100) + 1


def test_limit_above_100_is_refused(hs) -> None:
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.basic_api.get_page(limit=101)
    assert e.value.status == 400


def test_search_filters_sorts_and_pages(hs, world: World) -> None:
    mid = sorted(int(r) for r in world.hubspot.records)[len(world.hubspot.records) // 2]
    req = PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": str(mid)}]}],
        sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        limit=200,
        properties=["email"],
    )
    seen: list[int] = []
    while True:
        res = hs.crm.contacts.search_api.do_search(public_object_search_request=req)
        seen += [int(c.id) for c in res.results]
        if not res.paging:
            break
        req.after = res.paging.next.after
    expected = sorted(int(r["id"]) for r in world.hubspot.records.values() if int(r["id"]) > mid and not r["archived"])
    assert seen == expected
    res = hs.crm.contacts.search_api.do_search(
        public_object_search_request={
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "lastmodifieddate",
                            "operator": "BETWEEN",
                            "value": "0",
                            "highValue": "2025-12-06T00:00:00.100Z",
                        }
                    ]
                },
                {
                    "filters": [
                        {
                            "propertyName": "hs_object_id",
                            "operator": "IN",
                            "values": [str(expected[0])],
                        }
                    ]
                },
            ],
            "limit": 200,
        }
    )
    assert res.total >= 1 and str(expected[0]) in {c.id for c in res.results}
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.search_api.do_search(public_object_search_request={"limit": 201})
    assert e.value.status == 400
    with pytest.raises(ApiException):
        hs.crm.contacts.search_api.do_search(public_object_search_request={"sorts": ["email", "firstname"]})


def test_search_400_past_the_ten_thousandth_result() -> None:
    world = World(n_contacts=14_500, seed=3)
    with start_sandbox(world, hubspot_limits=HubSpotLimits(search_per_second=100)) as sb:
        hs = hubspot_client(sb)
        ok = hs.crm.contacts.search_api.do_search(public_object_search_request={"limit": 200, "after": "9800"})
        assert ok.total > 10_000 and len(ok.results) == 200
        assert ok.paging.next.after == "10000"
        with pytest.raises(ApiException) as e:
            hs.crm.contacts.search_api.do_search(
                public_object_search_request={"limit": 200, "after": ok.paging.next.after}
            )
        assert e.value.status == 400
        # The documented way around: filter on hs_object_id greater than the last id seen.
        last = max(int(r) for r in world.hubspot.records) - 5
        tail = hs.crm.contacts.search_api.do_search(
            public_object_search_request={
                "filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": str(last)}]}],
                "limit": 200,
            }
        )
        assert tail.total <= 5


def test_deal_search_walks_a_shared_stamp_by_id_and_is_refused_past_the_ten_thousandth_result() -> None:
    """Deals search as contacts do (HubSpot's rules hold for every object): GTE/GT/EQ on
    ``hs_lastmodifieddate`` and ``hs_object_id`` (a number, not text), one ascending sort,
    ``after`` as an offset, a 400 at 10,000, the limits refused; 10,050 deals edited in one
    bulk write share a stamp, which only the walk by id gets through."""
    world = World(n_contacts=20, seed=3)
    hs_state = world.hubspot
    rid = sorted(hs_state.records, key=int)[0]
    with world.lock:
        bulk = [hs_state.add_deal(rid, world.clock.now_ms(), f"Import {k}", 1.0) for k in range(10_050)]
        hs_state.update_engagements("deals", bulk, {"dealtype": "newbusiness"})
        later = hs_state.add_deal(rid, world.clock.now_ms(), "Later", 2.0)
    stamp = hs_state.engagements["deals"][bulk[0]]["updatedAt"]
    with start_sandbox(world, hubspot_limits=HubSpotLimits(search_per_second=100)) as sb:
        sb.hubspot.catch_up_search()
        api = hubspot_client(sb).crm.objects.search_api

        def search(*filters: dict, sort: str = "hs_lastmodifieddate", after: str | None = None, limit: int = 200):
            body = {
                "filterGroups": [{"filters": list(filters)}],
                "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
                "properties": ["hs_lastmodifieddate"],
                "limit": limit,
            }
            return api.do_search("deals", body if after is None else {**body, "after": after})

        gte = {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(stamp)}
        ok = search(gte, after="9800")
        assert ok.total == 10_051 and len(ok.results) == 200 and ok.paging.next.after == "10000"
        with pytest.raises(ObjectsApiException) as e:
            search(gte, after="10000")
        assert e.value.status == 400 and "SEARCH_RESULT_LIMIT_EXCEEDED" in e.value.body
        eq = {"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": str(stamp)}
        walked, last = [], -1
        while True:
            page = search(
                eq, {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)}, sort="hs_object_id"
            )
            walked += [r.id for r in page.results]
            if len(page.results) < 200:
                break
            last = int(page.results[-1].id)
        assert walked == bulk  # ascending ids (the numbers, 10,050 of them, past the cap)
        past = search({"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": str(stamp)})
        assert [r.id for r in past.results] == [later]
        for bad in ({"limit": 201}, {"sorts": ["hs_object_id", "hs_lastmodifieddate"]}):
            with pytest.raises(ObjectsApiException) as e:
                api.do_search("deals", bad)
            assert e.value.status == 400


def test_batch_update_207_for_missing_records_and_writes_once(hs, world: World) -> None:
    _ensure_hub_properties(hs)
    ids = sorted(r["id"] for r in world.hubspot.records.values() if not r["archived"])[:3]
    inputs = [
        {
            "id": ids[0],
            "properties": {"hub_next_best_action": "webinar_invite", "hub_decision_id": "d-1"},
        },
        {"id": "99999999", "properties": {"hub_next_best_action": "wait"}},
        {"id": ids[2], "properties": {"hub_next_best_action": "wait"}},
    ]
    res = hs.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs))
    assert res.status == "COMPLETE"
    assert sorted(r.id for r in res.results) == sorted([ids[0], ids[2]])
    cats = {e.category: e.context for e in res.errors}
    assert cats == {"OBJECT_NOT_FOUND": {"ids": ["99999999"]}}
    # Writing the same values again changes nothing: exactly once in effect.
    hs.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs[:1]))
    writes = [e for e in world.log.for_record("hubspot", ids[0]) if e.kind == "field"]
    assert sorted(e.field for e in writes) == ["hub_decision_id", "hub_next_best_action"]
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(inputs=[{"id": ids[0], "properties": {"no_such_property": "x"}}])
        )
    assert e.value.status == 400 and "PROPERTY_DOESNT_EXIST" in json.loads(e.value.body)["message"]
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(inputs=[{"id": ids[0], "properties": {}}] * 101)
        )
    assert e.value.status == 400


def test_batch_read_and_upsert(hs, world: World) -> None:
    rec = next(r for r in world.hubspot.records.values() if not r["archived"] and r["properties"].get("email"))
    res = hs.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(inputs=[{"id": rec["id"]}, {"id": "123"}], properties=["email"])
    )
    assert [r.id for r in res.results] == [rec["id"]]
    assert res.errors[0].category == "OBJECT_NOT_FOUND"
    up = hs.crm.contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {
                    "id": rec["properties"]["email"].upper(),
                    "idProperty": "email",
                    "properties": {"jobtitle": "Chief Hub Officer"},
                },
                {
                    "id": "new.person@example.org",
                    "idProperty": "email",
                    "properties": {"firstname": "New"},
                },
            ]
        )
    )
    by_new = {r.new: r for r in up.results}
    assert by_new[False].id == rec["id"]
    assert world.hubspot.records[rec["id"]]["properties"]["jobtitle"] == "Chief Hub Officer"
    assert world.hubspot.records[by_new[True].id]["properties"]["email"] == "new.person@example.org"


def test_properties_groups_and_409_on_duplicates(hs) -> None:
    _ensure_hub_properties(hs)
    names = {p.name for p in hs.crm.properties.core_api.get_all("contacts").results}
    assert {"hub_next_best_action", "email", "lastmodifieddate"} <= names
    with pytest.raises(PropertiesApiException) as e:
        hs.crm.properties.groups_api.create("contacts", PropertyGroupCreate(name="decision_hub", label="again"))
    assert e.value.status == 409
    with pytest.raises(PropertiesApiException) as e:
        hs.crm.properties.core_api.create(
            "contacts",
            PropertyCreate(
                name="hub_decision_id",
                label="x",
                type="string",
                field_type="text",
                group_name="decision_hub",
            ),
        )
    assert e.value.status == 409
    groups = {g.name for g in hs.crm.properties.groups_api.get_all("contacts").results}
    assert "decision_hub" in groups


def test_lists_memberships_and_owners(hs, world: World) -> None:
    ids = sorted(r["id"] for r in world.hubspot.records.values() if not r["archived"])[:5]
    created = hs.crm.lists.lists_api.create(
        ListCreateRequest(name="hub: webinar_invite", object_type_id="0-1", processing_type="MANUAL")
    )
    lid = created.list.list_id
    added = hs.crm.lists.memberships_api.add(lid, ids[:4] + ["424242"])
    assert added.records_ids_added == ids[:4] and added.record_ids_missing == ["424242"]
    again = hs.crm.lists.memberships_api.add(lid, ids[:2])
    assert again.records_ids_added == []
    both = hs.crm.lists.memberships_api.add_and_remove(
        lid, MembershipChangeRequest(record_ids_to_add=[ids[4]], record_ids_to_remove=[ids[0]])
    )
    assert both.records_ids_added == [ids[4]] and both.record_ids_removed == [ids[0]]
    page = hs.crm.lists.memberships_api.get_page(lid, limit=2)
    assert [m.record_id for m in page.results] == ids[1:3] and page.paging.next.after
    mine = hs.crm.lists.memberships_api.get_lists("0-1", ids[1])
    assert [m.list_id for m in mine.results] == [lid]
    found = hs.crm.lists.lists_api.do_search({"query": "webinar"})
    assert found.total == 1
    adds = [e for e in world.log.entries if e.kind == "list_add"]
    assert len(adds) == 5
    owners = hs.crm.owners.owners_api.get_page()
    assert len(owners.results) == 5 and owners.results[0].type == "PERSON"
    with pytest.raises(Exception) as e:
        hs.crm.lists.lists_api.create(ListCreateRequest(name="dyn", object_type_id="0-1", processing_type="DYNAMIC"))
    assert getattr(e.value, "status", None) == 400


def test_owner_assignment_is_validated(hs, world: World) -> None:
    rid = next(r["id"] for r in world.hubspot.records.values() if not r["archived"])
    res = hs.crm.contacts.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(inputs=[{"id": rid, "properties": {"hubspot_owner_id": "71002"}}])
    )
    assert res.status == "COMPLETE" and [r.id for r in res.results] == [rid]
    assert any(e.kind == "owner" and e.new == "71002" for e in world.log.for_record("hubspot", rid))
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(inputs=[{"id": rid, "properties": {"hubspot_owner_id": "9001"}}])
        )
    assert e.value.status == 400 and json.loads(e.value.body)["category"] == "VALIDATION_ERROR"


def test_merge_creates_a_new_record_that_old_ids_resolve_to(hs, world: World) -> None:
    assert world.hubspot.merged == {}
    world.advance_days(world.config.merge_day)
    assert world.hubspot.merged
    loser, survivor = next(iter(world.hubspot.merged.items()))
    got = hs.crm.contacts.basic_api.get_by_id(loser)
    assert got.id == survivor != loser
    merged_ids = got.properties["hs_merged_object_ids"].split(";")
    assert loser in merged_ids and len(merged_ids) == 2
    listed = {c.id for c in hs.crm.contacts.get_all()}
    assert survivor in listed and not set(merged_ids) & listed
    # The API merge behaves the same way.
    a, b = sorted(r for r in listed)[:2]
    new = hs.crm.contacts.basic_api.merge({"primaryObjectId": a, "objectIdToMerge": b})
    assert new.id not in (a, b)
    assert hs.crm.contacts.basic_api.get_by_id(b).id == new.id


def test_auth_401_with_hubspot_error_body(sandbox) -> None:
    bad = hubspot_client(sandbox, token="wrong")
    with pytest.raises(ApiException) as e:
        bad.crm.contacts.basic_api.get_page()
    body = json.loads(e.value.body)
    assert e.value.status == 401 and body["category"] == "INVALID_AUTHENTICATION"


def test_rate_limit_headers_and_ten_secondly_429() -> None:
    world = World(n_contacts=200, seed=1)
    with start_sandbox(world, hubspot_limits=HubSpotLimits(per_ten_seconds=3)) as sb:
        hs = hubspot_client(sb)
        for _ in range(3):
            hs.crm.contacts.basic_api.get_page(limit=1)
        with pytest.raises(ApiException) as e:
            hs.crm.contacts.basic_api.get_page(limit=1)
        assert e.value.status == 429
        body = json.loads(e.value.body)
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["errorType"] == "RATE_LIMIT"
        assert e.value.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert e.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert e.value.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert "X-HubSpot-RateLimit-Daily-Remaining" in e.value.headers
        assert world.log.limits_exceeded[("hubspot", "TEN_SECONDLY_ROLLING")] == 1


def test_search_secondly_429_has_no_rate_headers_and_daily_limit() -> None:
    world = World(n_contacts=200, seed=1)
    limits = HubSpotLimits(search_per_second=1, per_day=4)
    with start_sandbox(world, hubspot_limits=limits) as sb:
        hs = hubspot_client(sb)
        ok = hs.crm.contacts.search_api.do_search(public_object_search_request={"limit": 1})
        assert ok.total > 0
        with pytest.raises(ApiException) as e:
            hs.crm.contacts.search_api.do_search(public_object_search_request={"limit": 1})
        assert json.loads(e.value.body)["message"] == "You have reached your secondly limit."
        assert "X-HubSpot-RateLimit-Max" not in e.value.headers
        for _ in range(3):
            hs.crm.owners.owners_api.get_page()
        with pytest.raises(Exception) as e:
            hs.crm.owners.owners_api.get_page()
        assert json.loads(e.value.body)["policyName"] == "DAILY"
        assert world.log.total_limits_exceeded() == 2


def test_activities_reach_hubspot_after_a_day(hs, world: World, sandbox) -> None:
    _ensure_hub_properties(hs)
    recs = [
        r
        for r in world.hubspot.records.values()
        if not r["archived"] and r["properties"].get("email") and r["properties"]["hs_email_optout"] == "false"
    ]
    inputs = [
        {
            "id": r["id"],
            "properties": {
                "hub_next_best_action": "webinar_invite",
                "hub_decision_id": f"d{r['id']}",
                "hub_best_send_time": "14",
            },
        }
        for r in recs[:100]
    ]
    hs.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs))
    start = world.clock.now_ms()
    world.advance_days(1)
    log = world.ground_truth_log()
    assert len(log["person"]) == 100 and set(log["local_hour"]) == {14}
    resp = hs.api_request(
        {
            "method": "GET",
            "path": "/email/public/v1/events",
            "qs": {"startTimestamp": start, "eventType": "SENT", "limit": 1000},
        }
    )
    events = resp.json()["events"]
    emails = {r["properties"]["email"] for r in recs[:100]}
    assert {e["recipient"] for e in events} <= emails and len(events) >= 90
    meetings = hs.crm.objects.basic_api.get_page("meetings", associations=["contacts"])
    assert meetings.results is not None


def test_bad_input_is_a_400_not_a_crash(sandbox, hs) -> None:
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.search_api.do_search(public_object_search_request={"after": "abc"})
    assert e.value.status == 400
    assert sandbox.hubspot.server_errors == []


def test_search_lag_hides_new_records_and_finds_changed_ones_under_their_old_stamp() -> None:
    """While search's index lags, a record made since is not found, and one changed since is
    found where its old ``lastmodifieddate`` sorts (and filters), returned as it is now: out of
    order, its stamp past the filter's bound (estuary/connectors PR #2210, seen live)."""
    world = World(n_contacts=300, seed=2)
    with start_sandbox(world, hubspot_limits=HubSpotLimits(search_lag_ms=60_000)) as sb:
        hs = hubspot_client(sb)
        world.advance_days(1)
        live = sorted((r for r in world.hubspot.records.values() if not r["archived"]), key=lambda r: r["updatedAt"])
        old, before = live[0], live[0]["updatedAt"]
        hs.crm.contacts.basic_api.update(old["id"], {"properties": {"jobtitle": "Fresh"}})
        new = hs.crm.contacts.basic_api.create({"properties": {"email": "lag@example.com"}}).id

        def search(*filters: dict) -> list:
            return hs.crm.contacts.search_api.do_search(
                public_object_search_request={
                    "filterGroups": [{"filters": list(filters)}] if filters else [],
                    "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                    "properties": ["jobtitle", "lastmodifieddate"],
                    "limit": 5,
                }
            ).results

        first = search({"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(before)})
        assert first[0].id == old["id"]  # where its old stamp sorts, though it was changed since
        assert first[0].properties["jobtitle"] == "Fresh"  # returned as it is now
        assert first[0].properties["lastmodifieddate"] > first[1].properties["lastmodifieddate"]  # out of order
        bounded = search({"propertyName": "lastmodifieddate", "operator": "LTE", "value": str(before)})
        assert [r.id for r in bounded] == [old["id"]]
        assert parse_datetime_ms(bounded[0].properties["lastmodifieddate"]) > before  # past the bound
        assert search({"propertyName": "hs_object_id", "operator": "EQ", "value": new}) == []
        world.advance_days(1)  # the index catches up
        assert search({"propertyName": "lastmodifieddate", "operator": "LTE", "value": str(before)}) == []
        assert [r.id for r in search({"propertyName": "hs_object_id", "operator": "EQ", "value": new})] == [new]


def _get(hs, path: str, qs: dict | None = None):  # noqa: ANN001, ANN202
    return hs.api_request({"method": "GET", "path": path, "qs": qs or {}})


def test_form_submissions_newest_first_with_opaque_after_and_a_paged_forms_list(hs, world: World) -> None:
    """Forms v1 "Get submissions for a form": reverse-chronological, limit 1..50, ``after`` an
    opaque token from the previous page (developers.hubspot.com/docs/api-reference/legacy/
    marketing/forms/v1/get-form-integrations-v1-submissions-forms-form_guid). A made-up
    token is refused, not read as an offset."""
    from hub.sandbox.hubspot_state import FORM_GUID

    with world.lock:
        world.hubspot.form_submissions[:] = [
            {"conversionId": f"c{k}", "submittedAt": 1_700_000_000_000 + k, "formGuid": FORM_GUID, "values": []}
            for k in range(70)
        ]
        world.hubspot.forms += [{"id": f"f{k}", "name": f"F{k}", "archived": False} for k in range(30)]
    path = f"/form-integrations/v1/submissions/forms/{FORM_GUID}"
    first = _get(hs, path, {"limit": 50}).json()
    stamps = [s["submittedAt"] for s in first["results"]]
    assert stamps == sorted(stamps, reverse=True) and stamps[0] == 1_700_000_000_069
    token = first["paging"]["next"]["after"]
    assert not token.isdigit()
    second = _get(hs, path, {"limit": 50, "after": token}).json()
    assert [s["submittedAt"] for s in second["results"]] == list(range(1_700_000_000_019, 1_699_999_999_999, -1))
    assert "paging" not in second
    bad = _get(hs, path, {"after": "50"})
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"
    forms = _get(hs, "/marketing/v3/forms", {"limit": 20}).json()
    assert len(forms["results"]) == 20 and forms["paging"]["next"]["after"]
    rest = _get(hs, "/marketing/v3/forms", {"limit": 20, "after": forms["paging"]["next"]["after"]}).json()
    assert len(rest["results"]) == 11 and "paging" not in rest


def test_datetime_properties_store_instants_read_a_bare_number_as_epoch_ms_and_dates_need_midnight(
    hs, world: World
) -> None:
    """HubSpot's timestamp FAQ (developers.hubspot.com/docs/faq/how-should-timestamps-be-
    formatted-for-hubspots-apis): the APIs take UNIX ms, stored as UTC; a date property must
    be midnight UTC or the write is refused. So "14" on a datetime is 14 ms after the epoch."""
    for name, kind in (("when_dt", "datetime"), ("when_d", "date")):
        hs.crm.properties.core_api.create(
            "contacts",
            PropertyCreate(name=name, label=name, type=kind, field_type="date", group_name="contactinformation"),
        )
    rid = next(r for r, rec in world.hubspot.records.items() if not rec["archived"])
    hs.crm.contacts.basic_api.update(rid, {"properties": {"when_dt": "14"}})
    got = hs.crm.contacts.basic_api.get_by_id(rid, properties=["when_dt"]).properties
    assert got["when_dt"] == "1970-01-01T00:00:00.014Z"
    hs.crm.contacts.basic_api.update(rid, {"properties": {"when_dt": "2026-03-02T14:00:00+01:00"}})
    assert hs.crm.contacts.basic_api.get_by_id(rid, properties=["when_dt"]).properties["when_dt"] == (
        "2026-03-02T13:00:00.000Z"
    )
    hs.crm.contacts.basic_api.update(rid, {"properties": {"when_d": "1430438400000"}})
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.basic_api.update(rid, {"properties": {"when_d": "1430438400001"}})
    body = json.loads(e.value.body)
    assert e.value.status == 400 and body["category"] == "VALIDATION_ERROR" and "not midnight" in body["message"]
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.basic_api.update(rid, {"properties": {"when_dt": "next tuesday"}})
    assert e.value.status == 400


def test_one_invalid_value_refuses_the_whole_batch_update_and_writes_nothing(hs, world: World) -> None:
    """HubSpot validates a batch update as a whole: one bad value and the call answers 400
    VALIDATION_ERROR "Property values were not valid: [...]" naming the property, and no
    record in it is written (the anchors: "one bad contact fails the whole batch"; Hightouch
    split retries exist for exactly this, hightouch.com/docs/syncs/retries)."""
    ids = sorted(r["id"] for r in world.hubspot.records.values() if not r["archived"])[:3]
    before = [world.hubspot.records[i]["properties"]["jobtitle"] for i in ids]
    inputs = [
        {"id": ids[0], "properties": {"jobtitle": "Boss"}},
        {"id": ids[1], "properties": {"lifecyclestage": "not-a-stage"}},
        {"id": ids[2], "properties": {"jobtitle": "Boss"}},
    ]
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs))
    body = json.loads(e.value.body)
    assert e.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid") and "lifecyclestage" in body["message"]
    assert body["errors"][0]["context"] == {"propertyName": ["lifecyclestage"]}
    assert [world.hubspot.records[i]["properties"]["jobtitle"] for i in ids] == before


def test_a_late_indexed_record_is_missing_from_search_but_not_from_get(hs, world: World) -> None:
    """CRM search is eventually consistent: a change can take a while to be searchable, and
    not in modification order (anchors: airbyte#40591, #34446, PR #69203)."""
    rid = next(r for r, rec in world.hubspot.records.items() if not rec["archived"])
    world.hubspot.late_index.add(rid)
    q = {"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": rid}]}]}
    assert hs.crm.contacts.search_api.do_search(public_object_search_request=q).total == 0
    assert hs.crm.contacts.basic_api.get_by_id(rid).id == rid
    world.hubspot.late_index.clear()
    assert hs.crm.contacts.search_api.do_search(public_object_search_request=q).total == 1


def test_an_opt_out_is_also_logged_as_a_statuschange_email_event(hs, world: World) -> None:
    """HubSpot logs a recipient's subscription change as a STATUSCHANGE email event carrying
    ``source``, ``portalSubscriptionStatus`` and ``subscriptions`` (legacy Email Events API,
    "user status events"), next to the contact's ``hs_email_optout``."""
    _ensure_hub_properties(hs)
    recs = [r for r in world.hubspot.records.values() if not r["archived"] and r["properties"].get("email")]
    for k in range(0, len(recs), 100):  # an email to everyone: some will opt out
        inputs = [
            {"id": r["id"], "properties": {"hub_next_best_action": "webinar_invite", "hub_decision_id": f"d{r['id']}"}}
            for r in recs[k : k + 100]
        ]
        hs.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs))
    for _ in range(3):
        world.advance_days(1)
        if any(e["type"] == "STATUSCHANGE" for e in world.hubspot.email_events):
            break
    resp = hs.api_request(
        {"method": "GET", "path": "/email/public/v1/events", "qs": {"eventType": "STATUSCHANGE", "limit": 1000}}
    )
    events = resp.json()["events"]
    assert events, "no opt-out after emailing everyone"
    optouts = {
        (r["properties"].get("email") or "").lower()
        for r in world.hubspot.records.values()
        if r["properties"].get("hs_email_optout") == "true"
    }
    for e in events:
        assert e["portalSubscriptionStatus"] == "UNSUBSCRIBED" and e["source"] == "SOURCE_LIST_UNSUBSCRIBE"
        assert e["subscriptions"] and e["recipient"].lower() in optouts


def test_engagement_search_has_no_associations_and_v4_batch_read_supplies_them(
    hs, world: World, sandbox: SandboxHandle
) -> None:
    """CRM search answers properties only; associations come from
    ``POST /crm/v4/associations/{from}/{to}/batch/read`` (hubspot-api-client
    ``crm.associations.v4.batch_api.get_page``). An outcome set later moves
    ``hs_lastmodifieddate``, so a search on it finds the meeting again."""
    rid = next(r for r, rec in world.hubspot.records.items() if not rec["archived"])
    with world.lock:
        mid = world.hubspot.add_engagement("meetings", rid, world.clock.now_ms(), {"hs_meeting_outcome": "SCHEDULED"})
    first = world.hubspot.engagements["meetings"][mid]["properties"]["hs_lastmodifieddate"]
    with world.lock:
        world.hubspot.update_engagement("meetings", mid, {"hs_meeting_outcome": "NO_SHOW"})
    sandbox.hubspot.catch_up_search()
    after = str(parse_datetime_ms(first) + 1)
    res = hs.crm.objects.search_api.do_search(
        "meetings",
        {
            "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": after}]}],
            "properties": ["hs_meeting_outcome"],
        },
    )
    assert [r.id for r in res.results] == [mid] and res.results[0].properties["hs_meeting_outcome"] == "NO_SHOW"
    raw = hs.api_request(
        {
            "method": "POST",
            "path": "/crm/v3/objects/meetings/search",
            "body": {"filterGroups": [], "associations": ["contacts"], "limit": 200},
        }
    ).json()
    assert raw["results"] and not any("associations" in r for r in raw["results"])
    got = hs.crm.associations.v4.batch_api.get_page("meetings", "contacts", {"inputs": [{"id": mid}, {"id": "1"}]})
    assert [int(t.to_object_id) for t in got.results[0].to] == [int(rid)]
    assert got.errors and got.errors[0].category == "OBJECT_NOT_FOUND"


def test_a_starter_portal_refuses_the_101st_call_in_ten_seconds_and_says_its_limit() -> None:
    """Free/Starter: 100 per 10 s per app (usage guidelines, via the anchors); the headers
    carry the limit the client has to follow."""
    world = World(n_contacts=100, seed=1)
    with start_sandbox(world, hubspot_limits=HubSpotLimits.tier("starter")) as sb:
        hs = hubspot_client(sb)
        for _ in range(100):
            hs.crm.owners.owners_api.get_page(limit=1)
        with pytest.raises(Exception) as e:
            hs.crm.owners.owners_api.get_page(limit=1)
        assert e.value.status == 429 and json.loads(e.value.body)["policyName"] == "TEN_SECONDLY_ROLLING"
        assert e.value.headers["X-HubSpot-RateLimit-Max"] == "100"
        assert HubSpotLimits.tier("oauth_public").per_ten_seconds == 110


def test_oauth_token_endpoint_keeps_secrets_out_of_the_url_and_answers_rfc6749_errors(sandbox) -> None:
    """The current token endpoint ``/oauth/2026-03/token`` takes its parameters in the body
    (HubSpot OAuth v3 guide: "parameters are included in the request body"), errors carry
    ``error``/``error_description`` plus ``status``/``message`` (changelog "New OAuth v3 API
    Endpoints and Standardized Error Responses"), and refresh tokens do not rotate."""
    import requests

    url = f"{sandbox.hubspot_url}/oauth/2026-03/token"
    form = {
        "grant_type": "refresh_token",
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "refresh_token": "sandbox-refresh-0",
    }
    in_url = requests.post(url, params=form, timeout=10, verify=False)
    assert in_url.status_code == 400 and in_url.json()["error"] == "invalid_request"
    for _ in range(2):  # the same refresh token works again: no rotation
        ok = requests.post(url, data=form, timeout=10, verify=False)
        assert ok.status_code == 200 and ok.json()["refresh_token"] == "sandbox-refresh-0"
    bad = requests.post(url, data={**form, "refresh_token": "stolen"}, timeout=10, verify=False)
    body = bad.json()
    assert bad.status_code == 400 and body["error"] == "invalid_grant" and body["status"] == "BAD_REFRESH_TOKEN"


def test_archived_contacts_are_listed_with_archived_at_and_never_searched(hs, world: World) -> None:
    """Archived records are only on the list endpoint with ``archived=true`` (with
    ``archivedAt``); search never returns them (anchors: airbyte#35017, tap-hubspot#64)."""
    rid = sorted((r for r, rec in world.hubspot.records.items() if not rec["archived"]), key=int)[0]
    with world.lock:
        world.hubspot.archive(rid)
    listed = hs.api_request(
        {"method": "GET", "path": "/crm/v3/objects/contacts", "qs": {"archived": "true", "limit": 100}}
    ).json()["results"]
    mine = [r for r in listed if r["id"] == rid]
    assert mine and mine[0]["archived"] is True and mine[0]["archivedAt"].endswith("Z")
    q = {"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": rid}]}]}
    assert hs.crm.contacts.search_api.do_search(public_object_search_request=q).total == 0


def test_deal_search_and_deal_to_contact_associations_answer_as_hubspot_does(
    hs, world: World, sandbox: SandboxHandle
) -> None:
    """``POST /crm/v3/objects/deals/search`` filters on ``hs_lastmodifieddate`` and returns
    HubSpot's default deal properties when none are asked for (dealname, amount, dealstage,
    pipeline, closedate, createdate: the deals search reference); the v4 batch read of deal to
    contact associations answers ``HUBSPOT_DEFINED`` typeId 3 (v4 associations guide,
    "Association type ID values"). A close moves the stage to ``closedwon`` and sets the
    calculated ``hs_is_closed_won``."""
    rid = next(r for r, rec in world.hubspot.records.items() if not rec["archived"])
    with world.lock:
        did = world.hubspot.add_deal(rid, world.clock.now_ms(), "Acme - New Business", 500.0)
        world.hubspot.close_deal(did, True, world.clock.now_ms())
    sandbox.hubspot.catch_up_search()
    res = hs.crm.deals.search_api.do_search(
        {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "0"}]}]}
    )
    row = next(r for r in res.results if r.id == did)
    assert row.properties["dealstage"] == "closedwon" and row.properties["amount"] == "500.00"
    assert {"dealname", "pipeline", "closedate", "createdate"} <= set(row.properties)
    got = hs.crm.associations.v4.batch_api.get_page("deals", "contacts", {"inputs": [{"id": did}]})
    to = got.results[0].to[0]
    assert int(to.to_object_id) == int(rid)
    assert (to.association_types[0].category, to.association_types[0].type_id) == ("HUBSPOT_DEFINED", 3)
    full = hs.crm.deals.basic_api.get_by_id(did, properties=["hs_is_closed_won"])
    assert full.properties["hs_is_closed_won"] == "true"
