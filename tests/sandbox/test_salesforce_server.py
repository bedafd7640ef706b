"""The unmodified simple-salesforce against the Salesforce look-alike (over TLS)."""

from __future__ import annotations

import time

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from hub.sandbox.catalog import ACTION_INDEX
from hub.sandbox.salesforce_server import SalesforceLimits
from hub.sandbox.salesforce_state import HUB_FIELDS
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World

from .conftest import salesforce_client


def test_soap_and_oauth_logins(sandbox) -> None:
    sf = salesforce_client(sandbox)
    assert sf.sf_instance == sandbox.salesforce_url.removeprefix("https://")
    oauth = Salesforce(
        username=sandbox.salesforce_username,
        password=sandbox.salesforce_password + sandbox.salesforce_security_token,
        consumer_key=sandbox.salesforce_consumer_key,
        consumer_secret=sandbox.salesforce_consumer_secret,
        domain=sandbox.salesforce_domain,
        session=sandbox.salesforce_session(),
    )
    assert oauth.query("SELECT COUNT() FROM User")["totalSize"] == 7
    with pytest.raises(SalesforceAuthenticationFailed):
        Salesforce(
            username=sandbox.salesforce_username,
            password="wrong",
            security_token="x",
            domain=sandbox.salesforce_domain,
            session=sandbox.salesforce_session(),
        )


def test_query_pages_of_2000_with_next_records_url() -> None:
    world = World(n_contacts=5000, seed=2)
    with start_sandbox(world) as sb:
        sf = salesforce_client(sb)
        first = sf.query("SELECT Id, Email FROM Lead")
        n = len(world.salesforce.objects["Lead"])
        assert n > 2000 and first["totalSize"] == n
        assert len(first["records"]) == 2000 and not first["done"]
        assert "/query/" in first["nextRecordsUrl"]
        everything = sf.query_all("SELECT Id FROM Lead")
        assert len({r["Id"] for r in everything["records"]}) == n


def test_soql_subset(sf, world: World) -> None:
    contacts = world.salesforce.objects["Contact"]
    cid = next(iter(contacts))
    res = sf.query(
        f"SELECT Id, Email, Account.Industry, Account.Name FROM Contact "
        f"WHERE Id IN ('{cid}', '003XXXXXXXXXXXXAAA') LIMIT 5"
    )
    assert res["totalSize"] == 1
    rec = res["records"][0]
    acct = world.salesforce.objects["Account"][contacts[cid]["AccountId"]]
    assert rec["Account"]["Industry"] == acct["Industry"]
    assert rec["Account"]["Name"] == acct["Name"]
    newest = sf.query(
        "SELECT Id, SystemModstamp FROM Lead WHERE IsDeleted = false AND "
        "(SystemModstamp > 2020-01-01T00:00:00Z OR Email = null) "
        "ORDER BY SystemModstamp DESC LIMIT 3"
    )
    stamps = [r["SystemModstamp"] for r in newest["records"]]
    assert len(stamps) == 3 and stamps == sorted(stamps, reverse=True)
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Id FROM Contact WHERE Nope__c = 1")
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT Id FROM Contact WHERE")
    assert sf.query("SELECT Id FROM Task WHERE TaskSubtype = 'Email'")["totalSize"] == 0


def test_a_new_org_has_no_hub_fields_until_setup() -> None:
    """As a real org before its admin runs `hub connectors setup`: describe does not list the
    hub's custom fields, SOQL naming one is an unknown column, a write setting one is refused."""
    with start_sandbox(World(n_contacts=20, seed=1)) as sandbox:
        sf = salesforce_client(sandbox)
        for obj in (sf.Contact, sf.Lead):
            names = {f["name"] for f in obj.describe()["fields"]}
            assert {"SystemModstamp", "Email"} <= names and not names & set(HUB_FIELDS)
        with pytest.raises(SalesforceMalformedRequest) as soql:
            sf.query("SELECT Id, Hub_Reason__c FROM Lead")
        assert soql.value.content[0]["errorCode"] == "INVALID_FIELD"
        assert "\nNo such column 'Hub_Reason__c' on entity 'Lead'. " in soql.value.content[0]["message"]
        cid = next(iter(sandbox.world.salesforce.objects["Contact"]))
        with pytest.raises(SalesforceMalformedRequest) as write:
            sf.Contact.update(cid, {"Hub_Reason__c": "why"})
        assert write.value.content[0]["errorCode"] == "INVALID_FIELD"
        assert write.value.content[0]["message"] == "No such column 'Hub_Reason__c' on sobject of type Contact"


