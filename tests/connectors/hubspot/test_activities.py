"""Activity sync (form submissions, email events, meetings and calls) against the sandbox portal."""

from __future__ import annotations

import json

from hub.sandbox.hubspot_state import FORM_GUID
from tests.connectors.hubspot.conftest import drain


def add_submission(world, guid: str, at_ms: int, key: str, email: str = "form@example.com") -> None:
    with world.lock:
        world.hubspot.form_submissions.append(
            {
                "conversionId": key,
                "submittedAt": at_ms,
                "formGuid": guid,
                "pageUrl": "https://www.example.com/pricing",
                "values": [{"name": "email", "value": email}, {"name": "form_name", "value": ""}],
            }
        )


def add_forms(world, n: int) -> list[str]:
    guids = [f"00000000-0000-4000-8000-{k:012d}" for k in range(n)]
    with world.lock:
        world.hubspot.forms += [{"id": g, "name": f"Form {g}", "formType": "hubspot", "archived": False} for g in guids]
    return guids


def form_keys(items) -> list[str]:
    return sorted(a.external_id for a in items if a.external_id.startswith("form:"))


def test_new_submissions_are_read_after_the_first_sync_and_old_ones_not_again(world, connector):
    """HubSpot serves a form's submissions newest first with an opaque ``after`` (Forms v1
    reference, "returned in reverse-chronological order"): the connector pages down to the
    newest ``submittedAt`` it read last time, so a second sync reads exactly the new ones."""
    now = world.clock.now_ms()
    for k in range(120):  # more than two pages of 50
        add_submission(world, FORM_GUID, now - 10_000_000 + k * 1000, f"old-{k}")
    items, _, _, cursor = drain(connector.pull_activities(None))
    before = form_keys(items)
    assert {f"form:old-{k}" for k in range(120)} <= set(before) and len(before) == len(set(before))
    add_submission(world, FORM_GUID, now + 5_000, "new-1")
    add_submission(world, FORM_GUID, now + 6_000, "new-2")
    items, _, _, cursor = drain(connector.pull_activities(cursor))
    assert form_keys(items) == ["form:new-1", "form:new-2"]
    items, _, _, _ = drain(connector.pull_activities(cursor))
    assert form_keys(items) == []


def test_a_submission_at_the_same_ms_as_the_mark_is_still_read(world, connector):
    now = world.clock.now_ms()
    add_submission(world, FORM_GUID, now, "a")
    _, _, _, cursor = drain(connector.pull_activities(None))
    add_submission(world, FORM_GUID, now, "b")
    items, _, _, _ = drain(connector.pull_activities(cursor))
    assert form_keys(items) == ["form:b"]


def test_forms_past_the_first_page_of_the_forms_list_are_read(world, connector):
    guids = add_forms(world, 130)  # the forms list pages by 100
    add_submission(world, guids[-1], world.clock.now_ms(), "last-form")
    items, _, _, _ = drain(connector.pull_activities(None))
    assert "form:last-form" in form_keys(items)
    assert connector.client.calls["forms.list"] == 2


def add_status_change(world, key: str, email: str, **fields) -> None:
    with world.lock:
        world.hubspot.email_events.append(
            {"id": key, "type": "STATUSCHANGE", "created": world.clock.now_ms(), "recipient": email, **fields}
        )


