"""Field-level security in the Salesforce look-alike: a field nobody granted is invisible.

Describe omits it, SOQL says "No such column", writes fail with INVALID_FIELD, until a
permission set assigned to the API user grants it; permission rows are validated as Salesforce
validates them.
"""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from hub.sandbox.salesforce_state import HUB_FIELDS
from hub.sandbox.world import World

FIELD = "Hub_Next_Best_Action__c"


def _create(sf, *rows: dict) -> list[dict]:  # noqa: ANN001
    return sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": list(rows)})


def test_a_field_without_fls_is_hidden_and_refused(sf, world: World, sandbox) -> None:
    world.salesforce.no_fls["Contact"] = set(HUB_FIELDS)
    cid = next(iter(world.salesforce.objects["Contact"]))
    assert FIELD not in {f["name"] for f in sf.Contact.describe()["fields"]}
    assert FIELD in {f["name"] for f in sf.Lead.describe()["fields"]}  # Lead fields are granted
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.query(f"SELECT Id, {FIELD} FROM Contact")
    assert e.value.content[0]["errorCode"] == "INVALID_FIELD" and "No such column" in e.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as e:  # a collection is refused whole, before any record
        sf.restful(
            "composite/sobjects",
            method="PATCH",
            json={"records": [{"attributes": {"type": "Contact"}, "id": cid, FIELD: "call"}]},
        )
    assert e.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.Contact.update(cid, {FIELD: "call"})
    assert e.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert world.salesforce.objects["Contact"][cid][FIELD] is None

    # Grant Read only: visible but not writable; then Edit: writable.
    user = sf.query(f"SELECT Id FROM User WHERE Username = '{sandbox.salesforce_username}'")["records"][0]["Id"]
    ps = _create(sf, {"attributes": {"type": "PermissionSet"}, "Name": "Hub_Test", "Label": "Hub test"})[0]["id"]
    fp = _create(
        sf,
        {
            "attributes": {"type": "FieldPermissions"},
            "ParentId": ps,
            "SobjectType": "Contact",
            "Field": f"Contact.{FIELD}",
            "PermissionsRead": True,
            "PermissionsEdit": False,
        },
    )[0]["id"]
    assert FIELD not in {f["name"] for f in sf.Contact.describe()["fields"]}  # not assigned yet
    assert _create(sf, {"attributes": {"type": "PermissionSetAssignment"}, "PermissionSetId": ps, "AssigneeId": user})[
        0
    ]["success"]
    described = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert described[FIELD]["updateable"] is False
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.Contact.update(cid, {FIELD: "call"})
    assert e.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    sf.FieldPermissions.update(fp, {"PermissionsEdit": True})
    sf.Contact.update(cid, {FIELD: "call"})
    assert world.salesforce.objects["Contact"][cid][FIELD] == "call"
    assert sf.query(f"SELECT {FIELD} FROM Contact WHERE Id = '{cid}'")["records"][0][FIELD] == "call"


def test_permission_rows_are_validated(sf, world: World, sandbox) -> None:
    ps = _create(sf, {"attributes": {"type": "PermissionSet"}, "Name": "Hub_V", "Label": "v"})[0]["id"]
    dup = _create(sf, {"attributes": {"type": "PermissionSet"}, "Name": "Hub_V", "Label": "v"})[0]
    assert dup["errors"][0]["statusCode"] == "DUPLICATE_DEVELOPER_NAME"
    base = {"attributes": {"type": "FieldPermissions"}, "ParentId": ps, "SobjectType": "Contact"}
    res = _create(
        sf,
        {**base, "Field": "Contact.Nope__c", "PermissionsRead": True},
        {**base, "Field": f"Contact.{FIELD}", "PermissionsRead": False, "PermissionsEdit": True},
        {**base, "Field": f"Contact.{FIELD}", "PermissionsRead": True, "PermissionsEdit": True},
        {**base, "Field": f"Contact.{FIELD}", "PermissionsRead": True},
    )
    codes = [r["errors"][0]["statusCode"] if not r["success"] else "ok" for r in res]
    assert codes == ["INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "FIELD_INTEGRITY_EXCEPTION", "ok", "DUPLICATE_VALUE"]


def test_a_user_without_manage_permissions_cannot_grant(world: World) -> None:
    from hub.sandbox.salesforce_server import SalesforceCredentials
    from hub.sandbox.serve import start_sandbox
    from tests.sandbox.conftest import salesforce_client

    with start_sandbox(world, salesforce_credentials=SalesforceCredentials(manage_permissions=False)) as sb:
        res = _create(salesforce_client(sb), {"attributes": {"type": "PermissionSet"}, "Name": "Hub_X", "Label": "x"})
        assert res[0]["errors"][0]["statusCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
