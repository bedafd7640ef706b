"""Incremental sync against a search index that lags (HubSpotLimits.search_lag_ms): a record
changed again before the index caught up is returned where its old stamp sorts, showing its new
one (estuary/connectors PR #2210). The walk must not take that stamp as how far it has read."""

from __future__ import annotations

from connectors.hubspot.search_walk import page_end
from tests.connectors.hubspot.conftest import drain, make_connector
from tests.connectors.hubspot.test_push import req
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
    sandbox.hubspot.catch_up_search()
    items, _, _, _ = drain(c.pull_contacts(cursor))
    read = [x.identities[0].external_id for x in items]
    assert set(read) == set(tied + after)
    c.close()


def test_a_sync_right_after_a_push_does_not_skip_edits_its_writebacks_sort_between(world, sandbox):
    """Our writebacks move ``lastmodifieddate`` on records already indexed under an older stamp:
    a sync within the lag finds them where the old stamp sorts, showing the new one. Two of them
    ending a page made its end the push's time, and every edit between the page's true end and
    five minutes before the push (the lookback) was never read."""
    c = make_connector(sandbox, search_page_size=20)  # the default 300 s lookback
    c.client.sleep = lambda s: None
    c.ensure_schema()
    _, _, _, cursor = drain(c.pull_contacts(None))
    anchor, *edited = sorted(live_ids(world), key=int)[:61]
    world.clock.skip(600_000)
    touch(world, [anchor], {"jobtitle": "Anchor"})  # the bookmark, alone in its lookback
    _, _, _, cursor = drain(c.pull_contacts(cursor))
    sandbox.hubspot.limits.search_lag_ms = 5_000
    for rid in edited:  # twenty minutes of edits in HubSpot, one every 20 s
        touch(world, [rid], {"jobtitle": "Edited"})
        world.clock.skip(20_000)
    # a writeback to three of them: the search's first page (the anchor and 19 edits) ends on two
    pushed = [edited[5], edited[17], edited[18]]
    results = c.push([req(i, rid) for i, rid in enumerate(pushed)])
    assert {r.status for r in results} == {"ok"}
    read: list[str] = []
    for _ in range(2):  # the sync right after the push, and one after the index caught up
        items, _, _, cursor = drain(c.pull_contacts(cursor))
        read += [x.identities[0].external_id for x in items]
        world.clock.skip(10_000)
    assert sorted(set(edited) - set(read), key=int) == []  # no edit lost
    c.close()


def test_a_page_end_leaves_out_every_stamp_told_apart_as_shown_late():
    """9 is followed by 3, so it is shown late, and so are 10 and 11 (at or past it): the page
    has read up to 3 at least, not 10. Without a row told apart, the last two guard as before."""
    assert page_end([1, 2, 9, 3, 4, 10, 11]) == 3
    assert page_end([1, 2, 3, 4, 11]) == 4
    assert page_end([5, 5, 5]) == 5


def test_a_sync_right_after_a_page_of_writebacks_does_not_jump_past_the_edits_before_it(world, sandbox):
    """The hub writes back to the records it just synced: changed in the lookback window, so
    still indexed there while search lags. A sync within the lag finds a whole page of them,
    in order, each showing the push's time, and no row tells them apart; taking that time as
    the page's end skipped every edit made between them and the push (100 of 100 here, for
    good: more than the lookback before it). Search's ``total`` shows the page cannot end
    there."""
    c = make_connector(sandbox)  # pages of 200, the default 300 s lookback
    c.client.sleep = lambda s: None
    c.ensure_schema()
    _, _, _, cursor = drain(c.pull_contacts(None))
    ids = sorted(live_ids(world), key=int)
    decided, edited = ids[:250], ids[250:350]
    world.clock.skip(600_000)
    for rid in decided:
        touch(world, [rid], {"jobtitle": "Synced, then decided"})
    sandbox.hubspot.catch_up_search()
    _, _, _, cursor = drain(c.pull_contacts(cursor))
    for rid in edited:  # fifteen minutes of edits in HubSpot
        touch(world, [rid], {"jobtitle": "Edited"})
        world.clock.skip(9_000)
    world.clock.skip(300_000)
    assert {r.status for r in c.push([req(i, rid) for i, rid in enumerate(decided)])} == {"ok"}
    read: list[str] = []
    for _ in range(2):  # the sync right after the push, and one after the index caught up
        items, _, _, cursor = drain(c.pull_contacts(cursor))
        read += [x.identities[0].external_id for x in items]
        sandbox.hubspot.catch_up_search()
    assert sorted(set(edited) - set(read), key=int) == []
    assert c.client.calls["contacts.search"] < 80  # the halving runs only where a page's end does not hold
    c.close()