def test_status_changes_are_unsubscribes_resubscribes_and_bounces_each_as_what_it_is(world, connector):
    """Legacy Email Events API: a STATUSCHANGE is any change of a recipient's subscriptions
    (``portalSubscriptionStatus``, ``subscriptions``, ``source``, ``bounced``; HubSpot's
    answer in community thread 366907), and the subscriptions timeline names the ``change``
    (SUBSCRIBED, UNSUBSCRIBED, BOUNCED, UNBOUNCED). Only an opt-out may become an unsubscribe."""
    add_status_change(
        world,
        "u",
        "a@example.com",
        source="SOURCE_LIST_UNSUBSCRIBE",
        portalSubscriptionStatus="UNSUBSCRIBED",
        subscriptions=[{"id": 1, "status": "UNSUBSCRIBED"}],
    )
    add_status_change(
        world,
        "r",
        "b@example.com",
        source="SOURCE_RECIPIENT",
        portalSubscriptionStatus="SUBSCRIBED",
        subscriptions=[{"id": 1, "status": "SUBSCRIBED"}],
    )
    add_status_change(world, "b", "c@example.com", source="SOURCE_HUBSPOT_CUSTOMER", bounced=True)
    add_status_change(world, "x", "d@example.com", change="UNBOUNCED", source="SOURCE_HUBSPOT_CUSTOMER")
    add_status_change(
        world,
        "t",
        "e@example.com",
        portalSubscriptionStatus="SUBSCRIBED",
        subscriptions=[{"id": 1, "status": "UNSUBSCRIBED"}, {"id": 2, "status": "SUBSCRIBED"}],
    )
    items, _, _, _ = drain(connector.pull_activities(None))
    got = {a.external_id: a for a in items if a.external_id.startswith("email:") and len(a.external_id) == 7}
    kinds = {k: (a.type.value, a.properties["status_change"]) for k, a in got.items()}
    assert kinds == {
        "email:u": ("unsubscribe", "unsubscribe"),
        "email:r": ("custom", "resubscribe"),
        "email:b": ("email_bounce", "bounce"),
        "email:x": ("custom", "unbounce"),
        "email:t": ("unsubscribe", "unsubscribe"),
    }
    assert got["email:u"].properties["scope"] == "all" and got["email:t"].properties["scope"] == "some_types"


def test_a_meeting_outcome_set_after_creation_is_read_on_the_next_sync(world, sandbox, connector):
    """Reps set a meeting's outcome after the meeting (HubSpot moves ``hs_lastmodifieddate``,
    not the id): a search on ``hs_lastmodifieddate`` from the bookmark less the lookback reads
    it again, where a walk by id never came back to it. CRM search returns no associations
    (anchors: search), so the contacts come from an associations v4 batch read."""
    rid = sorted((r for r, rec in world.hubspot.records.items() if not rec["archived"]), key=int)[0]
    with world.lock:
        mid = world.hubspot.add_engagement("meetings", rid, world.clock.now_ms(), {"hs_meeting_outcome": "SCHEDULED"})
        cid = world.hubspot.add_engagement("calls", rid, world.clock.now_ms(), {"hs_call_status": "COMPLETED"})
    sandbox.hubspot.catch_up_search()
    items, _, _, cursor = drain(connector.pull_activities(None))
    keys = {a.external_id for a in items}
    assert f"calls:{cid}:{rid}:COMPLETED" in keys
    assert not any(k.startswith(f"meetings:{mid}:") for k in keys)  # no outcome yet
    with world.lock:
        world.hubspot.update_engagement("meetings", mid, {"hs_meeting_outcome": "COMPLETED"})
    sandbox.hubspot.catch_up_search()
    items, _, _, cursor = drain(connector.pull_activities(cursor))
    meeting = [a for a in items if a.external_id.startswith(f"meetings:{mid}:")]
    assert [a.external_id for a in meeting] == [f"meetings:{mid}:{rid}:COMPLETED"]
    assert meeting[0].contact_ref.external_id == rid and meeting[0].properties["hs_meeting_outcome"] == "COMPLETED"
    assert connector.client.calls["meetings.search"] >= 2 and "meetings.list" not in connector.client.calls


