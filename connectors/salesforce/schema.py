"""Describe-based checks: which hub fields exist with the right type, and what the user may do.

``ensure_schema`` creates missing custom fields through the Metadata API when the client can,
grants them field-level security through a permission set (permissions.py), and checks the
result by describe; what it cannot do it reports as the exact definition or grant an admin
must make.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.mapping import (
    ACCEPTED_TYPES,
    HUB_FIELD_BY_NAME,
    NUMBER_PLACES,
    STRING_MAX,
    TEXT_MAX,
    field_definition,
)
from connectors.salesforce.permissions import (
    NO_SUCH_FIELD,
    PERMISSION_SET,
    Grant,
    admin_instructions,
    grant_fields,
)
from hub.models import SchemaItem, SchemaReport

log = logging.getLogger(__name__)
REQUIRED_OBJECTS = ("Task", "Event", "Campaign", "CampaignMember")
METADATA_BATCH = 10  # createMetadata takes at most 10 components


@dataclass
class FieldAudit:
    """Hub fields of one object: present (right type), mistyped, missing, read-only."""

    sobject: str
    present: dict[str, str] = field(default_factory=dict)  # sf name -> hub name
    mistyped: dict[str, str] = field(default_factory=dict)  # sf name -> problem
    missing: dict[str, str] = field(default_factory=dict)  # sf name -> hub name
    read_only: list[str] = field(default_factory=list)
    mistyped_hub: dict[str, str] = field(default_factory=dict)  # sf name -> hub name
    limited: dict[str, str] = field(default_factory=dict)  # sf name -> which values will not land

    def readable(self) -> dict[str, str]:
        """Fields to read back (a mistyped field still holds what the hub last wrote)."""
        return {**self.present, **self.mistyped_hub}


def audit_fields(describe: dict[str, Any], sf_names: dict[str, str]) -> FieldAudit:
    """Compare one object's describe with the hub fields it should carry."""
    audit = FieldAudit(sobject=describe.get("name", "?"))
    by_name = {f["name"]: f for f in describe.get("fields", [])}
    for hub_name, sf_name in sf_names.items():
        f = by_name.get(sf_name)
        if f is None:
            audit.missing[sf_name] = hub_name
            continue
        wanted = HUB_FIELD_BY_NAME[hub_name].type
        if f.get("type") not in ACCEPTED_TYPES[wanted]:
            audit.mistyped[sf_name] = f"is {f.get('type')}, the hub writes {wanted}"
            audit.mistyped_hub[sf_name] = hub_name
            continue
        if not f.get("updateable", True):
            audit.read_only.append(sf_name)
        audit.present[sf_name] = hub_name
        why = _limits(hub_name, f)
        if why:
            audit.limited[sf_name] = why
    return audit


def _limits(hub_name: str, described: dict[str, Any]) -> str | None:
    """What a field of the right type still cannot hold of what the hub writes: a length under
    the hub's own definition (values are cut), or a restricted picklist without the hub's values
    (Salesforce refuses them, INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST)."""
    hub = HUB_FIELD_BY_NAME[hub_name]
    if described.get("restrictedPicklist"):
        values = {v.get("value") for v in described.get("picklistValues") or [] if v.get("active", True)}
        if hub.type != "enumeration":
            return f"is a restricted picklist; Salesforce refuses every {hub_name} that is not one of its values"
        lacking = [o for o in hub.options if o not in values]
        if lacking:
            return f"is a restricted picklist without {', '.join(lacking)}; add them or Salesforce refuses those values"
    if hub.type == "number" and described.get("type") == "percent" and hub_name == "conversion_probability":
        return (
            "is a Percent field: Salesforce shows the hub's 0-1 probability 0.1235 as 0.12 %; map it to a Number field"
        )
    scale, places = described.get("scale"), NUMBER_PLACES.get(hub_name, 4)
    if hub.type == "number" and scale is not None and int(scale) < places:
        # Salesforce rounds on save, so the value read back differs from the one written and
        # each decision writes it again
        return f"keeps {scale} decimal places; the hub writes {hub_name} with {places} (values are rounded)"
    wanted = {"string": STRING_MAX, "text": TEXT_MAX}.get(hub.type)
    length = int(described.get("length") or 0)
    if wanted and 0 < length < wanted:
        return f"holds {length} characters; {hub_name} values longer than that are cut to {length}"
    return None


