"""Queues (Group records of Type Queue) own Leads, never Contacts: the Object Reference's Lead
OwnerId "Refers To Group, User", Contact's "User" only. The sandbox takes a queue as a Lead's
owner and refuses it on a Contact, and the connector fails a queue assignment to a Contact
itself, without a call, instead of sending what Salesforce refuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from hub.models import Action, Identity, PushRequest
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from tests.sandbox.conftest import salesforce_client

NO_ASSIGN = {"Sforce-Auto-Assign": "FALSE"}


@pytest.fixture
def sandbox():
    with start_sandbox(World(n_contacts=40, seed=8, salesforce_hub_fields=True)) as sb:
        yield sb


def _first(sb, sobject: str) -> str:
    rows = sb.world.salesforce.objects[sobject].items()
    return next(r for r, rec in rows if not rec["IsDeleted"] and not rec.get("IsConverted"))


def test_a_queue_owns_a_lead_but_not_a_contact(sandbox) -> None:
    sf = salesforce_client(sandbox)
    queue = sf.query("SELECT Id FROM Group WHERE Type = 'Queue'")["records"][0]["Id"]
    lead, contact = _first(sandbox, "Lead"), _first(sandbox, "Contact")
    rows = [
        {"attributes": {"type": "Lead"}, "id": lead, "OwnerId": queue},
        {"attributes": {"type": "Contact"}, "id": contact, "OwnerId": queue},
    ]
    res = sf.restful("composite/sobjects", method="PATCH", json={"records": rows}, headers=NO_ASSIGN)
    assert [r["success"] for r in res] == [True, False]
    assert res[1]["errors"][0]["statusCode"] == "FIELD_INTEGRITY_EXCEPTION"
    sfs = sandbox.world.salesforce
    assert sfs.objects["Lead"][lead]["OwnerId"] == queue and sfs.objects["Contact"][contact]["OwnerId"] != queue
    owner = {f["name"]: f for f in sf.Lead.describe()["fields"]}["OwnerId"]
    assert owner["referenceTo"] == ["Group", "User"]


def test_the_connector_assigns_a_queue_to_leads_only(sandbox) -> None:
    queue = next(iter(sandbox.world.salesforce.objects["Group"]))
    settings = SalesforceSettings(
        **sandbox.salesforce_password_login,
        objects=["Lead", "Contact"],
        activity_objects=[],
        allowed_owner_queues=[queue],
    )
    conn = SalesforceConnector("sf", settings, {}, clock=lambda: datetime(2027, 1, 1, tzinfo=UTC))
    conn.client.sleep = lambda s: None
    lead, contact = _first(sandbox, "Lead"), _first(sandbox, "Contact")

    def assign(i: int, obj: str, rid: str) -> PushRequest:
        ident = Identity(connector="sf", object_type=obj, external_id=rid)
        return PushRequest(push_id=i, identity=ident, action=Action(kind="assign_owner", payload={"owner": queue}))

    results = conn.push([assign(1, "lead", lead), assign(2, "contact", contact)])
    assert [r.status for r in results] == ["ok", "failed"]
    # the connector's own refusal (Salesforce's would be FIELD_INTEGRITY_EXCEPTION)
    assert results[1].reason.startswith("INVALID_OWNER") and "Contact" in results[1].reason
    sfs = sandbox.world.salesforce
    assert sfs.objects["Lead"][lead]["OwnerId"] == queue and sfs.objects["Contact"][contact]["OwnerId"] != queue
