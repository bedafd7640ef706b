"""Pushes keyed by ids a merge retired: each record written once, every push answered."""

from __future__ import annotations

from tests.connectors.hubspot.conftest import drain
from tests.connectors.hubspot.test_push import live, req


def _merge(world, a: str, b: str) -> str:
    with world.lock:
        return world.hubspot.merge(a, b)


def _value(world, rid: str) -> str | None:
    return world.hubspot.records[rid]["properties"].get("hub_decision_id")


def test_a_push_to_a_merged_id_is_ok_when_hubspot_answers_with_the_new_id(world, connector):
    connector.ensure_schema()
    a, b, c = live(world)[:3]
    new = _merge(world, a, b)
    results = connector.push([req(1, b), req(2, c)])
    assert [r.status for r in results] == ["ok", "ok"]
    assert _value(world, new) == "d-1" and _value(world, c) == "d-2"
    assert connector.client.calls["contacts.batch_update"] == 1
    assert connector.writers.resolve(b) == new  # learnt from the answer


def test_an_old_id_beside_its_new_record_in_one_batch_is_resolved_and_sent_once(world, connector):
    connector.ensure_schema()
    a, b, c = live(world)[:3]
    new = _merge(world, a, b)
    reqs = [
        req(1, a, fields={"decision_id": "d-old", "next_best_action": "wait"}),
        req(2, new, fields={"decision_id": "d-new"}),
        req(3, c),
    ]
    results = connector.push(reqs)
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    rec = world.hubspot.records[new]["properties"]
    assert rec["hub_decision_id"] == "d-new" and rec["hub_next_best_action"] == "wait"  # the later push wins
    # one refused update (HubSpot's duplicate ids), one batch read to learn the merge, one update
    assert connector.client.calls["contacts.batch_update"] == 2
    assert connector.client.calls["contacts.batch_read"] == 1
    updates = [e for e in world.log.entries if e.kind == "field" and e.field == "hub_decision_id"]
    assert sorted(e.record_id for e in updates) == sorted([new, c])  # each record written once


def test_merges_seen_in_sync_key_later_pushes_by_the_new_record(world, connector):
    connector.ensure_schema()
    a, b = live(world)[:2]
    new = _merge(world, a, b)
    drain(connector.pull_contacts(None))
    connector.client.calls.clear()
    results = connector.push([req(1, a), req(2, b), req(3, new)])
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    assert connector.client.calls == {"contacts.batch_update": 1}  # no refusal, no read
    assert _value(world, new) == "d-3"