def metadata_api(client: SalesforceClient) -> Any:
    """simple-salesforce's Metadata API (zeep), posting through the connector's own HTTP session:
    zeep would otherwise open its own, without ``ca_bundle`` and with the environment's proxies."""
    mdapi = client.sf.mdapi
    mdapi._client.transport.session = client.http  # noqa: SLF001 - zeep's transport, no public setter
    return mdapi


def existing_fields(client: SalesforceClient, full_names: list[str]) -> set[str] | None:
    """Which of ``full_names`` exist in the org, hidden or not (readMetadata, 10 a call);
    None when the Metadata API is not available to this user."""
    found: set[str] = set()
    for i in range(0, len(full_names), METADATA_BATCH):
        try:
            records = metadata_api(client).CustomField.read(full_names[i : i + METADATA_BATCH])
        except Exception as exc:  # noqa: BLE001 - zeep faults, refused calls: "cannot tell"
            log.info("Metadata API could not read fields: %s", type(exc).__name__)
            return None
        for rec in records if isinstance(records, list) else [records]:
            name = getattr(rec, "fullName", None)
            if name:
                found.add(str(name))
    return found


def _create_fields(client: SalesforceClient, sobject: str, missing: dict[str, str]) -> list[str]:
    """Try the Metadata API (10 fields per createMetadata call); return the full names created."""
    created: list[str] = []
    names = list(missing)
    for i in range(0, len(names), METADATA_BATCH):
        part = [f"{sobject}.{n}" for n in names[i : i + METADATA_BATCH]]
        try:
            mdapi = metadata_api(client)
            specs = [
                mdapi.CustomField(**field_definition(HUB_FIELD_BY_NAME[missing[f.split(".", 1)[1]]], f)) for f in part
            ]
            mdapi.CustomField.create(specs)
        # simple-salesforce's mdapi raises bare Exception for a refused result and zeep errors for a
        # bad endpoint: any failure here means "report the definitions instead", never a crash.
        except Exception as exc:  # noqa: BLE001
            log.info("Metadata API could not create %s: %s", ", ".join(part), type(exc).__name__)
            return created
        created += part
    return created


def ensure_fields(
    client: SalesforceClient,
    sobjects: list[str],
    sf_names: dict[str, str],
    create: bool,
    username: str | None = None,
) -> SchemaReport:
    """Create missing fields (Metadata API), grant field-level security (a permission set), verify by describe.

    A field the Metadata API creates, or one an admin created earlier, has no field-level
    security until granted, and describe cannot tell "missing" from "hidden": every field
    describe lacks (or shows read-only) is granted, and describe afterwards says what worked.
    """
    report = SchemaReport()
    audits: dict[str, FieldAudit] = {}
    for sobject in sobjects:
        client.forget_describe(sobject)
        audit = audits[sobject] = audit_fields(client.describe(sobject), sf_names)
        if audit.missing and create:
            report.created += _create_fields(client, sobject, dict(audit.missing))
    wanted = [f"{o}.{n}" for o, a in audits.items() for n in [*a.missing, *a.read_only]]
    grant = grant_fields(client, username, wanted) if wanted and create else Grant()
    report.created += grant.created
    for sobject, before in audits.items():
        client.forget_describe(sobject)
        after = audit_fields(client.describe(sobject), sf_names) if wanted else before
        report.existing += [f"{sobject}.{n}" for n in after.present if n not in after.read_only]
        report.problems += [
            f"{sobject}.{n} {why}; change its type or map the hub field elsewhere" for n, why in after.mistyped.items()
        ]
        report.problems += [f"{sobject}.{n} {why}" for n, why in after.limited.items()]
        for sf_name in after.read_only:
            why = grant.failed.get(f"{sobject}.{sf_name}") or grant.problem or admin_instructions([sf_name], username)
            report.problems.append(f"{sobject}.{sf_name} is read-only for this user; {why}")
        for sf_name, hub_name in after.missing.items():
            full = f"{sobject}.{sf_name}"
            why = grant.failed.get(full, "")
            if why and not why.startswith(NO_SUCH_FIELD):
                report.problems.append(
                    f"{full} exists but is hidden from this user ({why}); " + (admin_instructions([full], username))
                )
                continue
            spec = field_definition(HUB_FIELD_BY_NAME[hub_name], full)
            hint = f" (if it exists already: {grant.problem})" if grant.problem else ""
            report.problems.append(
                f"{full} is missing or hidden{hint}; an admin must add this custom field: "
                f"{json.dumps(spec, sort_keys=True)}"
            )
    return report


