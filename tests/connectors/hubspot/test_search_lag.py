"""Incremental sync against a search index that lags (HubSpotLimits.search_lag_ms): a record
changed again before the index caught up is returned where its old stamp sorts, showing its new
one (estuary/connectors PR #2210). The walk must not take that stamp as how far it has read."""

from __future__ import annotations

from tests.connectors.hubspot.conftest import drain, make_connector
from tests.connectors.hubspot.test_sync import live_ids, touch


def test_a_record_changed_again_while_search_lags_does_not_make_the_walk_skip_records(world, sandbox):
    c = make_connector(sandbox, search_page_size=20)  # the default 300 s lookback
    c.client.sleep = lambda s: None
    _, _, _, cursor = drain(c.pull_contacts(None))
    sandbox.hubspot.limits.search_lag_ms = 60_000
    edited = sorted(live_ids(world), key=int)[:100]
    for rid in edited:  # one at a time: each its own stamp
        touch(world, [rid], {"jobtitle": "Edited once"})
    world.clock.skip(600_000)  # ten minutes on: the index has them all, longer ago than the lookback
    touch(world, [edited[5]], {"jobtitle": "Edited twice"})  # the index still holds its first edit
    read: list[str] = []
    for _ in range(2):  # this sync, and one after the index caught up
        items, _, _, cursor = drain(c.pull_contacts(cursor))
        read += [x.identities[0].external_id for x in items]
        world.clock.skip(120_000)
    assert set(edited) <= set(read)  # no edit lost
    c.close()


def test_a_full_page_ending_on_its_first_stamp_walks_the_tie_and_goes_on(world, sandbox):
    """A page of 19 records sharing one stamp and one after it ends (``page_end``) where it
    began: searching from there again would return the same page for ever, so the stamp is
    walked by id and the walk goes past it."""
    c = make_connector(sandbox, search_page_size=20, lookback_seconds=0)
    c.client.sleep = lambda s: None
    _, _, _, cursor = drain(c.pull_contacts(None))
    ids = sorted(live_ids(world), key=int)
    tied, after = ids[:19], ids[19:25]
    touch(world, tied, {"jobtitle": "Tied"}, same_ms=True)
    for rid in after:
        touch(world, [rid], {"jobtitle": "After"})
    items, _, _, _ = drain(c.pull_contacts(cursor))
    read = [x.identities[0].external_id for x in items]
    assert set(read) == set(tied + after)
    c.close()
