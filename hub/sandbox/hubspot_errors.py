"""HubSpot's error body, shared by the server modules."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hub.sandbox.httpkit import Response


def err(status: int, message: str, category: str, **extra: Any) -> Response:
    """``{"status": "error", "message", "correlationId", "category", ...}`` as HubSpot sends."""
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    body.update(extra)
    return Response(status, body)


def invalid_values(refused: list[tuple[str, str, str, Any]], portal_id: int) -> Response:
    """HubSpot's 400 for property values it will not store, given (property, error code, message,
    value) for each: one body for single-record and batch writes alike."""
    return err(
        400,
        invalid_message(refused, portal_id),
        "VALIDATION_ERROR",
        errors=[{"message": msg, "code": code, "context": {"propertyName": [name]}} for name, code, msg, _ in refused],
    )


def invalid_message(refused: list[tuple[str, str, str, Any]], portal_id: int) -> str:
    """HubSpot's "Property values were not valid: [...]", one JSON item per (property, error code,
    message, value). The item fields and their order are HubSpot's as seen live (Atlas-Authority/
    marketing-automation#206 on ``batch/update``; gregorspan/csc-frodx#21 on a single-object
    create); a multi-status batch create carries the same message per failed input (HubSpot's
    error-handling guide, "Multi-status errors")."""
    items = [
        {
            "isValid": False,
            "message": msg,
            "error": code,
            "name": name,
            "localizedErrorMessage": msg,
            "propertyValue": value,
            "portalId": portal_id,
        }
        for name, code, msg, value in refused
    ]
    return f"Property values were not valid: {json.dumps(items, separators=(',', ':'), ensure_ascii=False)}"


def missing_scopes(scope: str) -> Response:
    """HubSpot's 403 for a token without the scope a call needs (its body as HubSpot sends it,
    e.g. HubSpot/hubspot-api-nodejs#268)."""
    return err(
        403,
        "This app hasn't been granted all required scopes to make this call. "
        "Read more about required scopes here: https://developers.hubspot.com/scopes.",
        "MISSING_SCOPES",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": [scope]},
            }
        ],
        links={"scopes": "https://developers.hubspot.com/scopes"},
    )


def required_scope(method: str, path: str) -> str | None:
    """The scope a call needs, for the endpoints the hub uses (developers.hubspot.com/scopes):
    lists, properties, owners, contact writes, deals, email events (``content``, email
    analytics v1 guide) and forms (``forms``, Forms v1 reference; HubSpot also takes
    ``forms-uploaded-files`` there, which this sandbox never grants). Others are not checked."""
    write = method in ("POST", "PUT", "PATCH", "DELETE")
    if path.startswith("/email/public/v1/"):
        return "content"
    if path.startswith(("/form-integrations/v1/submissions/forms", "/marketing/v3/forms")):
        return "forms"
    if path.startswith("/crm/v3/lists"):
        return "crm.lists.write" if write and not path.endswith("/lists/search") else "crm.lists.read"
    if path.startswith("/crm/v3/properties/"):
        return "crm.schemas.contacts.write" if write else "crm.schemas.contacts.read"
    if path.startswith("/crm/v3/owners"):
        return "crm.objects.owners.read"
    if path.startswith("/crm/v3/objects/deals"):
        return "crm.objects.deals.read" if not write or path.endswith(("/search", "/batch/read")) else None
    if path.startswith(("/crm/v3/objects/contacts", "/crm/v3/objects/0-1")):
        reads = ("/search", "/batch/read")
        return "crm.objects.contacts.write" if write and not path.endswith(reads) else "crm.objects.contacts.read"
    return None
