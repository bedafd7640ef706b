"""Associations v4 batch read as HubSpot answers it: a record with no association of the type
asked for is not a result with an empty ``to`` but an error of its own, in a 207."""

from __future__ import annotations

from hubspot import HubSpot

from hub.sandbox.serve import SandboxHandle
from hub.sandbox.world import World


def test_a_record_without_contacts_is_a_no_associations_found_error(
    hs: HubSpot, world: World, sandbox: SandboxHandle
) -> None:
    """HubSpot's 207 as recorded by integrations that read it (deals -> companies): the record is
    left out of ``results`` and named in ``errors`` with category OBJECT_NOT_FOUND, subCategory
    crm.associations.NO_ASSOCIATIONS_FOUND, "No company is associated with deal 515690208449."
    and the from id and both object types in ``context``. The sandbox answered 200 with the
    record and ``to: []``."""
    alive = [r for r, rec in world.hubspot.records.items() if not rec["archived"]]
    with world.lock:
        now = world.clock.now_ms()
        kept = world.hubspot.add_engagement("meetings", alive[0], now, {})
        orphan = world.hubspot.add_engagement("meetings", alive[1], now, {})
        world.hubspot.gdpr_delete(alive[1])  # the meeting's only contact is gone
    resp = hs.api_request(
        {
            "method": "POST",
            "path": "/crm/v4/associations/meetings/contacts/batch/read",
            "body": {"inputs": [{"id": kept}, {"id": orphan}]},
        }
    )
    body = resp.json()
    assert resp.status_code == 207 and body["numErrors"] == 1
    assert [r["from"]["id"] for r in body["results"]] == [kept]
    (error,) = body["errors"]
    assert error["category"] == "OBJECT_NOT_FOUND"
    assert error["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert error["message"] == f"No contact is associated with meeting {orphan}."
    assert error["context"] == {"fromObjectId": [orphan], "fromObjectType": ["meeting"], "toObjectType": ["contact"]}


def test_a_record_with_more_associations_than_a_page_is_paged_by_its_own_after(
    hs: HubSpot, world: World, sandbox: SandboxHandle
) -> None:
    """HubSpot pages each result of a v4 batch read on its own: a record with more associations
    than one page carries ``paging.next.after``, and an input ``{"id", "after"}`` reads the next
    page of that record; ``paging`` is absent on the last page (batch read reference, "The
    'after' field in a returned paging object can be added alongside the 'id' to retrieve the
    next page of associations from that objectId ... 'paging' field will only be present if
    there are more pages"). The sandbox returned every association in one result, so a reader
    that ignored ``paging`` could not be caught losing the rest."""
    alive = sorted((r for r, rec in world.hubspot.records.items() if not rec["archived"]), key=int)[:5]
    with world.lock:
        big = world.hubspot.add_engagement("meetings", alive[0], world.clock.now_ms(), {})
        small = world.hubspot.add_engagement("meetings", alive[0], world.clock.now_ms(), {})
        world.hubspot.engagements["meetings"][big]["contacts"] = list(alive)
    sandbox.hubspot.limits.association_page = 2

    def read(inputs: list[dict[str, str]]) -> dict:
        resp = hs.api_request(
            {"method": "POST", "path": "/crm/v4/associations/meetings/contacts/batch/read", "body": {"inputs": inputs}}
        )
        assert resp.status_code == 200
        return {r["from"]["id"]: r for r in resp.json()["results"]}

    first = read([{"id": big}, {"id": small}])
    assert "paging" not in first[small] and [t["toObjectId"] for t in first[small]["to"]] == [int(alive[0])]
    seen = [t["toObjectId"] for t in first[big]["to"]]
    assert len(seen) == 2
    after = first[big]["paging"]["next"]["after"]
    while after:
        page = read([{"id": big, "after": after}])[big]
        seen += [t["toObjectId"] for t in page["to"]]
        after = page.get("paging", {}).get("next", {}).get("after")
    assert seen == [int(c) for c in alive]