def test_an_org_whose_admin_created_the_hub_fields_lists_them() -> None:
    with start_sandbox(World(n_contacts=20, seed=1, salesforce_hub_fields=True)) as sb:
        sf = salesforce_client(sb)
        for obj in (sf.Contact, sf.Lead):
            names = {f["name"] for f in obj.describe()["fields"]}
            assert {"Hub_Next_Best_Action__c", "Hub_Best_Send_Time__c", "Hub_Decision_Id__c"} <= names
        cid = next(iter(sb.world.salesforce.objects["Contact"]))
        sf.Contact.update(cid, {"Hub_Reason__c": "why"})
        assert sb.world.salesforce.objects["Contact"][cid]["Hub_Reason__c"] == "why"


def test_collections_partial_errors_in_request_order(sf, world: World) -> None:
    leads = list(world.salesforce.objects["Lead"])[:2]
    res = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Lead"}, "Id": leads[0], "Hub_Next_Best_Action__c": "wait"},
                {
                    "attributes": {"type": "Lead"},
                    "Id": "00QHb9999999999AAA",
                    "Hub_Next_Best_Action__c": "wait",
                },
                {"attributes": {"type": "Lead"}, "Id": leads[1], "Hub_Next_Best_Action__c": "@"},
            ],
        },
        headers={"Sforce-Auto-Assign": "FALSE"},
    )
    assert [r["success"] for r in res] == [True, False, True]
    assert res[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert world.salesforce.objects["Lead"][leads[0]]["Hub_Next_Best_Action__c"] == "wait"
    # a field the object lacks cannot be read into an SObject: the whole request is refused
    # before any record is written, as a value of the wrong JSON kind is
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.restful(
            "composite/sobjects",
            method="PATCH",
            json={
                "allOrNone": False,
                "records": [
                    {"attributes": {"type": "Lead"}, "Id": leads[0], "Hub_Next_Best_Action__c": "call"},
                    {"attributes": {"type": "Lead"}, "Id": leads[1], "Not_A_Field__c": "x"},
                ],
            },
        )
    assert refused.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Not_A_Field__c' on sobject of type Lead" in refused.value.content[0]["message"]
    assert world.salesforce.objects["Lead"][leads[0]]["Hub_Next_Best_Action__c"] == "wait"  # nothing written
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful(
            "composite/sobjects",
            method="PATCH",
            json={"records": [{"attributes": {"type": "Lead"}, "Id": leads[0]}] * 201},
        )
    rolled = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Lead"}, "Id": leads[1], "Hub_Best_Channel__c": "email"},
                {"attributes": {"type": "Lead"}, "Id": "00QHb9999999999AAA", "Hub_Best_Channel__c": "email"},
            ],
        },
    )
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert world.salesforce.objects["Lead"][leads[1]]["Hub_Best_Channel__c"] is None


