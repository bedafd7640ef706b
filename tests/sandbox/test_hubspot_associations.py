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
