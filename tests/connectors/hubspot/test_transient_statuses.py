"""HubSpot's transient answers through the real client and the connector: 423 Locked (wait at
least 2 s), 477 migration in progress (wait its Retry-After; a long one is not slept in a task),
502/503/504 and Cloudflare's 524; and gateway timeouts on answers HubSpot had already applied.
The sync ends with every record read once; each write lands once."""

from __future__ import annotations

from collections import Counter

import pytest

from hub.errors import RetryableError
from tests.connectors.hubspot.conftest import drain, make_connector
from tests.connectors.hubspot.test_push import live, req

TRANSIENT = [423, 477, 502, 503, 504, 524]


def _connector(sandbox, **settings):
    c = make_connector(sandbox, **settings)
    waits: list[float] = []
    c.client.sleep = waits.append
    return c, waits


def _read(c) -> list[str]:
    items, rejects, _, _ = drain(c.pull_contacts(None))
    return [x.identities[0].external_id for x in items] + [r.external_id for r in rejects]


def test_a_full_sync_through_every_transient_status_reads_each_record_once(world, sandbox):
    clean, _ = _connector(sandbox, name="clean")
    expected = _read(clean)
    c, waits = _connector(sandbox)
    sandbox.hubspot_faults.set(statuses=TRANSIENT, retry_after_s=7)
    got = _read(c)
    assert sandbox.hubspot_faults.statuses == []  # every one was met
    assert sorted(got) == sorted(expected) and len(got) == len(set(got))
    assert waits[0] >= 2  # 423: the lock lasts 2 s
    assert waits[1] == 7  # 477: its Retry-After, not a 0.2 s backoff


def test_a_migration_longer_than_a_task_should_sleep_blocks_the_pushes_with_its_retry_after(world, sandbox):
    """HubSpot's 477 Retry-After is "typically up to 24 hours": sleeping it out in a worker, or
    spending push attempts on it, is wrong. The pushes wait, blocked, for the time HubSpot gave."""
    c, waits = _connector(sandbox)
    c.ensure_schema()
    sandbox.hubspot_faults.set(statuses=[477], retry_after_s=6 * 3600, match="batch/update")
    results = c.push([req(i, rid) for i, rid in enumerate(live(world)[:3])])
    assert {r.status for r in results} == {"blocked"}
    assert results[0].retry_after == 6 * 3600 and "migrat" in results[0].reason.lower()
    assert all(w < 60 for w in waits)


def test_writes_whose_answers_were_lost_land_once(world, sandbox):
    """504 and 524 after HubSpot applied a batch update or a list change: the connector sends
    them again, and HubSpot holds each value once (an update to the value it has is no change)."""
    c, _ = _connector(sandbox)
    c.ensure_schema()
    ids = live(world)[:5]
    sandbox.hubspot_faults.set(lost=[504, 524], match="batch/update|memberships")
    pushes = [req(i, rid) for i, rid in enumerate(ids)]
    pushes += [req(10 + i, rid, "add_to_list", list="sales-ready") for i, rid in enumerate(ids)]
    results = c.push(pushes)
    assert [r.status for r in results] == ["ok"] * 10
    assert sandbox.world.log.faults[("hubspot", "lost 504")] == 1
    assert sandbox.world.log.faults[("hubspot", "lost 524")] == 1
    writes = Counter((e.record_id, e.field, e.kind) for e in world.log.entries if e.record_id in ids)
    assert writes and max(writes.values()) == 1
    assert all(world.hubspot.records[r]["properties"]["hub_next_best_action"] for r in ids)
    (made,) = world.hubspot.lists.values()
    assert {str(m) for m in made["members"]} == set(ids)


def test_setup_whose_group_create_answer_was_lost_goes_on(world, sandbox):
    """The group was made, the answer was a 504, the retry is refused 409 "already exists":
    setup took that for a failure and stopped before creating any property."""
    c, _ = _connector(sandbox)
    sandbox.hubspot_faults.set(lost=[504], match="^POST /crm/v3/properties/contacts/groups")
    report = c.ensure_schema()
    assert not report.problems and "hub_next_best_action" in report.created
    assert world.hubspot.groups[c.s.property_group]


def test_transient_statuses_past_max_retries_are_retryable_not_failures(world, sandbox):
    c, _ = _connector(sandbox, max_retries=2)
    c.ensure_schema()
    sandbox.hubspot_faults.set(statuses=[503, 502, 524], match="batch/update")
    (result,) = c.push([req(1, live(world)[0])])
    assert result.status == "retryable" and "524" in result.reason
    sandbox.hubspot_faults.set(statuses=[423] * 3, match="search|GET /crm/v3/objects/contacts")
    with pytest.raises(RetryableError) as e:
        list(c.pull_contacts(None))
    assert e.value.status == 423 and not e.value.blocked


def test_a_gateway_timeout_pauses_a_few_seconds_before_the_retry(world, sandbox):
    """HubSpot: after a 502 or 504 (its processing limits were hit) "pause your requests for a
    few seconds, then retry" (developers.hubspot.com/docs/api/faq). A 0.1-0.2 s backoff came
    back while the limit still held; 500 and 503 keep the short exponential backoff."""
    c, waits = _connector(sandbox)
    c.ensure_schema()
    sandbox.hubspot_faults.set(statuses=[502, 504, 503], match="batch/update")
    (result,) = c.push([req(1, live(world)[0])])
    assert result.status == "ok"
    assert 3 <= waits[0] <= 5 and 3 <= waits[1] <= 5  # a few seconds, not a fraction of one
    assert waits[2] < 1  # a 503 is no processing limit


def test_the_gateway_pause_can_be_shortened_in_the_settings(world, sandbox):
    """The chaos bench's short run sets it lower so the default test command stays fast."""
    c, waits = _connector(sandbox, gateway_wait_seconds=0.1)
    c.ensure_schema()
    sandbox.hubspot_faults.set(statuses=[502], match="batch/update")
    (result,) = c.push([req(1, live(world)[0])])
    assert result.status == "ok" and waits[0] <= 0.2  # no more than the first backoff