def test_an_update_whose_id_is_not_of_its_type_is_malformed_id(sf, world: World) -> None:
    """Salesforce reads the id as the record type says: another object's id, or no id at all,
    is refused per record as ``Account ID: id value of incorrect type: abc123`` (field reports:
    restforce and SOAP client fixtures); the sandbox used to find the record by prefix instead."""
    lead = next(iter(world.salesforce.objects["Lead"]))
    contact = next(iter(world.salesforce.objects["Contact"]))
    res = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "id": lead, "Hub_Best_Channel__c": "email"},
                {"attributes": {"type": "Contact"}, "id": "abc123", "Hub_Best_Channel__c": "email"},
                {"attributes": {"type": "Contact"}, "id": contact, "Hub_Best_Channel__c": "email"},
            ]
        },
    )
    assert [r["success"] for r in res] == [False, False, True]
    assert res[0]["errors"] == [
        {"statusCode": "MALFORMED_ID", "message": f"Contact ID: id value of incorrect type: {lead}", "fields": ["Id"]}
    ]
    assert res[1]["errors"][0]["message"] == "Contact ID: id value of incorrect type: abc123"
    assert world.salesforce.objects["Lead"][lead]["Hub_Best_Channel__c"] is None


def test_campaign_members_create_duplicate_and_delete(sf, world: World) -> None:
    camp = next(iter(world.salesforce.objects["Campaign"]))
    lead = next(iter(world.salesforce.objects["Lead"]))
    res = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "records": [
                {"attributes": {"type": "CampaignMember"}, "CampaignId": camp, "LeadId": lead},
                {"attributes": {"type": "CampaignMember"}, "CampaignId": camp, "LeadId": lead},
            ]
        },
    )
    assert res[0]["success"] and res[1]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"
    gone = sf.restful("composite/sobjects", method="DELETE", params={"ids": res[0]["id"]})
    assert gone[0]["success"]
    live = sf.query(f"SELECT Id FROM CampaignMember WHERE CampaignId = '{camp}'")
    dead = sf.query_all(
        f"SELECT Id, IsDeleted FROM CampaignMember WHERE CampaignId = '{camp}'",
        include_deleted=True,
    )
    assert live["totalSize"] == 0 and dead["records"][0]["IsDeleted"] is True


def test_auto_assign_header_is_honoured_and_logged(sf, world: World) -> None:
    lead_a, lead_b = list(world.salesforce.objects["Lead"])[:2]
    owner = world.salesforce.users[3]
    sf.Lead.update(lead_a, {"OwnerId": owner}, headers={"Sforce-Auto-Assign": "FALSE"})
    sf.Lead.update(lead_b, {"OwnerId": owner})
    leads = world.salesforce.objects["Lead"]
    assert leads[lead_a]["OwnerId"] == owner
    assert leads[lead_b]["OwnerId"] == world.salesforce.assignment_rule_owner
    assert world.salesforce.auto_assign_log[-2:] == [
        ("Lead", lead_a, "FALSE"),
        ("Lead", lead_b, "(absent)"),
    ]


def test_session_expiry_and_relogin(sandbox) -> None:
    sf = salesforce_client(sandbox)
    logins = sandbox.salesforce.logins
    sandbox.salesforce.expire_sessions()
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] > 0
    assert sandbox.salesforce.logins == logins + 1
    stale = Salesforce(session_id="00Dbogus!x", instance=sf.sf_instance, session=sandbox.salesforce_session())
    with pytest.raises(Exception) as e:
        stale.query("SELECT Id FROM User")
    assert "INVALID_SESSION_ID" in str(e.value) or "refreshed" in str(e.value)


def test_session_ttl_expires() -> None:
    world = World(n_contacts=100, seed=1)
    with start_sandbox(world, salesforce_limits=SalesforceLimits(session_ttl_s=1.0)) as sb:
        sf = salesforce_client(sb)
        sf.query("SELECT Id FROM User")
        before = sb.salesforce.logins
        time.sleep(1.05)
        assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 7
        assert sb.salesforce.logins == before + 1


def test_limit_info_header_and_daily_403() -> None:
    world = World(n_contacts=100, seed=1)
    with start_sandbox(world, salesforce_limits=SalesforceLimits(daily_api_requests=3)) as sb:
        sf = salesforce_client(sb)
        sf.query("SELECT Id FROM User")
        assert sf.api_usage["api-usage"].used == 1 and sf.api_usage["api-usage"].total == 3
        sf.query("SELECT Id FROM User")
        sf.query("SELECT Id FROM User")
        with pytest.raises(SalesforceRefusedRequest) as e:
            sf.query("SELECT Id FROM User")
        assert e.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        assert world.log.limits_exceeded[("salesforce", "DAILY")] == 1
        world.advance_days(1)
        world.clock.skip(60_000)  # 24 h after those calls: they no longer count
        assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 7