def test_a_meeting_whose_contact_is_gone_is_no_error_and_the_page_s_others_are_read(world, sandbox, connector):
    """HubSpot answers the associations read of a page with a meeting left without contacts (its
    contact GDPR-deleted) with a 207: that meeting is an error NO_ASSOCIATIONS_FOUND, not a
    result. The sync reads it as a meeting with no contact and goes on with the rest."""
    rids = sorted((r for r, rec in world.hubspot.records.items() if not rec["archived"]), key=int)[:2]
    with world.lock:
        now = world.clock.now_ms()
        kept = world.hubspot.add_engagement("meetings", rids[0], now, {"hs_meeting_outcome": "COMPLETED"})
        orphan = world.hubspot.add_engagement("meetings", rids[1], now, {"hs_meeting_outcome": "COMPLETED"})
        world.hubspot.gdpr_delete(rids[1])
    sandbox.hubspot.catch_up_search()
    items, rejects, _, _ = drain(connector.pull_activities(None))
    keys = {a.external_id for a in items}
    assert f"meetings:{kept}:{rids[0]}:COMPLETED" in keys
    assert not any(k.startswith(f"meetings:{orphan}:") for k in keys) and not rejects


def test_a_form_walk_cut_short_resumes_where_it_stopped_and_then_reads_what_came_meanwhile(world, connector):
    now = world.clock.now_ms()
    for k in range(120):
        add_submission(world, FORM_GUID, now - 10_000_000 + k * 1000, f"old-{k}")
    pages = [p for p in connector.pull_activities(None) if any(a.external_id.startswith("form:") for a in p.items)]
    first = pages[0]  # the sync dies after committing its first page of form submissions
    read_first = form_keys(first.items)
    assert len(read_first) == 50 and read_first[-1] == "form:old-99"  # newest first
    add_submission(world, FORM_GUID, now + 1_000, "meanwhile")
    items, _, _, cursor = drain(connector.pull_activities(first.cursor))
    rest = form_keys(items)
    assert set(rest) | set(read_first) >= {f"form:old-{k}" for k in range(120)}
    assert not set(rest) & set(read_first) and "form:meanwhile" not in rest
    items, _, _, _ = drain(connector.pull_activities(cursor))
    assert form_keys(items) == ["form:meanwhile"]


def test_deals_become_the_same_outcomes_as_salesforce_opportunities_and_a_close_is_read_again(
    world, sandbox, connector
):
    """Deals are read like meetings: ``POST /crm/v3/objects/deals/search`` on
    ``hs_lastmodifieddate`` (anchors: the cursor property of deals), contacts from the v4
    associations batch read (deal to contact, typeId 3: HubSpot's v4 associations guide,
    "Association type ID values"). A deal opens an ``opportunity_created`` with its amount;
    moving it to ``closedwon`` (``hs_is_closed_won`` true) later moves ``hs_lastmodifieddate``,
    so the next sync reads the ``opportunity_won``; neither is read twice."""
    rid = sorted((r for r, rec in world.hubspot.records.items() if not rec["archived"]), key=int)[0]
    now = world.clock.now_ms()
    with world.lock:
        won = world.hubspot.add_deal(rid, now - 5_000, "Acme - New Business", 1234.5)
        lost = world.hubspot.add_deal(rid, now - 4_000, "Acme - Renewal", 99.0)
        world.hubspot.close_deal(lost, False, now - 3_000)
    sandbox.hubspot.catch_up_search()
    items, rejects, _, cursor = drain(connector.pull_activities(None))
    deals = sorted(
        (a.external_id, a.type.value, a.properties["amount"])
        for a in items
        if a.source == "hs" and a.external_id.startswith("deals:")
    )
    assert deals == [
        (f"deals:{won}:created", "opportunity_created", 1234.5),
        (f"deals:{lost}:closed", "opportunity_lost", 99.0),
        (f"deals:{lost}:created", "opportunity_created", 99.0),
    ]
    assert all(a.contact_ref.external_id == rid for a in items if a.external_id.startswith("deals:"))
    assert not rejects
    with world.lock:
        world.hubspot.close_deal(won, True, world.clock.now_ms())
    sandbox.hubspot.catch_up_search()
    items, _, _, _ = drain(connector.pull_activities(cursor))
    fresh = {a.external_id: a.type.value for a in items if a.external_id.startswith("deals:")}
    assert fresh[f"deals:{won}:closed"] == "opportunity_won"
    assert connector.client.calls["deals.search"] >= 2 and connector.client.calls["deals.associations"] >= 2