def _spec(sf_name: str, hub_name: str) -> str:
    d = field_definition(HUB_FIELD_BY_NAME[hub_name], sf_name)
    size = (
        f"({d['precision']}, {d['scale']})"
        if "precision" in d
        else f"({d['length']})"
        if "length" in d
        else f" ({len(d['valueSet']['valueSetDefinition']['value'])} values)"
        if "valueSet" in d
        else ""
    )
    return f"{d['type']}{size}"


def plan_fields(
    client: SalesforceClient, sobjects: list[str], sf_names: dict[str, str], username: str | None
) -> list[SchemaItem]:
    """Each hub field on each object: ok, missing, hidden (exists without field-level security),
    read-only or mistyped, by describe, and by readMetadata for what describe does not show."""
    items: list[SchemaItem] = []
    grant = f"grant Read and Edit through permission set {PERMISSION_SET} assigned to {username or 'the API user'}"
    for sobject in sobjects:
        client.forget_describe(sobject)
        audit = audit_fields(client.describe(sobject), sf_names)
        unseen = [f"{sobject}.{n}" for n in audit.missing]
        exists = existing_fields(client, unseen) if unseen else set()
        for hub_name, sf_name in sf_names.items():
            full, spec = f"{sobject}.{sf_name}", _spec(sf_name, hub_name)
            if sf_name in audit.mistyped:
                why = f"{audit.mistyped[sf_name]}; change its type or map {hub_name} elsewhere (field_mapping)"
                items.append(SchemaItem(kind="field", name=full, spec=spec, state="mistyped", note=why, fixable=False))
            elif sf_name in audit.read_only:
                items.append(SchemaItem(kind="field", name=full, spec=spec, state="read-only", note=grant))
            elif sf_name in audit.limited:
                note = f"{audit.limited[sf_name]} (an admin can change the field, or map {hub_name} elsewhere)"
                items.append(SchemaItem(kind="field", name=full, spec=spec, state="ok", note=note, fixable=False))
            elif sf_name not in audit.missing:
                items.append(SchemaItem(kind="field", name=full, spec=spec, state="ok"))
            elif exists is None:
                note = f"create it (Metadata API) if missing, then {grant}"
                items.append(SchemaItem(kind="field", name=full, spec=spec, state="missing", note=note))
            elif full in exists:
                items.append(SchemaItem(kind="field", name=full, spec=spec, state="hidden", note=grant))
            else:
                note = f"create it (Metadata API), then {grant}"
                items.append(SchemaItem(kind="field", name=full, spec=spec, state="missing", note=note))
    return items


def object_access(client: SalesforceClient, sobjects: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Per object: may the user query and update it (describe flags)."""
    details: dict[str, Any] = {}
    problems: list[str] = []
    for sobject in [*sobjects, *REQUIRED_OBJECTS]:
        d = client.describe(sobject)
        flags = {k: bool(d.get(k)) for k in ("queryable", "updateable", "createable")}
        details[sobject] = flags
        if not flags["queryable"]:
            problems.append(f"{sobject} is not readable by this user; grant Read on {sobject}")
        if sobject in sobjects and not flags["updateable"]:
            problems.append(f"{sobject} is not editable by this user; grant Edit on {sobject}")
        if sobject == "CampaignMember" and not flags["createable"]:
            problems.append("CampaignMember cannot be created by this user; grant Edit on Campaigns")
    return details, problems
