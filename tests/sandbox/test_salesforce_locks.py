"""Row locks: a record held by another transaction refuses writes with UNABLE_TO_LOCK_ROW.

Salesforce answers a locked row per record, in the sObject Collections result, as
``unable to obtain exclusive access to this record or 1 records: <id>`` (jsforce/jsforce#1018,
roblesterjr04/EloquentSalesForce#59); the other records of the request go on.
"""

from __future__ import annotations

from simple_salesforce import Salesforce

from hub.sandbox.world import World


def _patch(sf: Salesforce, records: list[dict], all_or_none: bool = False) -> list[dict]:
    return sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": all_or_none, "records": records})


def test_a_locked_row_refuses_its_update_and_the_rest_go_on(sf, world: World) -> None:
    state = world.salesforce
    a, b = list(state.objects["Lead"])[:2]
    state.lock_row(a, attempts=1)
    rows = [{"attributes": {"type": "Lead"}, "id": rid, "Hub_Best_Channel__c": "email"} for rid in (a, b)]
    first = _patch(sf, rows)
    assert [r["success"] for r in first] == [False, True]
    assert first[0]["errors"] == [
        {
            "statusCode": "UNABLE_TO_LOCK_ROW",
            "message": f"unable to obtain exclusive access to this record or 1 records: {a}",
            "fields": [],
        }
    ]
    assert state.objects["Lead"][a]["Hub_Best_Channel__c"] is None
    assert state.objects["Lead"][b]["Hub_Best_Channel__c"] == "email"
    # the other transaction committed: the same write now lands
    assert [r["success"] for r in _patch(sf, rows[:1])] == [True]
    assert state.objects["Lead"][a]["Hub_Best_Channel__c"] == "email"


def test_all_or_none_rolls_back_around_a_locked_row(sf, world: World) -> None:
    state = world.salesforce
    a, b = list(state.objects["Contact"])[:2]
    state.lock_row(b, attempts=1)
    rows = [{"attributes": {"type": "Contact"}, "id": rid, "Hub_Best_Channel__c": "sms"} for rid in (a, b)]
    res = _patch(sf, rows, all_or_none=True)
    assert [e["statusCode"] for r in res for e in r["errors"]] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "UNABLE_TO_LOCK_ROW",
    ]
    assert state.objects["Contact"][a]["Hub_Best_Channel__c"] is None


def test_a_locked_campaign_refuses_new_members_and_a_locked_member_its_delete(sf, world: World) -> None:
    """Inserting a CampaignMember locks its Campaign (the member counts roll up to it)."""
    state = world.salesforce
    camp = next(iter(state.objects["Campaign"]))
    lead = next(iter(state.objects["Lead"]))
    state.lock_row(camp, attempts=1)
    member = {"attributes": {"type": "CampaignMember"}, "CampaignId": camp, "LeadId": lead}
    (refused,) = sf.restful("composite/sobjects", method="POST", json={"records": [member]})
    assert refused["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW" and camp in refused["errors"][0]["message"]
    assert not any(m["LeadId"] == lead for m in state.objects["CampaignMember"].values())
    (made,) = sf.restful("composite/sobjects", method="POST", json={"records": [member]})
    assert made["success"]
    state.lock_row(made["id"], attempts=1)
    (kept,) = sf.restful("composite/sobjects", method="DELETE", params={"ids": made["id"]})
    assert kept["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert state.objects["CampaignMember"][made["id"]]["IsDeleted"] is False
    (gone,) = sf.restful("composite/sobjects", method="DELETE", params={"ids": made["id"]})
    assert gone["success"]  # the lock was held for one attempt
