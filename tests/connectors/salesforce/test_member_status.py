"""A CampaignMember's Status is one of its Campaign's member statuses (a new Campaign has Sent,
the default, and Responded). Salesforce does not refuse another: "If the specified Status value
isn't a valid status, the API assigns the default status" (Object Reference, CampaignMember,
Usage), and so does the sandbox. The connector reads the Campaigns' statuses first, and fails
the adds a configured status cannot go to, saying which setting to change, instead of letting
members land silently with the default."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from hub.models import Action, Identity, PushRequest
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from tests.faults_met import unmet_faults
from tests.sandbox.conftest import salesforce_client


@pytest.fixture
def sandbox():
    with start_sandbox(World(n_contacts=60, seed=5, salesforce_hub_fields=True)) as sb:
        yield sb
        assert not unmet_faults(sb), f"faults queued but never met: {unmet_faults(sb)}"


def _leads(sb) -> list[str]:
    return sorted(r for r, rec in sb.world.salesforce.objects["Lead"].items() if not rec["IsDeleted"])[:3]


def _add(i: int, lead: str, name: str = "Hub webinar") -> PushRequest:
    ident = Identity(connector="sf", object_type="lead", external_id=lead)
    return PushRequest(push_id=i, identity=ident, action=Action(kind="add_to_list", payload={"list": name}))


def _connector(sb, **extra) -> SalesforceConnector:
    settings = SalesforceSettings(**sb.salesforce_password_login, objects=["Lead"], activity_objects=[], **extra)
    conn = SalesforceConnector("sf", settings, {}, clock=lambda: datetime(2027, 1, 1, tzinfo=UTC))
    conn.client.sleep = lambda s: None
    return conn


def _members(sb) -> dict[str, str]:
    return {
        m["LeadId"]: m["Status"]
        for m in sb.world.salesforce.objects["CampaignMember"].values()
        if not m["IsDeleted"] and m["LeadId"]
    }


def _statuses(sf, camp: str) -> list[tuple[str, bool]]:
    soql = f"SELECT Label, IsDefault FROM CampaignMemberStatus WHERE CampaignId = '{camp}' ORDER BY SortOrder"
    return [(r["Label"], r["IsDefault"]) for r in sf.query(soql)["records"]]


def test_the_sandbox_puts_the_default_for_a_status_the_campaign_lacks(sandbox) -> None:
    sf = salesforce_client(sandbox)
    camp = sf.Campaign.create({"Name": "Statuses", "IsActive": True})["id"]
    assert _statuses(sf, camp) == [("Sent", True), ("Responded", False)]  # what a new Campaign has
    a, b, c = _leads(sandbox)
    sf.CampaignMember.create({"CampaignId": camp, "LeadId": a})
    sf.CampaignMember.create({"CampaignId": camp, "LeadId": b, "Status": "Responded"})
    sf.CampaignMember.create({"CampaignId": camp, "LeadId": c, "Status": "Attended"})  # not refused
    assert _members(sandbox) == {a: "Sent", b: "Responded", c: "Sent"}
    sandbox.world.salesforce.set_member_statuses(camp, ["Registered", "Attended"])  # set up in Salesforce
    assert _statuses(sf, camp) == [("Registered", True), ("Attended", False)]
    member = next(k for k, m in sandbox.world.salesforce.objects["CampaignMember"].items() if m["LeadId"] == a)
    sf.CampaignMember.update(member, {"Status": "Attended"})
    sf.CampaignMember.update(member, {"Status": "Sent"})  # no longer one of its statuses: the default
    assert _members(sandbox)[a] == "Registered"


def test_a_member_status_the_campaign_lacks_fails_with_the_setting_to_change(sandbox) -> None:
    conn = _connector(sandbox, campaign_member_status="Attended")
    results = conn.push([_add(i, lead) for i, lead in enumerate(_leads(sandbox))])
    assert {r.status for r in results} == {"failed"}
    assert results[0].reason.startswith("MEMBER_STATUS_MISSING")
    assert "campaign_member_status 'Attended'" in results[0].reason and "Hub webinar" in results[0].reason
    assert _members(sandbox) == {}


def test_a_status_the_campaign_has_is_written(sandbox) -> None:
    conn = _connector(sandbox, campaign_member_status="Attended")
    sf = salesforce_client(sandbox)
    camp = sf.Campaign.create({"Name": "Hub webinar", "IsActive": True})["id"]
    sandbox.world.salesforce.set_member_statuses(camp, ["Registered", "Attended"])
    leads = _leads(sandbox)
    assert {r.status for r in conn.push([_add(i, lead) for i, lead in enumerate(leads)])} == {"ok"}
    assert _members(sandbox) == dict.fromkeys(leads, "Attended")


def test_member_inserts_whose_answer_was_lost_land_once(sandbox) -> None:
    """A 504 after Salesforce inserted the members (a gateway timing out on the answer): the
    connector does not resend a create blindly; the next push reads the members and is done."""
    conn = _connector(sandbox)
    leads = _leads(sandbox)
    conn.push([_add(9, leads[0])])  # the Campaign exists; the next insert is members only
    sandbox.salesforce_faults.set(lost=[504], match="^POST /services/data/v[0-9.]+/composite/sobjects")
    first = conn.push([_add(i, lead) for i, lead in enumerate(leads[1:])])
    assert {r.status for r in first} == {"retryable"}
    assert sandbox.world.log.faults[("salesforce", "lost 504")] == 1
    again = conn.push([_add(i, lead) for i, lead in enumerate(leads[1:])])
    assert {r.status for r in again} == {"ok"}
    members = [m for m in sandbox.world.salesforce.objects["CampaignMember"].values() if not m["IsDeleted"]]
    assert sorted(m["LeadId"] for m in members) == leads  # one each, none doubled