def test_more_than_ten_thousand_deals_changed_in_one_millisecond_are_all_read_past_the_search_cap():
    """A bulk edit stamps 10,050 deals with one ``hs_lastmodifieddate``: a search from that
    stamp can never get past it by time, and paging it with ``after`` is refused at 10,000
    (HTTP 400; anchors: CRM search). The tie is walked by ``hs_object_id`` (EQ the stamp, GT
    the last id), then the search goes strictly past the stamp, so the deals changed after
    the bulk edit are read too; a sync cut short within the tie resumes there, and a re-sync
    reads nothing. Search limits are raised for the
    test (only the quota: HubSpot's refusals and cap stay) so it runs in seconds, not minutes."""
    from hub.sandbox.hubspot_server import HubSpotLimits
    from hub.sandbox.serve import start_sandbox
    from hub.sandbox.world import World
    from tests.connectors.hubspot.conftest import make_connector

    world = World(n_contacts=20, seed=5)
    rid = sorted((r for r, rec in world.hubspot.records.items() if not rec["archived"]), key=int)[0]
    with world.lock:
        bulk = [world.hubspot.add_deal(rid, world.clock.now_ms(), f"Import {k}", 10.0) for k in range(10_050)]
        world.hubspot.update_engagements("deals", bulk, {"dealtype": "newbusiness"})
        later = [world.hubspot.add_deal(rid, world.clock.now_ms(), f"Later {k}", 20.0) for k in range(3)]
    with start_sandbox(world, hubspot_limits=HubSpotLimits(per_ten_seconds=1000, search_per_second=100)) as sb:
        c = make_connector(sb, lookback_seconds=0, requests_per_ten_seconds=1000, search_requests_per_second=100)
        c.client.sleep = lambda s: None
        sb.hubspot.catch_up_search()
        pages = c.pull_activities(None)
        cut = [p for _, p in zip(range(30), pages, strict=False)]  # the sync dies within the walk by id
        pages.close()
        items, rejects, _, cursor = drain(c.pull_activities(cut[-1].cursor))
        assert json.loads(cut[-1].cursor)["walks"]["deals"]["tie_after"] is not None  # it was cut in the tie
        items += [a for p in cut for a in p.items]
        read = {a.external_id.split(":")[1] for a in items if a.external_id.startswith("deals:")}
        assert read == set(bulk) | set(later) == set(world.hubspot.engagements["deals"])
        assert not rejects
        assert world.log.calls.get(("hubspot", "400")) is None
        c.client.calls.clear()
        items, _, _, _ = drain(c.pull_activities(cursor))
        assert not [a for a in items if a.external_id.startswith("deals:")]
        assert c.client.calls["deals.search"] == 1
        c.close()


def test_a_meeting_with_more_contacts_than_one_association_page_credits_every_contact(world, sandbox, connector):
    """A v4 batch association read pages each record on its own (``paging.next.after`` per
    result, sent back beside the ``id``). The connector read only the first page, so a meeting
    with more attendees than one page credited the outcome to the first page's contacts only."""
    rids = sorted((r for r, rec in world.hubspot.records.items() if not rec["archived"]), key=int)[:7]
    with world.lock:
        mid = world.hubspot.add_engagement(
            "meetings", rids[0], world.clock.now_ms(), {"hs_meeting_outcome": "COMPLETED"}
        )
        world.hubspot.engagements["meetings"][mid]["contacts"] = list(rids)
    sandbox.hubspot.limits.association_page = 3
    sandbox.hubspot.catch_up_search()
    items, rejects, _, _ = drain(connector.pull_activities(None))
    credited = sorted(a.contact_ref.external_id for a in items if a.external_id.startswith(f"meetings:{mid}:"))
    assert credited == sorted(rids) and not rejects
    assert connector.client.calls["meetings.associations"] >= 3  # one read per page of the meeting
