"""Batch update and upsert refuse inputs that do not name one record each, as HubSpot does."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.properties import PropertyCreate

from hub.sandbox.world import World


def _live(world: World) -> list[str]:
    return sorted((r["id"] for r in world.hubspot.records.values() if not r["archived"]), key=int)


def _refused(call) -> dict:  # noqa: ANN001
    with pytest.raises(ApiException) as e:
        call()
    assert e.value.status == 400
    body = json.loads(e.value.body)
    assert body["status"] == "error" and body["correlationId"] and body["category"] == "VALIDATION_ERROR"
    return body


def _update(hs, inputs: list[dict]):  # noqa: ANN001, ANN202
    return hs.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs))


def _upsert(hs, inputs: list[dict]):  # noqa: ANN001, ANN202
    return hs.crm.contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs))


def test_the_same_id_twice_refuses_the_whole_batch_and_writes_nothing(hs, world: World) -> None:
    a, b = _live(world)[:2]
    body = _refused(
        lambda: _update(
            hs,
            [
                {"id": a, "properties": {"jobtitle": "one"}},
                {"id": b, "properties": {"jobtitle": "other"}},
                {"id": a, "properties": {"jobtitle": "two"}},
            ],
        )
    )
    assert body["message"] == f"Duplicate IDs found in batch input: [{a}]. IDs must be unique"
    assert body["context"] == {"ids": [a]}
    assert world.hubspot.records[b]["properties"].get("jobtitle") != "other"


def test_an_old_id_beside_the_record_it_was_merged_into_is_a_duplicate(hs, world: World) -> None:
    a, b, c = _live(world)[:3]
    new = hs.crm.contacts.basic_api.merge({"primaryObjectId": a, "objectIdToMerge": b}).id
    body = _refused(
        lambda: _update(
            hs, [{"id": b, "properties": {"jobtitle": "old"}}, {"id": new, "properties": {"jobtitle": "new"}}]
        )
    )
    assert body["context"] == {"ids": [new]}
    body = _refused(
        lambda: _update(hs, [{"id": a, "properties": {"jobtitle": "x"}}, {"id": b, "properties": {"jobtitle": "y"}}])
    )
    assert body["context"] == {"ids": [new]}
    # alone, an old id updates the merged record and answers with its new id and the trace id
    res = _update(
        hs,
        [
            {"id": b, "properties": {"jobtitle": "merged"}, "objectWriteTraceId": "t-b"},
            {"id": c, "properties": {"jobtitle": "plain"}, "objectWriteTraceId": "t-c"},
        ],
    )
    assert {(r.id, r.object_write_trace_id) for r in res.results} == {(new, "t-b"), (c, "t-c")}
    assert world.hubspot.records[new]["properties"]["jobtitle"] == "merged"


def test_upsert_needs_an_id_property_with_unique_values(hs, world: World) -> None:
    rid = _live(world)[0]
    before = len(world.hubspot.records)
    _refused(lambda: _upsert(hs, [{"id": rid, "properties": {"jobtitle": "x"}}]))
    body = _refused(lambda: _upsert(hs, [{"id": "99999999", "idProperty": "hs_object_id", "properties": {}}]))
    assert body["message"] == (
        f"Unable to perform update/upsert by non-unique 0-1 property hs_object_id in portal ID "
        f"{world.hubspot.portal_id}"
    )
    body = _refused(lambda: _upsert(hs, [{"id": "CTO", "idProperty": "jobtitle", "properties": {}}]))
    assert "non-unique 0-1 property jobtitle" in body["message"]
    assert len(world.hubspot.records) == before  # nothing created for an unknown id


def test_upsert_by_a_unique_property_creates_then_updates_and_refuses_one_key_twice(hs, world: World) -> None:
    hs.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="ext_id",
            label="External id",
            type="string",
            field_type="text",
            group_name="contactinformation",
            has_unique_value=True,
        ),
    )
    first = _upsert(hs, [{"id": "X-1", "idProperty": "ext_id", "properties": {"firstname": "Ext"}}])
    [made] = first.results
    assert made.new is True and world.hubspot.records[made.id]["properties"]["ext_id"] == "X-1"
    again = _upsert(hs, [{"id": "X-1", "idProperty": "ext_id", "properties": {"lastname": "One"}}])
    assert [(r.id, r.new) for r in again.results] == [(made.id, False)]
    email = next(r["properties"]["email"] for r in world.hubspot.records.values() if r["properties"].get("email"))
    body = _refused(
        lambda: _upsert(
            hs,
            [
                {"id": email, "idProperty": "email", "properties": {"jobtitle": "a"}},
                {"id": email.upper(), "idProperty": "email", "properties": {"jobtitle": "b"}},
            ],
        )
    )
    assert body["message"].startswith("Duplicate IDs found in batch input")


def test_update_by_id_property_takes_email_and_refuses_hs_object_id(hs, world: World) -> None:
    rec = next(r for r in world.hubspot.records.values() if not r["archived"] and r["properties"].get("email"))
    res = _update(hs, [{"id": rec["properties"]["email"], "idProperty": "email", "properties": {"jobtitle": "Mailed"}}])
    assert [r.id for r in res.results] == [rec["id"]] and rec["properties"]["jobtitle"] == "Mailed"
    body = _refused(
        lambda: _update(hs, [{"id": rec["id"], "idProperty": "hs_object_id", "properties": {"jobtitle": "x"}}])
    )
    assert "non-unique 0-1 property hs_object_id" in body["message"]
    body = _refused(
        lambda: _update(
            hs,
            [
                {"id": rec["id"], "properties": {"jobtitle": "a"}},
                {"id": rec["properties"]["email"], "idProperty": "email", "properties": {"jobtitle": "b"}},
            ],
        )
    )
    assert body["context"] == {"ids": [rec["id"]]}
