"""Every sandbox answer the HubSpot connector relies on, checked against hubspot-api-client's models.

The SDK's models are generated from HubSpot's published OpenAPI specs, so they are HubSpot's own
statement of each answer's shape: required fields (``id``, ``properties``, ``createdAt``...),
enums (a batch's ``status``), types. The connector reads raw JSON, so only this test notices the
sandbox drifting from that shape. Each call goes through the SDK method the connector uses,
against the sandbox over HTTP; ``conforms`` (sdk_strict.py) deserializes with the SDK's
client-side validation on and walks the JSON against the declared types.
"""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import models as assoc_models
from hubspot.crm.contacts import models as contact_models
from hubspot.crm.lists import models as list_models
from hubspot.crm.objects import models as object_models
from hubspot.crm.owners import models as owner_models
from hubspot.crm.properties import models as property_models
from hubspot.marketing.forms import models as form_models

from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from tests.contract.sdk_strict import conforms, type_problems

RAW = {"_preload_content": False}


@pytest.fixture(scope="module")
def portal():
    world = World(n_contacts=200, seed=21)
    rid = sorted(r for r, rec in world.hubspot.records.items() if not rec["archived"])[0]
    world.hubspot.add_engagement("meetings", rid, world.clock.now_ms(), {"hs_meeting_outcome": "COMPLETED"})
    world.hubspot.add_engagement("calls", rid, world.clock.now_ms(), {"hs_call_status": "COMPLETED"})
    with start_sandbox(world) as sb:
        sb.hubspot.catch_up_search()  # the engagements just made are in search's index (it lags)
        yield sb, HubSpot(access_token=sb.hubspot_token, host=sb.hubspot_url)


def _live(sb) -> list[str]:  # noqa: ANN001
    return sorted(r for r, rec in sb.world.hubspot.records.items() if not rec["archived"])


def test_contact_list_and_archived_pages(portal) -> None:
    sb, hs = portal
    api = hs.crm.contacts.basic_api
    page = conforms(
        api,
        api.get_page(limit=100, properties=["email", "lastmodifieddate", "hs_merged_object_ids"], **RAW),
        "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging",
        contact_models,
    )
    assert len(page.results) == 100 and page.paging.next.after and page.results[0].created_at.tzinfo
    gone = conforms(
        api,
        api.get_page(limit=100, archived=True, properties=["hs_object_id"], **RAW),
        "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging",
        contact_models,
    )
    assert gone.results and all(r.archived and r.archived_at for r in gone.results)


def test_contact_search_page(portal) -> None:
    _, hs = portal
    api = hs.crm.contacts.search_api
    body = {
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "lastmodifieddate"],
        "limit": 200,
    }
    page = conforms(
        api,
        api.do_search(public_object_search_request=body, **RAW),
        "CollectionResponseWithTotalSimplePublicObjectForwardPaging",
        contact_models,
    )
    assert page.total >= len(page.results) > 0


def test_batch_update_all_good_and_with_errors(portal) -> None:
    sb, hs = portal
    api = hs.crm.contacts.batch_api
    ids = _live(sb)[:2]
    ok = api.update({"inputs": [{"id": i, "properties": {"jobtitle": "CTO"}} for i in ids]}, **RAW)
    assert ok.status == 200
    done = conforms(api, ok, "BatchResponseSimplePublicObject", contact_models)
    assert done.status == "COMPLETE" and {r.id for r in done.results} == set(ids)
    mixed = api.update(
        {"inputs": [{"id": ids[0], "properties": {"jobtitle": "CEO"}}, {"id": "999999999", "properties": {}}]}, **RAW
    )
    assert mixed.status == 207
    partial = conforms(api, mixed, "BatchResponseSimplePublicObjectWithErrors", contact_models)
    assert partial.num_errors == 1 and partial.errors[0].category


