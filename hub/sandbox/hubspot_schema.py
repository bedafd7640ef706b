"""HubSpot look-alike: what ``POST /crm/v3/properties/{objectType}`` refuses, as HubSpot refuses it.

HubSpot's properties guide (developers.hubspot.com/docs/api/crm/properties, "Property type and
fieldType values"): ``type`` and ``fieldType`` are both required and each ``type`` takes only
some field types. Enumerations shown as a dropdown, radio buttons or checkboxes need options
with distinct values; a duplicate ``name`` is 409 (v2 "create contacts property": "Returns a 409
Conflict error if there is already a property with the 'name' you used"); any other problem is
a 400 with the reason in the body, such as a name with capitals or of 100 characters or more
(HubSpot's answer as quoted in HubSpot/hubspot-api-nodejs#277).
"""

from __future__ import annotations

from typing import Any

from hub.sandbox.httpkit import Response
from hub.sandbox.hubspot_errors import err

#: type -> the fieldType values HubSpot accepts for it (the guide's table)
VALID_FIELD_TYPES: dict[str, frozenset[str]] = {
    "bool": frozenset({"booleancheckbox", "calculation_equation"}),
    "enumeration": frozenset({"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
    "string": frozenset({"file", "text", "textarea", "html", "phonenumber", "calculation_equation"}),
    "number": frozenset({"number", "calculation_equation"}),
    "phone_number": frozenset({"phonenumber"}),
}
#: field types that show a fixed set of choices: without options there is nothing to choose
NEEDS_OPTIONS = frozenset({"select", "radio", "checkbox"})
REQUIRED = ("name", "label", "type", "fieldType", "groupName")
#: a property name must be shorter than this, and lowercase
NAME_MAX = 100


def refusal(body: dict[str, Any], existing: set[str], groups: set[str]) -> Response | None:
    """HubSpot's answer to an invalid property definition, or None when it is valid."""
    missing = [k for k in REQUIRED if not body.get(k)]
    if missing:
        return err(400, f"Missing required fields: {', '.join(missing)}", "VALIDATION_ERROR")
    name, type_, field_type = str(body["name"]), str(body["type"]), str(body["fieldType"])
    if name != name.lower() or len(name) >= NAME_MAX:
        # HubSpot's words as quoted in HubSpot/hubspot-api-nodejs#277; HubSpot/rHAPI PR #5 met
        # the same rule ("does not allow you to make a property with any capital letters")
        return err(
            400,
            f"Names for properties should be lowercase and have less than {NAME_MAX} characters.",
            "VALIDATION_ERROR",
        )
    if name in existing:
        return err(
            409,
            f"Property named '{name}' already exists.",
            "OBJECT_ALREADY_EXISTS",
            subCategory="PropertyValidationError.PROPERTY_EXISTS",
        )
    if type_ not in VALID_FIELD_TYPES:
        return err(
            400,
            f"Invalid type '{type_}': valid types are {', '.join(sorted(VALID_FIELD_TYPES))}",
            "VALIDATION_ERROR",
        )
    if field_type not in VALID_FIELD_TYPES[type_]:
        return err(
            400,
            f"Invalid fieldType '{field_type}' for type '{type_}': valid field types are "
            f"{', '.join(sorted(VALID_FIELD_TYPES[type_]))}",
            "VALIDATION_ERROR",
        )
    options = body.get("options") or []
    if type_ == "enumeration" and field_type in NEEDS_OPTIONS and not options:
        return err(400, f"Enumeration property '{name}' ({field_type}) needs at least one option", "VALIDATION_ERROR")
    if not isinstance(options, list) or any(not isinstance(o, dict) or not o.get("label") for o in options):
        return err(400, "Each option needs a label and a value", "VALIDATION_ERROR")
    values = [str(o.get("value", "")) for o in options]
    if any(v == "" for v in values) or len(set(values)) != len(values):
        return err(400, f"Options of '{name}' need distinct, non-empty values", "VALIDATION_ERROR")
    if body["groupName"] not in groups:
        return err(400, f"group {body['groupName']} does not exist", "VALIDATION_ERROR")
    return None
