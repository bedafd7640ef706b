"""HubSpot's side of the shared CRM state: contacts, properties, lists, owners, activities.

Records are plain dicts shaped like the v3 API's ``SimplePublicObject`` minus rendering, so
the server only filters and pages. Every accepted change goes through ``set_properties`` (or the
list/merge helpers), which stamps the simulated clock and writes the write log.
"""

from __future__ import annotations

import math
import threading
import zoneinfo
from collections.abc import Callable
from typing import Any

from hub.sandbox.clock import DAY_MS, SimClock, iso_ms, parse_datetime_ms
from hub.sandbox.hubspot_index import CONTACT_FAST, ENGAGEMENT_FAST, RecordIndex
from hub.sandbox.hubspot_stamps import remember_stamp
from hub.sandbox.writelog import WriteLog

HUB_FIELDS = {
    "hub_next_best_action": "next_best_action",
    "hub_best_send_time": "best_send_time",
    "hub_best_channel": "best_channel",
    "hub_decision_id": "decision_id",
}
#: HubSpot defines a contact's ``numemployees`` ("Number of Employees") as enumeration/select,
#: a dropdown of ranges, and ``annualrevenue`` as string/text (its contact properties as
#: hull/hull-connectors records them in its hubspot tests; a portal's property dump in
#: hairsolutionsco/automations_hub lists the size among the enumerations). A portal edits the
#: options; these are the bands the hub prices deals by (decision/deal_value.py), each with its
#: largest count (None: no top). HubSpot's own default options are not confirmed here.
EMPLOYEE_RANGES = (
    ("1-10", 10),
    ("11-50", 50),
    ("51-200", 200),
    ("201-1000", 1000),
    ("1001-5000", 5000),
    ("5001+", None),
)
LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "customer")
OWNER_IDS = ("71001", "71002", "71003", "71004", "71005")
FORM_GUID = "5e3c2a1b-0000-4000-8000-00000000f0a1"
# object -> contact association: (v3 type name, v4 HUBSPOT_DEFINED typeId), from HubSpot's
# v4 associations guide, "Association type ID values" (deal to contact 3, call 194, meeting 200)
ENGAGEMENT_TYPES = {  # object type names and ids -> the table that holds them
    "meetings": "meetings",
    "0-47": "meetings",
    "calls": "calls",
    "0-48": "calls",
    "deals": "deals",
    "0-3": "deals",
}
ASSOCIATION_TYPES = {
    "meetings": ("meeting_event_to_contact", 200),
    "calls": ("call_to_contact", 194),
    "deals": ("deal_to_contact", 3),
}


def _prop(
    name: str,
    label: str,
    type_: str = "string",
    field_type: str = "text",
    group: str = "contactinformation",
    options: list[str] | None = None,
    read_only: bool = False,
) -> dict[str, Any]:
    """A HubSpot-defined property as ``GET /crm/v3/properties/contacts`` lists it, with its
    ``modificationMetadata`` (amp-labs/connectors' recorded answer,
    providers/hubspot/test/metadata-contacts-properties-sampled.json): ``readOnlyValue`` is
    true for what HubSpot sets itself, and a write to it is refused (READ_ONLY_VALUE)."""
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": "",
        "hubspotDefined": True,
        "hidden": False,
        "formField": False,
        "calculated": False,
        "externalOptions": False,
        "archived": False,
        "modificationMetadata": {"archivable": True, "readOnlyDefinition": True, "readOnlyValue": read_only},
        "options": [{"label": o, "value": o, "hidden": False, "displayOrder": i} for i, o in enumerate(options or [])],
        "createdAt": "2020-01-01T00:00:00Z",
        "updatedAt": "2020-01-01T00:00:00Z",
    }


def hubspot_zone(name: str) -> str:
    """An IANA zone as HubSpot's ``hs_timezone`` holds it: ``America/Port-au-Prince`` is
    ``america_slash_port_hyphen_au_hyphen_prince``."""
    return name.lower().replace("/", "_slash_").replace("-", "_hyphen_")