def test_properties_groups_owners_and_lists(portal) -> None:
    sb, hs = portal
    props, groups = hs.crm.properties.core_api, hs.crm.properties.groups_api
    conforms(
        groups, groups.create("contacts", {"name": "contract_g", "label": "G"}, **RAW), "PropertyGroup", property_models
    )
    made = conforms(
        props,
        props.create(
            "contacts",
            {
                "name": "contract_pick",
                "label": "Pick",
                "type": "enumeration",
                "fieldType": "select",
                "groupName": "contract_g",
                "options": [{"label": "A", "value": "a", "displayOrder": 0, "hidden": False}],
            },
            **RAW,
        ),
        "ModelProperty",
        property_models,
    )
    assert made.options[0].value == "a"
    every = conforms(props, props.get_all("contacts", **RAW), "CollectionResponsePropertyNoPaging", property_models)
    assert "contract_pick" in {p.name for p in every.results}
    conforms(groups, groups.get_all("contacts", **RAW), "CollectionResponsePropertyGroupNoPaging", property_models)
    owners = hs.crm.owners.owners_api
    page = conforms(
        owners, owners.get_page(limit=100, **RAW), "CollectionResponsePublicOwnerForwardPaging", owner_models
    )
    assert page.results and all(o.id for o in page.results)
    lists, members = hs.crm.lists.lists_api, hs.crm.lists.memberships_api
    body = {"name": "contract-list", "objectTypeId": "0-1", "processingType": "MANUAL"}
    created = conforms(lists, lists.create(body, **RAW), "ListCreateResponse", list_models)
    fetched = conforms(lists, lists.get_by_name("contract-list", "0-1", **RAW), "ListFetchResponse", list_models)
    assert fetched.list.list_id == created.list.list_id
    change = {"recordIdsToAdd": _live(sb)[:3], "recordIdsToRemove": []}
    moved = conforms(
        members, members.add_and_remove(created.list.list_id, change, **RAW), "MembershipsUpdateResponse", list_models
    )
    assert sorted(moved.records_ids_added) == sorted(_live(sb)[:3])


@pytest.mark.parametrize("kind", ["meetings", "calls"])
def test_engagement_search_and_their_contact_associations(portal, kind: str) -> None:
    _, hs = portal
    search = hs.crm.objects.search_api
    body = {
        "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "0"}]}],
        "properties": ["hs_timestamp", "hs_lastmodifieddate"],
        "limit": 50,
    }
    page = conforms(
        search,
        search.do_search(kind, body, **RAW),
        "CollectionResponseWithTotalSimplePublicObjectForwardPaging",
        object_models,
    )
    assert page.results
    assoc = hs.crm.associations.v4.batch_api
    links = conforms(
        assoc,
        assoc.get_page(kind, "contacts", {"inputs": [{"id": r.id} for r in page.results]}, **RAW),
        "BatchResponsePublicAssociationMultiWithLabel",
        assoc_models,
    )
    assert links.status == "COMPLETE"


def test_forms_list_page_has_the_top_level_fields_the_spec_requires(portal) -> None:
    """The connector reads ``/marketing/v3/forms`` raw, for ids and names only. The sandbox leaves
    out field groups, configuration and display options (nothing reads them), so the page is held
    to FormDefinitionBase's required top-level fields and to its declared types."""
    _, hs = portal
    res = hs.marketing.forms.forms_api.get_page(limit=20, **RAW)
    raw = json.loads(res.data)
    assert not type_problems(raw, "CollectionResponseFormDefinitionBaseForwardPaging", form_models)
    required = {"id", "name", "formType", "createdAt", "updatedAt", "archived"}
    assert raw["results"] and all(required <= set(f) for f in raw["results"])


def test_the_checks_catch_what_they_claim_to() -> None:
    """A wrong JSON type and a missing required field are both reported (the checks can fail)."""
    bad = {"results": [{"id": 7, "properties": {}, "archived": "false", "createdAt": "yesterday"}]}
    problems = type_problems(bad, "CollectionResponseWithTotalSimplePublicObjectForwardPaging", contact_models)
    assert len(problems) == 3 and "$.results[0].id: str is declared, got int 7" in problems

    class _Resp:
        data = b'{"results": [{"properties": {}, "createdAt": "2026-01-05T00:00:00Z", "updatedAt": "2026-01-05T00:00:00Z", "archived": false}]}'

    with pytest.raises(AssertionError, match="`id`, must not be `None`"):
        conforms(
            HubSpot().crm.contacts.basic_api,
            _Resp(),
            "CollectionResponseWithTotalSimplePublicObjectForwardPaging",
            contact_models,
        )
