"""The Salesforce look-alike's Metadata API, through simple-salesforce's own ``sf.mdapi`` (zeep, SOAP).

Metadata API Developer Guide: "CustomField" (Text ``length`` 1-255; Number ``precision`` 1-18,
``scale`` not above it; Picklist needs a ``valueSet``), "createMetadata()" (one SaveResult per
component: ``success`` and ``errors`` with ``statusCode``; simple-salesforce raises on any
``success=false``), DUPLICATE_DEVELOPER_NAME for a name in use. Knowledge article "Fields created
via Metadata API are not visible": a new field has no field-level security, so describe omits it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce
from zeep.exceptions import Fault

from hub.sandbox.salesforce_server import SalesforceCredentials
from hub.sandbox.salesforce_state import HUB_FIELDS
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World

from .conftest import salesforce_client


def _open(**creds: bool) -> Iterator[SandboxHandle]:
    world = World(n_contacts=40, seed=5)  # a new org: the hub's fields are not there yet
    with start_sandbox(world, salesforce_credentials=SalesforceCredentials(**creds)) as sb:
        yield sb


@pytest.fixture
def new_org() -> Iterator[SandboxHandle]:
    yield from _open()


def _mdapi(sf: Salesforce, sb: SandboxHandle):  # noqa: ANN202
    md = sf.mdapi
    md._client.transport.session = sb.salesforce_session()  # the sandbox's CA, as the connector does
    return md


def _text(md, name: str, length: int = 255):  # noqa: ANN001, ANN202
    return md.CustomField(fullName=name, label="Decision", type="Text", length=length)


def test_a_created_field_exists_but_describe_hides_it_until_fls_is_granted(new_org: SandboxHandle) -> None:
    sf = salesforce_client(new_org)
    md = _mdapi(sf, new_org)
    assert md.CustomField.read(["Contact.Hub_Decision_Id__c"]).fullName is None  # no such field yet
    md.CustomField.create([_text(md, "Contact.Hub_Decision_Id__c")])
    assert md.CustomField.read(["Contact.Hub_Decision_Id__c"]).fullName == "Contact.Hub_Decision_Id__c"
    names = {f["name"] for f in sf.Contact.describe()["fields"]}
    assert "Hub_Decision_Id__c" not in names and "Hub_Reason__c" not in names
    assert new_org.world.salesforce.no_fls["Contact"] == {"Hub_Decision_Id__c"}


def test_a_name_in_use_is_duplicate_developer_name(new_org: SandboxHandle) -> None:
    md = _mdapi(salesforce_client(new_org), new_org)
    md.CustomField.create([_text(md, "Contact.Hub_Decision_Id__c")])
    with pytest.raises(Exception, match="DUPLICATE_DEVELOPER_NAME") as e:
        md.CustomField.create([_text(md, "Contact.Hub_Decision_Id__c")])
    assert "There is already a field named Hub_Decision_Id__c on Contact" in str(e.value)
    md.CustomField.create([_text(md, "Lead.Hub_Decision_Id__c")])  # the name is in use on Contact only
    with pytest.raises(Exception, match="DUPLICATE_DEVELOPER_NAME"):
        md.CustomField.create([_text(md, "Lead.Hub_Decision_Id__c")])


def test_invalid_definitions_are_refused_per_component_and_the_valid_one_is_created(new_org: SandboxHandle) -> None:
    md = _mdapi(salesforce_client(new_org), new_org)
    with pytest.raises(Exception) as e:
        md.CustomField.create(
            [
                _text(md, "Contact.Hub_Reason__c", length=300),  # Text takes 1-255
                md.CustomField(fullName="Contact.Hub_Lead_Score__c", label="Score", type="Number", precision=19),
                md.CustomField(fullName="Contact.Hub_Best_Channel__c", label="Channel", type="Picklist"),
                _text(md, "Contact.Hub_Content_Cta__c"),
            ]
        )
    message = str(e.value)
    assert "Contact.Hub_Reason__c: (FIELD_INTEGRITY_EXCEPTION" in message
    assert "Contact.Hub_Lead_Score__c: (FIELD_INTEGRITY_EXCEPTION" in message
    assert "Contact.Hub_Best_Channel__c: (REQUIRED_FIELD_MISSING, Required field is missing: valueSet" in message
    assert "Hub_Content_Cta__c" not in message
    assert new_org.world.salesforce.absent["Contact"] == set(HUB_FIELDS) - {"Hub_Content_Cta__c"}


def test_a_bad_session_and_a_user_without_customize_application_get_soap_faults() -> None:
    for sb in _open(customize_application=False):
        sf = salesforce_client(sb)
        md = _mdapi(sf, sb)
        with pytest.raises(Fault, match="INSUFFICIENT_ACCESS"):
            md.CustomField.create([_text(md, "Contact.Hub_Decision_Id__c")])
        stale = Salesforce(instance_url=f"https://{sf.sf_instance}", session_id="00Dbad!session", session=sf.session)
        with pytest.raises(Fault, match="INVALID_SESSION_ID"):
            _mdapi(stale, sb).CustomField.read(["Contact.Hub_Decision_Id__c"])
        assert sb.world.salesforce.absent["Contact"] == set(HUB_FIELDS)
