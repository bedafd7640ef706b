"""Sales owners as the vendors keep them: HubSpot archives a deactivated user's owner and lists
it only on request; neither vendor lets a record be assigned to an inactive owner."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectInput
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.owners.exceptions import ApiException as OwnersApiException
from simple_salesforce.exceptions import SalesforceMalformedRequest

from hub.sandbox.world import World


@pytest.fixture
def world() -> World:
    return World(n_contacts=150, seed=5)


def _contact(world: World) -> str:
    return next(r["id"] for r in world.hubspot.records.values() if not r["archived"])


def test_owners_lists_active_ones_by_default_and_only_archived_ones_on_request(hs, world: World) -> None:
    world.hubspot.archive_owner("71003")
    active = hs.crm.owners.owners_api.get_page()
    assert [o.id for o in active.results] == ["71001", "71002", "71004", "71005"]
    assert not any(o.archived for o in active.results)
    gone = hs.crm.owners.owners_api.get_page(archived=True)
    assert [o.id for o in gone.results] == ["71003"]
    assert gone.results[0].archived and gone.results[0].user_id is None
    assert gone.results[0].user_id_including_inactive == 9002
    paged = hs.crm.owners.owners_api.get_page(limit=3)
    assert len(paged.results) == 3 and paged.paging.next.after
    rest = hs.crm.owners.owners_api.get_page(limit=3, after=paged.paging.next.after)
    assert [o.id for o in rest.results] == ["71005"] and rest.paging is None


def test_owner_by_id_finds_an_archived_owner_only_with_archived(hs, world: World) -> None:
    world.hubspot.archive_owner("71002")
    with pytest.raises(OwnersApiException) as e:
        hs.crm.owners.owners_api.get_by_id(owner_id=71002)
    assert e.value.status == 404
    assert hs.crm.owners.owners_api.get_by_id(owner_id=71002, archived=True).archived is True
    with pytest.raises(OwnersApiException):
        hs.crm.owners.owners_api.get_by_id(owner_id=71001, archived=True)
    assert hs.crm.owners.owners_api.get_by_id(owner_id=9000, id_property="userId").id == "71001"


def test_owners_page_is_at_most_500(hs) -> None:
    assert len(hs.crm.owners.owners_api.get_page(limit=500).results) == 5
    with pytest.raises(OwnersApiException) as e:
        hs.crm.owners.owners_api.get_page(limit=501)
    assert e.value.status == 400 and json.loads(e.value.body)["category"] == "VALIDATION_ERROR"


def test_an_archived_owner_cannot_be_assigned(hs, world: World) -> None:
    rid = _contact(world)
    world.hubspot.archive_owner("71004")
    batch = BatchInputSimplePublicObjectBatchInput(inputs=[{"id": rid, "properties": {"hubspot_owner_id": "71004"}}])
    with pytest.raises(ApiException) as e:
        hs.crm.contacts.batch_api.update(batch)
    body = json.loads(e.value.body)
    assert e.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert '"error":"INVALID_OWNER_ID","name":"hubspot_owner_id"' in body["message"]
    with pytest.raises(ApiException) as one:
        hs.crm.contacts.basic_api.update(rid, SimplePublicObjectInput(properties={"hubspot_owner_id": "71004"}))
    assert one.value.status == 400
    assert world.hubspot.records[rid]["properties"].get("hubspot_owner_id") != "71004"
    assert not [x for x in world.log.for_record("hubspot", rid) if x.kind == "owner"]


def test_an_inactive_salesforce_user_cannot_be_made_owner(sf, world: World) -> None:
    active, inactive = world.salesforce.users[0], world.salesforce.users[1]
    world.salesforce.deactivate_user(inactive)
    cid = next(iter(world.salesforce.objects["Contact"]))
    assert sf.query(f"SELECT IsActive FROM User WHERE Id = '{inactive}'")["records"][0]["IsActive"] is False
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.Contact.update(cid, {"OwnerId": inactive})
    (err,) = e.value.content
    assert err["errorCode"] == "INACTIVE_OWNER_OR_USER"
    assert err["message"] == f"operation performed with inactive user [{inactive}] as owner of contact"
    assert world.salesforce.objects["Contact"][cid]["OwnerId"] != inactive
    res = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Contact"}, "Id": cid, "OwnerId": inactive},
                {"attributes": {"type": "Contact"}, "Id": cid, "OwnerId": active},
            ],
        },
    )
    assert res[0]["success"] is False and res[0]["errors"][0]["statusCode"] == "INACTIVE_OWNER_OR_USER"
    assert res[1]["success"] is True
    assert world.salesforce.objects["Contact"][cid]["OwnerId"] == active
