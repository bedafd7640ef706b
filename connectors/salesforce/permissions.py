"""Field-level security for the hub's custom fields: one permission set, granted and assigned.

A field created through the Metadata API gets no field-level security, so describe hides it,
SOQL calls it "No such column" and writes fail with INVALID_FIELD. ``grant_fields`` finds or
creates the permission set ``Decision_Hub_Fields``, gives it Read + Edit ``FieldPermissions``
on each field and assigns it to the API user, all through the REST API. When the user may not
manage permission sets, the result says exactly what an admin must grant instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.mapping import soql_quote
from hub.errors import HubError

PERMISSION_SET = "Decision_Hub_Fields"
PERMISSION_SET_LABEL = "Decision Hub fields"
NO_SUCH_FIELD = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"  # FieldPermissions.Field names no field
BATCH = 200


@dataclass
class Grant:
    """What ``grant_fields`` did: rows created in the org, fields it could not grant, and why."""

    created: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # "Object.Field" -> "CODE: message"
    problem: str | None = None  # the whole grant failed (no rights, no user): what to do instead


def admin_instructions(fields: list[str], username: str | None) -> str:
    who = repr(username) if username else "the integration user (the connected app's Run As user)"
    return (
        f"an admin must grant Read and Edit field-level security on {', '.join(sorted(fields))} to {who}: "
        f"Setup > Permission Sets > New (API name {PERMISSION_SET}) > Object Settings > tick Read and Edit "
        "for each field > Manage Assignments > add the user; or give that user "
        "'Manage Profiles and Permission Sets' and run `hub connectors setup` again"
    )


def _first_id(client: SalesforceClient, soql: str) -> str | None:
    for batch in client.query_pages(soql):
        for rec in batch:
            if isinstance(rec.get("Id"), str):
                return rec["Id"]
    return None


def _write(client: SalesforceClient, method: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(rows), BATCH):
        body = {"allOrNone": False, "records": rows[i : i + BATCH]}
        out += client.rest("composite/sobjects", method=method, retry=method != "POST", json=body) or []
    return out


def _reason(answer: dict[str, Any]) -> tuple[str, str]:
    err = (answer.get("errors") or [{}])[0]
    return str(err.get("statusCode", "UNKNOWN")), str(err.get("message", ""))


def grant_fields(client: SalesforceClient, username: str | None, fields: list[str]) -> Grant:
    """Read + Edit on ``fields`` ("Contact.Hub_X__c") for ``username`` through one permission set."""
    grant = Grant()
    if not fields:
        return grant
    if not username:
        grant.problem = "no username is configured, so the API user is unknown; " + admin_instructions(fields, None)
        return grant
    try:
        user_id = _first_id(client, f"SELECT Id FROM User WHERE Username = {soql_quote(username)}")
        if user_id is None:
            grant.problem = f"user {username!r} was not found; " + admin_instructions(fields, username)
            return grant
        ps_id = _first_id(client, f"SELECT Id FROM PermissionSet WHERE Name = {soql_quote(PERMISSION_SET)}")
        if ps_id is None:
            row = {"attributes": {"type": "PermissionSet"}, "Name": PERMISSION_SET, "Label": PERMISSION_SET_LABEL}
            answer = _write(client, "POST", [row])[0]
            if not answer.get("success"):
                code, message = _reason(answer)
                grant.problem = f"could not create permission set {PERMISSION_SET} ({code}: {message}); " + (
                    admin_instructions(fields, username)
                )
                return grant
            ps_id = answer["id"]
            grant.created.append(f"PermissionSet {PERMISSION_SET}")
        existing = {
            r["Field"]: r
            for batch in client.query_pages(
                "SELECT Id, Field, PermissionsRead, PermissionsEdit FROM FieldPermissions "
                f"WHERE ParentId = {soql_quote(ps_id)}"
            )
            for r in batch
        }
        new = [f for f in fields if f not in existing]
        rows = [
            {
                "attributes": {"type": "FieldPermissions"},
                "ParentId": ps_id,
                "SobjectType": f.split(".", 1)[0],
                "Field": f,
                "PermissionsRead": True,
                "PermissionsEdit": True,
            }
            for f in new
        ]
        stale = [f for f in fields if f in existing and not existing[f].get("PermissionsEdit")]
        fixes = [
            {
                "attributes": {"type": "FieldPermissions"},
                "id": existing[f]["Id"],
                "PermissionsRead": True,
                "PermissionsEdit": True,
            }
            for f in stale
        ]
        for f, answer in [
            *zip(new, _write(client, "POST", rows), strict=False),
            *zip(stale, _write(client, "PATCH", fixes), strict=False),
        ]:
            if answer.get("success"):
                grant.created.append(f"FieldPermissions {f} (Read, Edit) in {PERMISSION_SET}")
            else:
                code, message = _reason(answer)
                grant.failed[f] = f"{code}: {message}"
        assigned = _first_id(
            client,
            "SELECT Id FROM PermissionSetAssignment "
            f"WHERE PermissionSetId = {soql_quote(ps_id)} AND AssigneeId = {soql_quote(user_id)}",
        )
        if assigned is None:
            row = {"attributes": {"type": "PermissionSetAssignment"}, "PermissionSetId": ps_id, "AssigneeId": user_id}
            answer = _write(client, "POST", [row])[0]
            if not answer.get("success"):
                code, message = _reason(answer)
                grant.problem = f"could not assign {PERMISSION_SET} to {username!r} ({code}: {message}); " + (
                    admin_instructions(fields, username)
                )
                return grant
            grant.created.append(f"PermissionSetAssignment {PERMISSION_SET} -> {username}")
    except HubError as exc:
        grant.problem = f"could not grant field-level security ({exc}); " + admin_instructions(fields, username)
    return grant