def test_the_daily_limit_is_a_rolling_24_hours_not_a_utc_day() -> None:
    """Salesforce's API request allocation is over a rolling 24 hours (its limits cheatsheet;
    Bulk API's are "rolling 24 h" too): calls at 20:00 still count after midnight UTC, until
    20:00 the next day. A calendar-day count handed a spent org a fresh day at midnight."""
    world = World(n_contacts=100, seed=1)
    with start_sandbox(world, salesforce_limits=SalesforceLimits(daily_api_requests=3)) as sb:
        sf = salesforce_client(sb)
        world.clock.skip(20 * 3_600_000)  # 20:00 UTC
        for _ in range(3):
            sf.query("SELECT Id FROM User")
        world.advance_days(1)  # 00:00 UTC: a new calendar day, 4 hours later
        with pytest.raises(SalesforceRefusedRequest) as e:
            sf.query("SELECT Id FROM User")
        assert e.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        assert sb.salesforce.get_limits(None).body["DailyApiRequests"]["Remaining"] == 0
        world.clock.skip(20 * 3_600_000 + 60_000)  # 20:01: the calls of 20:00 yesterday are out
        sf.query("SELECT Id FROM User")
        assert sf.api_usage["api-usage"].used == 1


def test_lead_conversion_follows_an_opportunity() -> None:
    world = World(n_contacts=4000, seed=5, salesforce_hub_fields=True)
    with start_sandbox(world) as sb:
        sf = salesforce_client(sb)
        for day in range(4):
            leads = sf.query_all("SELECT Id FROM Lead WHERE IsConverted = false")["records"]
            for k in range(0, len(leads), 200):
                sf.restful(
                    "composite/sobjects",
                    method="PATCH",
                    json={
                        "records": [
                            {
                                "attributes": {"type": "Lead"},
                                "Id": r["Id"],
                                "Hub_Next_Best_Action__c": "sales_outreach",
                                "Hub_Decision_Id__c": f"{r['Id']}-{day}",
                            }
                            for r in leads[k : k + 200]
                        ]
                    },
                    headers={"Sforce-Auto-Assign": "FALSE"},
                )
            world.advance_days(1)
        executed = world.ground_truth_log()
        assert (executed["action"] == ACTION_INDEX["sales_outreach"]).sum() > 500
        conv = sf.query("SELECT Id, ConvertedContactId, IsConverted FROM Lead WHERE IsConverted = true")
        assert conv["totalSize"] > 0
        cid = conv["records"][0]["ConvertedContactId"]
        contact = sf.query(f"SELECT Id, AccountId FROM Contact WHERE Id = '{cid}'")
        assert contact["totalSize"] == 1 and contact["records"][0]["AccountId"]
        lead_id = conv["records"][0]["Id"]
        with pytest.raises(SalesforceMalformedRequest):
            sf.Lead.update(lead_id, {"Hub_Next_Best_Action__c": "wait"})
        opps = sf.query("SELECT Id, Amount, StageName FROM Opportunity")
        assert opps["totalSize"] >= conv["totalSize"]
        calls = sf.query("SELECT Id FROM Task WHERE TaskSubtype = 'Call'")
        assert calls["totalSize"] > 0


def test_automation_moves_system_modstamp_only(sf, world: World) -> None:
    world.advance_days(4)
    rows = sf.query_all("SELECT Id, Status, LastModifiedDate, SystemModstamp FROM Lead")["records"]
    ahead = [r for r in rows if r["SystemModstamp"] > r["LastModifiedDate"]]
    assert ahead and all(r["Status"] != "Open - Not Contacted" for r in ahead)
    assert all(r["SystemModstamp"] >= r["LastModifiedDate"] for r in rows)


