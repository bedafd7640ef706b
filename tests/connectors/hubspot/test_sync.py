"""Incremental contact sync against the sandbox portal with the real hubspot-api-client."""

from __future__ import annotations

import json

from tests.connectors.hubspot.conftest import drain


def live_ids(world) -> set[str]:
    return {rid for rid, r in world.hubspot.records.items() if not r["archived"]}


def touch(world, ids, props, same_ms: bool = False):
    """Change records as the market would; ``same_ms`` gives them all one timestamp (a bulk import)."""
    with world.lock:
        at = world.clock.now_ms()
        for rid in ids:
            world.hubspot.set_properties(rid, props, "test", source="market")
            if same_ms:
                world.hubspot._stamp(rid, at)
                world.hubspot.records[rid]["updatedAt"] = at


def test_full_sync_reads_every_live_contact_once_and_a_quiet_resync_costs_two_calls(world, connector):
    items, rejects, deleted, cursor = drain(connector.pull_contacts(None))
    got = [c.identities[0].external_id for c in items] + [r.external_id for r in rejects]
    assert sorted(got) == sorted(live_ids(world)) and len(got) == len(set(got))
    assert all(r.reason for r in rejects)
    connector.client.calls.clear()
    items, _, _, cursor2 = drain(connector.pull_contacts(cursor))
    # the lookback (300 s) re-reads the records changed in that window, and drops them by id
    stamps = [r["updatedAt"] for r in world.hubspot.records.values() if not r["archived"]]
    window = sum(ts >= max(stamps) - 300_000 for ts in stamps)
    assert items == [] and connector.client.calls["contacts.search"] <= window // 200 + 1
    assert "contacts.archived" not in connector.client.calls  # walked at most once an hour


def test_ties_on_one_timestamp_larger_than_a_page_are_all_read_once(world, sandbox):
    from tests.connectors.hubspot.conftest import make_connector

    connector = make_connector(sandbox, lookback_seconds=0)  # the tie walk alone, no re-read window
    connector.client.sleep = lambda s: None
    _, _, _, cursor = drain(connector.pull_contacts(None))
    ids = sorted(live_ids(world), key=int)[:420]
    touch(world, ids, {"jobtitle": "Chief Tie Officer"}, same_ms=True)
    sandbox.hubspot.catch_up_search()
    items, _, _, cursor = drain(connector.pull_contacts(cursor))
    read = [c.identities[0].external_id for c in items]
    assert sorted(read, key=int) == ids  # every one, none twice
    assert json.loads(cursor)["exclusive"] is True
    connector.client.calls.clear()
    items, _, _, _ = drain(connector.pull_contacts(cursor))
    assert items == [] and connector.client.calls["contacts.search"] == 1


def test_more_than_ten_thousand_changes_never_hit_the_search_cap(connector, sandbox):
    from hub.sandbox.world import World

    big = World(n_contacts=13_500, seed=3)  # more than 10,000 live records (three in four are), not many more
    from hub.sandbox.serve import start_sandbox
    from tests.connectors.hubspot.conftest import make_connector

    with start_sandbox(big) as sb:
        c = make_connector(sb)
        c.client.sleep = lambda s: None
        _, _, _, cursor = drain(c.pull_contacts(None))
        ids = sorted(live_ids(big), key=int)
        assert len(ids) > 10_000
        for day, chunk in enumerate((ids[:6000], ids[6000:])):
            big.clock.set_day(big.clock.day + 1)
            touch(big, chunk, {"jobtitle": f"Changed {day}"})
        sb.hubspot.catch_up_search()
        items, _, _, _ = drain(c.pull_contacts(cursor))
        assert sorted((x.identities[0].external_id for x in items), key=int) == ids
        assert big.log.calls.get(("hubspot", "400")) is None


def test_archived_contacts_come_back_as_deletions_and_merged_ones_as_moves(world, sandbox):
    from tests.connectors.hubspot.conftest import make_connector

    connector = make_connector(sandbox, archived_walk_seconds=0)
    connector.client.sleep = lambda s: None
    _, _, _, cursor = drain(connector.pull_contacts(None))
    live = sorted(live_ids(world), key=int)
    with world.lock:
        world.hubspot.archive(live[0])
        new_id = world.hubspot.merge(live[1], live[2])
    sandbox.hubspot.catch_up_search()
    pages = list(connector.pull_contacts(cursor))
    items = [c for p in pages for c in p.items]
    assert live[0] in {d.external_id for p in pages for d in p.deleted}
    moves = {m.source.external_id: m.target.external_id for p in pages for m in p.moved}
    assert moves == {live[1]: new_id, live[2]: new_id}  # the merged records live on in the survivor
    assert new_id in {c.identities[0].external_id for c in items}


def test_a_record_indexed_late_is_read_by_the_default_lookback_and_missed_without(world, sandbox):
    """Search is eventually consistent and not in modification order: a record can surface
    after newer ones moved the bookmark past its ``lastmodifieddate`` (airbyte#40591; the fix,
    a lookback window, airbyte PR #69203). The default lookback reads it; re-reads of records
    already read are dropped by id, so nothing is read twice."""
    from tests.connectors.hubspot.conftest import make_connector

    read = {}
    for lookback in (None, 0):
        c = make_connector(sandbox, name=f"hs{lookback}", **({} if lookback is None else {"lookback_seconds": 0}))
        c.client.sleep = lambda s: None
        _, _, _, cursor = drain(c.pull_contacts(None))
        read[lookback] = (c, cursor)
    late, other = sorted(live_ids(world), key=int)[:2]
    touch(world, [late], {"jobtitle": "Indexed late"})
    touch(world, [other], {"jobtitle": "Indexed at once"})
    world.hubspot.late_index.add(late)
    sandbox.hubspot.catch_up_search()
    for lookback, (c, cursor) in read.items():
        items, _, _, cursor = drain(c.pull_contacts(cursor))
        assert [x.identities[0].external_id for x in items] == [other]
        read[lookback] = (c, cursor)
    world.hubspot.late_index.clear()  # the index catches up
    got = {}
    for lookback, (c, cursor) in read.items():
        items, _, _, cursor = drain(c.pull_contacts(cursor))
        got[lookback] = [x.identities[0].external_id for x in items]
    assert got[None] == [late]  # read once, and `other` is not read again
    assert got[0] == []  # without a lookback the late record is lost for good


def test_each_archived_contact_is_reported_once_and_the_walk_runs_at_most_hourly(world, sandbox):
    """The archived list cannot be filtered (search never returns archived records, anchors:
    airbyte#35017), so the walk keeps an ``archivedAt`` high-water mark: only contacts archived
    since are handed over; and by default it runs at most once an hour, not on every sync."""
    from tests.connectors.hubspot.conftest import make_connector

    every = make_connector(sandbox, name="every", archived_walk_seconds=0)
    hourly = make_connector(sandbox, name="hourly")
    already = {r for r, rec in world.hubspot.records.items() if rec["archived"]}
    cursors = {}
    for c in (every, hourly):
        _, _, deleted, cursors[c.name] = drain(c.pull_contacts(None))
        assert {d.external_id for d in deleted} == already
    victim = sorted(live_ids(world), key=int)[5]
    with world.lock:
        world.hubspot.archive(victim)
    _, _, deleted, _ = drain(every.pull_contacts(cursors["every"]))
    assert [d.external_id for d in deleted] == [victim]
    hourly.client.calls.clear()
    _, _, deleted, _ = drain(hourly.pull_contacts(cursors["hourly"]))
    assert deleted == [] and "contacts.archived" not in hourly.client.calls
