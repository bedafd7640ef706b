"""ensure_schema against the sandbox: fields without field-level security get it, or an admin gets told.

Real simple-salesforce over TLS; the org's hub fields exist but no profile grants them (as
right after the Metadata API created them).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.permissions import PERMISSION_SET
from hub.models import Action, ActionKind, Identity, PushRequest
from hub.sandbox.salesforce_server import SalesforceCredentials
from hub.sandbox.salesforce_state import HUB_FIELDS
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World


def _open(manage: bool) -> Iterator[SandboxHandle]:
    world = World(n_contacts=60, seed=8, salesforce_hub_fields=True)
    for sobject in ("Contact", "Lead"):
        world.salesforce.no_fls[sobject] = set(HUB_FIELDS)
    with start_sandbox(world, salesforce_credentials=SalesforceCredentials(manage_permissions=manage)) as sb:
        yield sb


@pytest.fixture
def sb() -> Iterator[SandboxHandle]:
    yield from _open(manage=True)


@pytest.fixture
def sb_no_rights() -> Iterator[SandboxHandle]:
    yield from _open(manage=False)


def _connector(sb: SandboxHandle) -> SalesforceConnector:
    settings = SalesforceSettings(
        **sb.salesforce_password_login,
    )
    return SalesforceConnector("sf", settings, {})


def test_ensure_schema_grants_fls_through_a_permission_set_then_writes_land(sb: SandboxHandle) -> None:
    conn = _connector(sb)
    assert any("Hub_Next_Best_Action__c is missing" in p for p in conn.check().problems)
    report = conn.ensure_schema()
    assert report.problems == []
    assert f"PermissionSet {PERMISSION_SET}" in report.created
    assert sum(c.startswith("FieldPermissions ") for c in report.created) == 2 * len(HUB_FIELDS)
    assert f"PermissionSetAssignment {PERMISSION_SET} -> {sb.salesforce_username}" in report.created
    assert "Lead.Hub_Decision_Id__c" in report.existing and len(report.existing) == 2 * len(HUB_FIELDS)
    cid = next(iter(sb.world.salesforce.objects["Contact"]))
    [result] = conn.push(
        [
            PushRequest(
                push_id=1,
                identity=Identity(connector="sf", object_type="contact", external_id=cid),
                action=Action(kind=ActionKind.SET_FIELDS, payload={"fields": {"next_best_action": "call"}}),
            )
        ]
    )
    assert result.status == "ok", result.reason
    assert sb.world.salesforce.objects["Contact"][cid]["Hub_Next_Best_Action__c"] == "call"
    again = _connector(sb).ensure_schema()  # idempotent: nothing new to create
    assert again.problems == [] and not [c for c in again.created if "Permission" in c]


def test_without_the_right_it_says_exactly_what_to_grant(sb_no_rights: SandboxHandle) -> None:
    report = _connector(sb_no_rights).ensure_schema()
    assert report.created == [] and report.existing == []
    assert len(report.problems) == 2 * len(HUB_FIELDS)
    first = report.problems[0]
    assert "INSUFFICIENT_ACCESS_OR_READONLY" in first and "Read and Edit field-level security" in first
    assert sb_no_rights.salesforce_username in first and PERMISSION_SET in first
    assert sb_no_rights.salesforce_password not in " ".join(report.problems)