def test_collections_refuse_more_than_10_type_chunks(sf, world: World) -> None:
    contacts = list(world.salesforce.objects["Contact"])[:6]
    leads = list(world.salesforce.objects["Lead"])[:6]
    interleaved = [
        {"attributes": {"type": t}, "Id": rid, "Hub_Next_Best_Action__c": "wait"}
        for c, lead in zip(contacts, leads, strict=True)
        for t, rid in (("Contact", c), ("Lead", lead))
    ]  # 12 rows, the type changes at every row: 12 chunks
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.restful("composite/sobjects", method="PATCH", json={"records": interleaved})
    assert e.value.status == 400 and e.value.content[0]["errorCode"] == "INVALID_BATCH_REQUEST"
    assert "more than 10 chunks" in e.value.content[0]["message"]
    assert all(world.salesforce.objects["Contact"][c]["Hub_Next_Best_Action__c"] != "wait" for c in contacts)
    ten = interleaved[:10]  # exactly 10 chunks is allowed
    assert all(r["success"] for r in sf.restful("composite/sobjects", method="PATCH", json={"records": ten}))


def test_concurrency_refusal_is_a_403_that_is_not_the_daily_limit(sf, sandbox) -> None:
    sandbox.salesforce_faults.set(burst_429=1)
    with pytest.raises(SalesforceRefusedRequest) as e:
        sf.query("SELECT Id FROM User")
    assert e.value.status == 403
    assert e.value.content == [
        {"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert "TotalRequests" not in e.value.content[0]["message"]
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 7


def test_a_query_too_big_times_out_and_a_narrower_one_does_not() -> None:
    world = World(n_contacts=400, seed=21)
    with start_sandbox(world, salesforce_limits=SalesforceLimits(query_timeout_rows=100)) as sb:
        sf = salesforce_client(sb)
        with pytest.raises(SalesforceMalformedRequest) as e:
            sf.query("SELECT Id FROM Lead")
        assert e.value.status == 400
        assert e.value.content == [
            {"message": "Your query request was running for too long.", "errorCode": "QUERY_TIMEOUT"}
        ]
        assert len(sf.query("SELECT Id FROM Lead ORDER BY SystemModstamp ASC LIMIT 50")["records"]) == 50


def test_archived_activities_need_query_all_and_merges_leave_master_record_id(sf, world: World) -> None:
    sfs = world.salesforce
    lead = next(r for r in sfs.objects["Lead"].values() if not r["IsConverted"])
    with world.lock:
        old = sfs.create(
            "Task",
            {"WhoId": lead["Id"], "Subject": "old", "Status": "Completed", "ActivityDate": "2024-01-02"},
            at_ms=sfs.clock.now_ms() - 400 * 86_400_000,
        )
        fresh = sfs.create("Task", {"WhoId": lead["Id"], "Subject": "new", "Status": "Completed"})
    q = f"SELECT Id FROM Task WHERE Id IN ('{old}', '{fresh}')"
    assert [r["Id"] for r in sf.query(q)["records"]] == [fresh]  # archived: not in a plain query
    assert {r["Id"] for r in sf.query_all(q, include_deleted=True)["records"]} == {old, fresh}

    master, loser = [r["Id"] for r in sfs.objects["Lead"].values() if not r["IsConverted"]][1:3]
    with world.lock:
        sfs.merge("Lead", master, [loser])
    rows = sf.query_all(f"SELECT Id, IsDeleted, MasterRecordId FROM Lead WHERE Id = '{loser}'", include_deleted=True)
    assert rows["records"][0]["IsDeleted"] is True and rows["records"][0]["MasterRecordId"] == master
    assert sf.query(f"SELECT COUNT() FROM Lead WHERE Id = '{loser}'")["totalSize"] == 0
    with pytest.raises(SalesforceMalformedRequest) as e:  # MasterRecordId is set by merges only
        sf.Lead.update(master, {"MasterRecordId": loser})
    assert e.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