def _owner_property() -> dict[str, Any]:
    """``hubspot_owner_id``: a dropdown whose options are the portal's owners, not stored with it
    (``externalOptions``, ``referencedObjectType: OWNER``, as the properties API describes
    owner properties; ``HubSpotState.definition`` fills them in)."""
    return _prop("hubspot_owner_id", "Contact owner", "enumeration", "select") | {
        "externalOptions": True,
        "referencedObjectType": "OWNER",
    }


BASE_PROPERTIES = [
    _prop("email", "Email"),
    _prop("firstname", "First Name"),
    _prop("lastname", "Last Name"),
    _prop("company", "Company Name"),
    _prop("jobtitle", "Job Title"),
    _prop("industry", "Industry"),
    # a dropdown of ranges and free text in HubSpot, not numbers (see EMPLOYEE_RANGES)
    _prop("numemployees", "Number of Employees", "enumeration", "select", options=[r for r, _ in EMPLOYEE_RANGES]),
    _prop("annualrevenue", "Annual Revenue"),
    _prop("country", "Country"),
    # a dropdown in HubSpot whose values are slugs of IANA zones ("america_slash_new_york", as
    # integrations that read it convert them); HubSpot's own list of zones is not recorded here,
    # so the options are every zone Python knows
    _prop(
        "hs_timezone",
        "Time Zone",
        "enumeration",
        "select",
        options=sorted(hubspot_zone(z) for z in zoneinfo.available_timezones()),
    ),
    _owner_property(),
    _prop(
        "lifecyclestage",
        "Lifecycle Stage",
        "enumeration",
        "radio",
        options=list(LIFECYCLE) + ["opportunity", "evangelist", "other"],
    ),
    # read-only: an opt-out is made through the subscriptions API, not written (HubSpot's v2
    # groups answer as hull/hull-connectors records it in its hubspot tests: "readOnlyValue": true)
    _prop(
        "hs_email_optout",
        "Unsubscribed from all email",
        "bool",
        "booleancheckbox",
        options=["true", "false"],
        read_only=True,
    ),
    # counted by HubSpot's analytics ("source": "CALCULATED" in recorded v1 contact answers)
    _prop("hs_analytics_num_page_views", "Number of Pageviews", "number", "number", read_only=True),
    _prop("num_conversion_events", "Number of Form Submissions", "number", "number"),
    _prop("recent_conversion_event_name", "Recent Conversion"),
    _prop("last_event_date", "Last event date (free text)"),
    _prop("tech_stack", "Tech stack"),
    _prop("createdate", "Create Date", "datetime", "date", read_only=True),
    _prop("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    _prop("hs_lastmodifieddate", "Object last modified date/time", "datetime", "date", read_only=True),
    _prop("hs_object_id", "Record ID", "number", "number", read_only=True),
    _prop("hs_merged_object_ids", "Merged Record IDs", "enumeration", "checkbox", read_only=True),
]
#: the most characters a string property value may hold (HubSpot properties guide: 65,536)
STRING_MAX = 65_536
#: how far from now a date property's value may be (HubSpot: "more than 1,000 years ago or 1,000
#: years from now" is refused); counted in Gregorian years
THOUSAND_YEARS_MS = int(1000 * 365.2425 * DAY_MS)


def employee_range(count: int) -> str:
    """The ``numemployees`` option a company of ``count`` people is filed under."""
    return next(name for name, top in EMPLOYEE_RANGES if top is None or count <= top)


def read_only(definition: dict[str, Any]) -> bool:
    """Does HubSpot refuse writes to this property's value (``modificationMetadata``)?"""
    return bool((definition.get("modificationMetadata") or {}).get("readOnlyValue"))


def valid_email(value: str) -> bool:
    """Could HubSpot store this as a contact's ``email``? HubSpot answers INVALID_EMAIL "Email
    address <value> is invalid" for a value with no "@" ("example.lcom "), nothing after it
    ("dsfsafas@") or a blank around it ("lenka_kurt@yahoo.de ", a v1 import log), as seen live
    (frank-quoc/TalentLMS_HS_Integration README; Atlas-Authority/marketing-automation#174). It
    also refuses top-level domains that do not exist ("example.con", "dennisedson.cpm"); that
    list is HubSpot's and is not modelled here: any alphabetic TLD of two letters or more passes."""
    local, _, domain = value.rpartition("@")
    labels = domain.split(".")
    return (
        bool(local)
        and "@" not in local
        and not any(c.isspace() for c in value)
        and len(labels) >= 2
        and all(labels)
        and labels[-1].isalpha()
        and len(labels[-1]) >= 2
    )


class HubSpotState:
    """One HubSpot portal. All methods expect the caller to hold ``lock``."""

    def __init__(
        self,
        clock: SimClock,
        log: WriteLog,
        on_hub_fields: Callable[[str, int, dict[str, Any]], None] | None = None,
    ) -> None:
        self.clock, self.log = clock, log
        self.on_hub_fields = on_hub_fields
        self.on_list_add: Callable[[str, int, str], None] | None = None
        self.lock = threading.RLock()
        self.portal_id = 4242
        self.records: dict[str, dict[str, Any]] = {}
        self.person_of: dict[str, int] = {}
        self.id_of_person: dict[int, str] = {}
        self.merged: dict[str, str] = {}
        self.properties: dict[str, dict[str, Any]] = {p["name"]: p for p in BASE_PROPERTIES}
        self.groups: dict[str, dict[str, Any]] = {
            "contactinformation": {
                "name": "contactinformation",
                "label": "Contact information",
                "displayOrder": 0,
                "archived": False,
            }
        }
        self.lists: dict[str, dict[str, Any]] = {}
        self.owners = [
            {
                "id": oid,
                "email": f"rep{k}@sandbox.example.com",
                "firstName": f"Rep{k}",
                "lastName": "Sandbox",
                "userId": 9000 + k,
                "userIdIncludingInactive": 9000 + k,
                "type": "PERSON",
                "archived": False,
                "teams": [],
                "createdAt": "2020-01-01T00:00:00Z",
                "updatedAt": "2020-01-01T00:00:00Z",
            }
            for k, oid in enumerate(OWNER_IDS)
        ]
        self.email_events: list[dict[str, Any]] = []
        self.form_submissions: list[dict[str, Any]] = []  # every form's, each with its formGuid
        self.forms: list[dict[str, Any]] = [
            {"id": FORM_GUID, "name": "Content download", "formType": "hubspot", "archived": False}
        ]
        self.engagements: dict[str, dict[str, dict[str, Any]]] = {"meetings": {}, "calls": {}, "deals": {}}
        # ids search does not return yet: HubSpot's index is eventually consistent, and not in
        # modification order, so a record can surface after newer ones were already found
        self.late_index: set[str] = set()
        self.version = 0  # bumped by every record change; invalidates the index
        self.engagement_versions = dict.fromkeys(self.engagements, 0)  # the same, per engagement type
        self._indexes: dict[str, RecordIndex] = {}
        self._next_id = 1001
        self._next_list = 1
        self._next_engagement = 5_000_001

    # ---- records -------------------------------------------------------------------------
    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id - 1)

    def add_record(self, props: dict[str, Any], person: int | None, at_ms: int) -> str:
        rid = self.new_id()
        p = {k: (None if v is None else str(v)) for k, v in self.stored(props).items()}
        p.update({"hs_object_id": rid, "createdate": None, "lastmodifieddate": None})
        self.records[rid] = {
            "id": rid,
            "properties": p,
            "createdAt": at_ms,
            "updatedAt": at_ms,
            "archived": False,
            "archivedAt": None,
            "person": person,
        }
        self._stamp(rid, at_ms, created=True)
        if person is not None:
            self.person_of[rid] = person
            self.id_of_person.setdefault(person, rid)
        return rid

    def _stamp(self, rid: str, at_ms: int, created: bool = False) -> None:
        self.version += 1
        rec = self.records[rid]
        rec["updatedAt"] = at_ms
        remember_stamp(rec, at_ms)
        rec["properties"]["lastmodifieddate"] = iso_ms(at_ms)
        rec["properties"]["hs_lastmodifieddate"] = iso_ms(at_ms)
        if created:
            rec["properties"]["createdate"] = iso_ms(at_ms)

    def index(self, kind: str = "contacts") -> RecordIndex:
        """The columnar index of contacts (or of one engagement type), rebuilt only after changes."""
        if kind == "contacts":
            table, version, fast = self.records, self.version, CONTACT_FAST
        else:
            table, version, fast = self.engagements[kind], self.engagement_versions[kind], ENGAGEMENT_FAST
        idx = self._indexes.get(kind)
        if idx is None or idx.version != version:
            idx = self._indexes[kind] = RecordIndex.build(table, version, fast)
        return idx

    def resolve(self, rid: str) -> str | None:
        """Follow merges; None when the id never existed."""
        seen = 0
        while rid in self.merged and seen < 10:
            rid, seen = self.merged[rid], seen + 1
        return rid if rid in self.records else None

    def live(self, rid: str) -> dict[str, Any] | None:
        r = self.resolve(rid)
        rec = self.records.get(r) if r else None
        return rec if rec and not rec["archived"] else None

    def validate(self, props: dict[str, Any]) -> str | None:
        """A HubSpot-like message for the first bad property value, or None."""
        bad = self.invalid(props)
        return bad[0][2] if bad else None

    def invalid(self, props: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(property, HubSpot's ``error`` code, HubSpot-like message) for each bad property value."""
        out = []
        for k, v in props.items():
            bad = self._check(k, v)
            if bad:
                out.append((k, *bad))
        return out

    def _check(self, k: str, v: Any) -> tuple[str, str] | None:
        d = self.properties.get(k)
        if d is None:
            return "PROPERTY_DOESNT_EXIST", f'Property "{k}" does not exist'
        if read_only(d):
            return "READ_ONLY_VALUE", f'Property "{k}" is read-only'
        if v in (None, ""):
            return None
        if d["type"] == "string" and len(str(v)) > STRING_MAX:
            # the limit is HubSpot's (properties guide: 65,536 characters); the wording is ours
            return "INVALID_VALUE", f'value for "{k}" is {len(str(v))} characters; the limit is {STRING_MAX}'
        if d["type"] != "string" and isinstance(v, str) and v != v.strip():
            # since 2025-01-06 HubSpot refuses these on every non-string property (changelog
            # "Enhanced Validations for Non-String Properties in HubSpot's CRMObject APIs")
            return "LEADING_TRAILING_WHITESPACE", f'"{v}" includes leading or trailing whitespace.'
        return self._typed(k, v, d)

    def _typed(self, k: str, v: Any, d: dict[str, Any]) -> tuple[str, str] | None:
        """(HubSpot's error code, message) for a value the property cannot take for its type,
        options, owners or address, or None. INVALID_OPTION, INVALID_INTEGER and INVALID_EMAIL
        carry HubSpot's wording (gregorspan/csc-frodx#21; Atlas-Authority/marketing-automation#206,
        where "was not a valid number." came with INVALID_INTEGER on a number property; #174 for
        INVALID_EMAIL; a bool's "tYES was not one of the allowed options: [true, false]" from an
        SAP-to-HubSpot sync); dates are ``_instant``'s; the other messages are ours."""
        if d["type"] == "number":
            try:
                finite = math.isfinite(float(v))
            except (TypeError, ValueError):
                finite = False
            if not finite:  # NaN and infinity: no decimal HubSpot can store (our assumption)
                return "INVALID_INTEGER", f"{v} was not a valid number."
        if d["type"] == "bool" or (d["type"] == "enumeration" and d["options"]):
            # a bool takes "true" or "false", options or not (INVALID_OPTION "tYES was not one of
            # the allowed options: [true, false]", as an SAP-to-HubSpot sync met it)
            allowed = [o["value"] for o in d["options"]] or ["true", "false"]
            text = {True: "true", False: "false"}.get(v, str(v)) if isinstance(v, bool) else str(v)
            vals = text.split(";") if d["fieldType"] == "checkbox" else [text]
            bad = [x for x in vals if x not in allowed]
            if bad:
                return "INVALID_OPTION", f"{bad[0]} was not one of the allowed options: [{', '.join(allowed)}]"
        if k == "email" and not valid_email(str(v)):
            return "INVALID_EMAIL", f"Email address {v} is invalid"
        if k == "hubspot_owner_id" and str(v) not in self.active_owner_ids():
            # the code as integrations report it (a HubSpot Community thread: contacts created
            # with a user id "failing with an invalid_owner_id error"); the message is ours
            return "INVALID_OWNER_ID", f"{v!r} is not a valid owner id"
        if d["type"] in ("datetime", "date"):
            return self._instant(v, d["type"])
        return None

    def _instant(self, v: Any, kind: str) -> tuple[str, str] | None:
        """HubSpot's refusal of a datetime or date value, in its codes and words: what is not an
        ISO date is read as epoch ms, "X was not a valid long." (INVALID_LONG, recorded on
        createdate in a HubSpot sync error and met by WP Fusion); a date must be midnight UTC,
        "1579179660000 is at 13:1:0.0 UTC, not midnight!" (INVALID_DATE, recorded in a HubSpot
        client's source), and within 1,000 years of now (INVALID_DATE, as a Rails app met it).
        The 1,000-year rule on a datetime is not recorded, so it is not enforced there."""
        try:
            ms = parse_datetime_ms(v)
        except (TypeError, ValueError, OverflowError):
            return "INVALID_LONG", f"{v} was not a valid long."
        if kind != "date":
            return None
        if ms % DAY_MS:
            t = ms % DAY_MS
            return (
                "INVALID_DATE",
                f"{ms} is at {t // 3_600_000}:{t // 60_000 % 60}:{t // 1000 % 60}.{t % 1000} UTC, not midnight!",
            )
        if abs(ms - self.clock.peek_ms()) > THOUSAND_YEARS_MS:
            return "INVALID_DATE", f"{ms} is more than 1,000 years ago or 1,000 years from now."
        return None

    def definition(self, name: str) -> dict[str, Any] | None:
        """A property as the properties API answers it: an owner property lists the active
        owners as its options, by owner ``id`` (what a record's value must be)."""
        d = self.properties.get(name)
        if d is None or d.get("referencedObjectType") != "OWNER":
            return d
        owners = [o for o in self.owners if not o["archived"]]
        options = [
            {"label": f"{o['firstName']} {o['lastName']}", "value": o["id"], "displayOrder": i, "hidden": False}
            for i, o in enumerate(owners)
        ]
        return d | {"options": options}

    # ---- owners --------------------------------------------------------------------------
    def active_owner_ids(self) -> set[str]:
        """Owner ids a record can be assigned to: those not archived. HubSpot archives the owner
        of a deactivated user (owners guide: only ``archived=true`` lists them, with ``userId``
        null); that an archived owner is then refused like an unknown id is our assumption, since
        the guide says only that a non-owner id "will result in an error"."""
        return {o["id"] for o in self.owners if not o["archived"]}

    def archive_owner(self, owner_id: str) -> None:
        """Deactivate the owner's user, as an admin does in HubSpot: the owner is archived and
        keeps its user id only in ``userIdIncludingInactive``."""
        owner = next(o for o in self.owners if o["id"] == owner_id)
        owner.update({"archived": True, "userId": None, "updatedAt": iso_ms(self.clock.now_ms())})

    def stored(self, props: dict[str, Any]) -> dict[str, Any]:
        """Values as HubSpot keeps them: datetime and date properties as instants, returned as
        ISO UTC. HubSpot reads a bare number as epoch milliseconds, so an hour written as "14"
        becomes 1970-01-01T00:00:00.014Z (its timestamp FAQ: the APIs take UNIX ms; date
        properties must be midnight UTC). Call after ``validate``."""
        out = dict(props)
        for k, v in props.items():
            d = self.properties.get(k)
            if d is not None and d["type"] in ("datetime", "date") and v not in (None, ""):
                out[k] = iso_ms(parse_datetime_ms(v))
        return out

    def set_properties(self, rid: str, props: dict[str, Any], endpoint: str, source: str = "api") -> bool:
        """Apply changed values; stamp and log only when something changed."""
        rec = self.records[rid]
        at = self.clock.now_ms()
        changed: dict[str, Any] = {}
        for k, v in self.stored(props).items():
            new = None if v is None else ("true" if v is True else "false" if v is False else str(v))
            old = rec["properties"].get(k)
            if old != new:
                rec["properties"][k] = new
                changed[k] = new
                kind = "owner" if k == "hubspot_owner_id" else "field"
                if source == "api":
                    self.log.record(at, "hubspot", endpoint, "contact", rid, kind, k, old, new)
        if changed:
            self._stamp(rid, at)
            hub = {HUB_FIELDS[k]: v for k, v in changed.items() if k in HUB_FIELDS}
            person = self.person_of.get(rid)
            if hub and person is not None and self.on_hub_fields and source == "api":
                full = {HUB_FIELDS[k]: rec["properties"].get(k) for k in HUB_FIELDS}
                full["_changed"] = sorted(hub)
                self.on_hub_fields("hubspot", person, full)
        return bool(changed)

    def merge(self, primary: str, merged: str) -> str:
        """Merge two contacts as HubSpot does since its 2024 merge change: a NEW record with a
        new id replaces both; the primary's values win, the other fills gaps; both old ids
        resolve to the new record and are listed in ``hs_merged_object_ids``. Returns the new id.
        """
        at = self.clock.now_ms()
        first, second = self.records.pop(primary), self.records.pop(merged)
        props = {k: v for k, v in second["properties"].items() if v not in (None, "")}
        props.update({k: v for k, v in first["properties"].items() if v not in (None, "")})
        old_ids = [
            x for rec in (first, second) for x in (rec["properties"].get("hs_merged_object_ids") or "").split(";") if x
        ]
        rid = self.new_id()
        props.update({"hs_object_id": rid, "hs_merged_object_ids": ";".join(old_ids + [primary, merged])})
        person = first.get("person")
        self.records[rid] = {
            "id": rid,
            "properties": props,
            "createdAt": first["createdAt"],
            "updatedAt": at,
            "archived": False,
            "archivedAt": None,
            "person": person,
        }
        self._stamp(rid, at)
        for old in (primary, merged):
            self.merged[old] = rid
            p = self.person_of.pop(old, None)
            if p is not None:
                self.person_of[rid] = p
                if self.id_of_person.get(p) == old:
                    self.id_of_person[p] = rid
        for lst in self.lists.values():
            for old in (primary, merged):
                if old in lst["members"]:
                    lst["members"].setdefault(rid, lst["members"].pop(old))
        for table in self.engagements.values():
            for e in table.values():
                e["contacts"] = [rid if c in (primary, merged) else c for c in e["contacts"]]
        self.log.record(at, "hubspot", "merge", "contact", rid, "merge", None, [primary, merged], rid)
        return rid

    def archive(self, rid: str, endpoint: str = "api") -> None:
        at = self.clock.now_ms()
        rec = self.records[rid]
        rec["archived"], rec["archivedAt"] = True, at
        self.version += 1
        self._stamp(rid, at)
        self.log.record(at, "hubspot", endpoint, "contact", rid, "delete", None, None, None)

    def gdpr_delete(self, rid: str, endpoint: str = "api") -> None:
        """Delete a contact for privacy, as HubSpot's GDPR delete does: gone for good (not in
        the archived list a sync walks, not found by id), out of every list and engagement
        association. HubSpot then sends ``contact.privacyDeletion`` to webhook subscribers."""
        at = self.clock.now_ms()
        self.records.pop(rid)
        person = self.person_of.pop(rid, None)
        if person is not None and self.id_of_person.get(person) == rid:
            del self.id_of_person[person]
        for old in [k for k, v in self.merged.items() if v == rid]:
            del self.merged[old]
        for lst in self.lists.values():
            lst["members"].pop(rid, None)
        for table in self.engagements.values():
            for e in table.values():
                e["contacts"] = [c for c in e["contacts"] if c != rid]
        self.version += 1
        self.log.record(at, "hubspot", endpoint, "contact", rid, "gdpr_delete", None, None, None)

    # ---- lists ---------------------------------------------------------------------------
    def create_list(self, name: str, processing_type: str, object_type_id: str) -> dict[str, Any]:
        at = self.clock.now_ms()
        lid = str(self._next_list)
        self._next_list += 1
        lst = {
            "listId": lid,
            "name": name,
            "processingType": processing_type,
            "objectTypeId": object_type_id,
            "processingStatus": "COMPLETE",
            "listVersion": 1,
            "createdAt": at,
            "updatedAt": at,
            "members": {},
        }
        self.lists[lid] = lst
        self.log.record(at, "hubspot", "lists", "list", lid, "create", "name", None, name)
        return lst

    def change_membership(self, lid: str, add: list[str], remove: list[str], endpoint: str) -> dict[str, list[str]]:
        lst = self.lists[lid]
        at = self.clock.now_ms()
        added, removed, missing = [], [], []
        for raw in add:
            rid = self.resolve(str(raw))
            if rid is None or self.records[rid]["archived"]:
                missing.append(str(raw))
            elif rid not in lst["members"]:
                lst["members"][rid] = at
                added.append(rid)
                person = self.person_of.get(rid)
                if self.on_list_add and person is not None:
                    self.on_list_add("hubspot", person, lst["name"])
                self.log.record(at, "hubspot", endpoint, "contact", rid, "list_add", lid, None, lst["name"])
        for raw in remove:
            rid = self.resolve(str(raw))
            if rid is None:
                missing.append(str(raw))
            elif rid in lst["members"]:
                del lst["members"][rid]
                removed.append(rid)
                self.log.record(at, "hubspot", endpoint, "contact", rid, "list_remove", lid, lst["name"], None)
        if added or removed:
            lst["updatedAt"] = at
            lst["listVersion"] += 1
        return {"recordsIdsAdded": added, "recordIdsRemoved": removed, "recordIdsMissing": missing}

    # ---- activities ----------------------------------------------------------------------
    def add_engagement(self, kind: str, contact_id: str, at_ms: int, props: dict[str, Any]) -> str:
        eid = str(self._next_engagement)
        self._next_engagement += 1
        stamp = self.clock.now_ms()
        p = {
            "hs_timestamp": iso_ms(at_ms),
            "hs_createdate": iso_ms(stamp),
            "hs_lastmodifieddate": iso_ms(stamp),
            "hs_object_id": eid,
        }
        p.update({k: str(v) for k, v in props.items()})
        assoc_type = ASSOCIATION_TYPES[kind][0]
        self.engagement_versions[kind] += 1
        self.engagements[kind][eid] = {
            "id": eid,
            "properties": p,
            "createdAt": stamp,
            "updatedAt": stamp,
            "stamps": [stamp],
            "archived": False,
            "contacts": [contact_id],
            "assoc_type": assoc_type,
        }
        return eid

    def add_deal(self, contact_id: str, at_ms: int, name: str, amount: float) -> str:
        """A deal opened for one contact in the default pipeline, as a rep creates it:
        ``createdate`` is when it opened; HubSpot also stamps ``hs_lastmodifieddate``."""
        props = {
            "dealname": name,
            "amount": f"{amount:.2f}",
            "dealstage": "qualifiedtobuy",
            "pipeline": "default",
            "createdate": iso_ms(at_ms),
            "closedate": iso_ms(at_ms + 30 * 86_400_000),
            "hs_is_closed": "false",
            "hs_is_closed_won": "false",
        }
        return self.add_engagement("deals", contact_id, at_ms, props)

    def close_deal(self, eid: str, won: bool, at_ms: int) -> None:
        """The default pipeline's closing stages; ``hs_is_closed(_won)`` are HubSpot's
        calculated properties that follow the stage."""
        stage = "closedwon" if won else "closedlost"
        flags = {"hs_is_closed": "true", "hs_is_closed_won": "true" if won else "false"}
        self.update_engagement("deals", eid, {"dealstage": stage, "closedate": iso_ms(at_ms), **flags})

    def update_engagement(self, kind: str, eid: str, props: dict[str, Any]) -> None:
        """A rep sets an outcome after the fact (a meeting marked COMPLETED the next day):
        the record's ``hs_lastmodifieddate`` moves, its id does not."""
        self.update_engagements(kind, [eid], props)

    def update_engagements(self, kind: str, eids: list[str], props: dict[str, Any]) -> None:
        """One write to many records (an import, a workflow, a bulk edit): every one of them
        gets the same ``hs_lastmodifieddate``, to the millisecond."""
        stamp = self.clock.now_ms()
        self.engagement_versions[kind] += 1
        for eid in eids:
            rec = self.engagements[kind][eid]
            rec["properties"].update({k: str(v) for k, v in props.items()})
            rec["properties"]["hs_lastmodifieddate"] = iso_ms(stamp)
            rec["updatedAt"] = stamp
            remember_stamp(rec, stamp)
