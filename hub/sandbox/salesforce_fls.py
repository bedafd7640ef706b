"""Salesforce look-alike, field-level security: what creating permission objects must satisfy.

A custom field created through the Metadata API gets no field-level security: describe omits it,
SOQL says "No such column" and writes fail with INVALID_FIELD until a profile or permission set
grants it (``SalesforceState.field_access``). Granting is done with ``PermissionSet``,
``FieldPermissions`` (``Field`` is a restricted picklist of ``Object.Field``; Edit needs Read)
and ``PermissionSetAssignment``; a user without "Manage Profiles and Permission Sets" may not
create any of them.
"""

from __future__ import annotations

from typing import Any

from hub.sandbox.salesforce_state import FIELDS, SalesforceState, SfError

PERMISSION_OBJECTS = ("PermissionSet", "FieldPermissions", "PermissionSetAssignment")


def check_permission_create(state: SalesforceState, sobject: str, fields: dict[str, Any], allowed: bool) -> None:
    """Raise the SfError Salesforce gives for a refused permission-object insert."""
    if not allowed:
        raise SfError("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
    live = [r for r in state.objects[sobject].values() if not r["IsDeleted"]]
    if sobject == "PermissionSet":
        if not fields.get("Name") or not fields.get("Label"):
            raise SfError("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name, Label]", ["Name", "Label"])
        if any(r["Name"] == fields["Name"] for r in live):
            raise SfError("DUPLICATE_DEVELOPER_NAME", f"The API name {fields['Name']!r} is already in use.", ["Name"])
    elif sobject == "FieldPermissions":
        field = str(fields.get("Field") or "")
        obj, _, name = field.partition(".")
        if (
            obj != fields.get("SobjectType")
            or obj not in FIELDS
            or name not in FIELDS[obj]
            or name in state.absent[obj]
        ):
            raise SfError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"Field Name: bad value for restricted picklist field: {field}",
                ["Field"],
            )
        if fields.get("PermissionsEdit") and not fields.get("PermissionsRead"):
            raise SfError("FIELD_INTEGRITY_EXCEPTION", "Permission Edit depends on permission(s): Read", ["Field"])
        for r in live:
            if r["ParentId"] == fields.get("ParentId") and r["Field"] == field:
                raise SfError(
                    "DUPLICATE_VALUE", f"duplicate value found: <unknown> duplicates value on record with id: {r['Id']}"
                )
    elif sobject == "PermissionSetAssignment":
        for r in live:
            if r["PermissionSetId"] == fields.get("PermissionSetId") and r["AssigneeId"] == fields.get("AssigneeId"):
                raise SfError(
                    "DUPLICATE_VALUE",
                    f"Duplicate PermissionSetAssignment. Assignee: {r['AssigneeId']}; Permission Set: {r['PermissionSetId']}",
                )
