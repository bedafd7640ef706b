"""Pushes to a Lead converted since the last sync (the sandbox refuses what Salesforce refuses:
a converted Lead takes no field writes and joins no Campaign, but may leave one). The push fails
saying the next sync moves the person to the Contact the Lead became."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from hub.models import Action, Identity, PushRequest
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from tests.sandbox.conftest import salesforce_client


@pytest.fixture
def sandbox():
    with start_sandbox(World(n_contacts=40, seed=6, salesforce_hub_fields=True)) as sb:
        yield sb


def _push(i: int, lead: str, kind: str, payload: dict) -> PushRequest:
    ident = Identity(connector="sf", object_type="lead", external_id=lead)
    return PushRequest(push_id=i, identity=ident, action=Action(kind=kind, payload=payload))


def _connector(sb) -> SalesforceConnector:
    settings = SalesforceSettings(**sb.salesforce_password_login, objects=["Lead"], activity_objects=[])
    conn = SalesforceConnector("sf", settings, {}, clock=lambda: datetime(2027, 1, 1, tzinfo=UTC))
    conn.client.sleep = lambda s: None
    return conn


def test_pushes_to_a_lead_converted_since_the_sync_fail_naming_the_conversion(sandbox) -> None:
    sfs = sandbox.world.salesforce
    kept, converted, member = [r for r, rec in sfs.objects["Lead"].items() if not rec["IsConverted"]][:3]
    camp = salesforce_client(sandbox).Campaign.create({"Name": "Hub webinar", "IsActive": True})["id"]
    sfs.create("CampaignMember", {"CampaignId": camp, "LeadId": member, "Status": "Sent"})
    for lead in (converted, member):  # a rep converts them after the hub read them
        sfs.update("Lead", lead, {"IsConverted": True}, "convert", source="market")
    results = _connector(sandbox).push(
        [
            _push(1, kept, "add_to_list", {"list": "Hub webinar"}),
            _push(2, converted, "add_to_list", {"list": "Hub webinar"}),
            _push(3, converted, "set_fields", {"fields": {"next_best_action": "wait"}}),
            _push(4, member, "remove_from_list", {"list": "Hub webinar"}),
        ]
    )
    assert [r.status for r in results] == ["ok", "failed", "failed", "ok"]
    for r in results[1:3]:
        assert r.reason.startswith("CANNOT_UPDATE_CONVERTED_LEAD: cannot reference converted lead")
        assert "converted" in r.reason and "next sync" in r.reason
    members = {m["LeadId"] for m in sfs.objects["CampaignMember"].values() if not m["IsDeleted"]}
    assert members == {kept}
