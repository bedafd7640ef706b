"""What a lookup may point at: an activity's WhatId is polymorphic (Object Reference, Task and
Event: "Refers To" Account, Opportunity, Campaign and more), its WhoId a Contact or a Lead; an
id of another type is refused per record."""

from __future__ import annotations

from hub.sandbox.world import World


def test_an_activity_is_about_an_account_an_opportunity_or_a_campaign(sf, world: World) -> None:
    sfs = world.salesforce
    account = sfs.create("Account", {"Name": "Acme"})
    opp = sfs.create("Opportunity", {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-02-01"})
    camp = sfs.create("Campaign", {"Name": "Webinar"})
    contact = next(r for r, rec in sfs.objects["Contact"].items() if not rec["IsDeleted"])
    rows = [
        {"attributes": {"type": "Task"}, "Subject": "Call", "WhatId": what} for what in (account, opp, camp, contact)
    ]
    res = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": rows})
    assert [r["success"] for r in res] == [True, True, True, False]
    assert res[3]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    what = {f["name"]: f for f in sf.Task.describe()["fields"]}["WhatId"]
    assert what["referenceTo"] == ["Account", "Campaign", "Opportunity"]
