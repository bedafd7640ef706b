"""Batch create and upsert answer bad inputs as HubSpot does, through the real hubspot-api-client.

HubSpot's error-handling guide ("Multi-status errors"): only the object APIs' batch *create*
answers per record, and only when every input carries a unique ``objectWriteTraceId``; the
answer is 207 with each failed input's error keyed by ``context.objectWriteTraceId``. Without
them one bad input fails the call: 400 "Property values were not valid: [...]" (amp-labs/connectors'
recorded batch/create fixture err-many-invalid-properties.json), or 409 CONFLICT "Contact already
exists. Existing ID: <id>" naming the first (HubSpot/hubspot-api-python#51). The guide names no
other batch endpoint, so upsert refuses a bad value for the whole batch as update does.
"""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
)

from hub.sandbox.world import World


def _create(hs, inputs: list[dict]):  # noqa: ANN001, ANN202
    return hs.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))


def _refusal(call) -> tuple[int, dict]:  # noqa: ANN001
    with pytest.raises(ApiException) as e:
        call()
    return e.value.status, json.loads(e.value.body)


def _taken(world: World) -> tuple[str, str]:
    rec = next(r for r in world.hubspot.records.values() if not r["archived"] and r["properties"].get("email"))
    return rec["id"], rec["properties"]["email"]


def test_without_trace_ids_one_bad_value_refuses_the_batch_and_creates_nothing(hs, world: World) -> None:
    count = len(world.hubspot.records)
    status, body = _refusal(
        lambda: _create(
            hs,
            [
                {"properties": {"email": "fine.one@example.com"}},
                {"properties": {"email": "fine.two@example.com", "lifecyclestage": "nope"}},
            ],
        )
    )
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: [")
    assert body["errors"][0]["context"] == {"propertyName": ["lifecyclestage"]}
    assert len(world.hubspot.records) == count


def test_without_trace_ids_an_existing_email_is_a_409_for_the_batch_and_creates_nothing(hs, world: World) -> None:
    rid, email = _taken(world)
    count = len(world.hubspot.records)
    status, body = _refusal(
        lambda: _create(hs, [{"properties": {"email": "fresh@example.com"}}, {"properties": {"email": email}}])
    )
    assert status == 409 and body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {rid}"
    assert len(world.hubspot.records) == count


def test_with_a_trace_id_on_every_input_the_good_are_created_and_each_bad_one_named(hs, world: World) -> None:
    rid, email = _taken(world)
    res = _create(
        hs,
        [
            {"objectWriteTraceId": "t-ok", "properties": {"email": "made@example.com", "firstname": "Made"}},
            {"objectWriteTraceId": "t-bad", "properties": {"email": "other@example.com", "no_such_prop": "x"}},
            {"objectWriteTraceId": "t-dup", "properties": {"email": email}},
        ],
    )
    assert [r.properties["email"] for r in res.results] == ["made@example.com"]
    assert world.hubspot.records[res.results[0].id]["properties"]["firstname"] == "Made"
    errors = {e.context["objectWriteTraceId"][0]: e for e in res.errors}
    assert sorted(errors) == ["t-bad", "t-dup"]
    bad = errors["t-bad"]
    assert bad.category == "VALIDATION_ERROR" and bad.message.startswith("Property values were not valid: [")
    items = json.loads(bad.message[bad.message.index("[") :])
    assert [(i["error"], i["name"]) for i in items] == [("PROPERTY_DOESNT_EXIST", "no_such_prop")]
    dup = errors["t-dup"]
    assert dup.category == "CONFLICT" and dup.message == f"Contact already exists. Existing ID: {rid}"
    assert dup.context == {"objectWriteTraceId": ["t-dup"], "existingId": [rid]}
    assert not any(r["properties"].get("email") == "other@example.com" for r in world.hubspot.records.values())


def test_a_trace_id_on_only_some_inputs_does_not_turn_on_multi_status(hs, world: World) -> None:
    count = len(world.hubspot.records)
    status, _ = _refusal(
        lambda: _create(
            hs,
            [
                {"objectWriteTraceId": "t-1", "properties": {"email": "half@example.com"}},
                {"properties": {"email": "half.two@example.com", "lifecyclestage": "nope"}},
            ],
        )
    )
    assert status == 400 and len(world.hubspot.records) == count


def test_one_bad_value_refuses_the_whole_upsert_and_writes_nothing(hs, world: World) -> None:
    _, email = _taken(world)
    count = len(world.hubspot.records)
    before = dict(
        next(r for r in world.hubspot.records.values() if r["properties"].get("email") == email)["properties"]
    )
    status, body = _refusal(
        lambda: hs.crm.contacts.batch_api.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[
                    {"id": email, "idProperty": "email", "properties": {"jobtitle": "Upserted"}},
                    {"id": "brand.new@example.com", "idProperty": "email", "properties": {"lifecyclestage": "nope"}},
                ]
            )
        )
    )
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["context"] == {"propertyName": ["lifecyclestage"]}
    assert len(world.hubspot.records) == count
    after = next(r for r in world.hubspot.records.values() if r["properties"].get("email") == email)["properties"]
    assert after == before


def test_an_upsert_that_would_create_a_contact_with_an_invalid_email_key_is_refused(hs, world: World) -> None:
    count = len(world.hubspot.records)
    status, body = _refusal(
        lambda: hs.crm.contacts.batch_api.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[{"id": "no-at-sign.example.com", "idProperty": "email", "properties": {"firstname": "X"}}]
            )
        )
    )
    assert status == 400 and "INVALID_EMAIL" in body["message"]
    assert len(world.hubspot.records) == count
