"""Salesforce's side of the shared CRM state: sObjects by type, describe metadata, conversion.

Records are flat dicts of field values keyed by Id; relationship fields (``Account.Industry``)
are resolved at query time through the ``*Id`` lookups. Deleted records stay with
``IsDeleted = true`` so queryAll can see them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from hub.fields import HUB_FIELDS as _HUB_FIELD_SPECS
from hub.sandbox.clock import SimClock, parse_datetime_ms, sf_datetime
from hub.sandbox.salesforce_fields import FieldSpec, base_spec, coerce, describe_entry, value_problem
from hub.sandbox.salesforce_recycle import RecycleBin
from hub.sandbox.writelog import WriteLog

# The custom fields the hub writes on Contact and Lead: ``next_best_action`` ->
# ``Hub_Next_Best_Action__c``. A new org has none of them (``SalesforceState.absent``) until
# `hub connectors setup` creates them, or the sandbox is told its admin already did.
HUB_FIELDS = {"Hub_" + "_".join(p.capitalize() for p in f.name.split("_")) + "__c": f.name for f in _HUB_FIELD_SPECS}
PREFIX = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "User": "005",
    "Campaign": "701",
    "CampaignMember": "00v",
    "Task": "00T",
    "Event": "00U",
    "Opportunity": "006",
    "PermissionSet": "0PS",
    "FieldPermissions": "01k",
    "PermissionSetAssignment": "0Pa",
    "Organization": "00D",
    "Profile": "00e",
    "CampaignMemberStatus": "01Y",
    "Group": "00G",
}
SYSTEM = ["Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp"]
_PERSON = [
    "FirstName",
    "LastName",
    "Name",
    "Email",
    "Title",
    "OwnerId",
    "HasOptedOutOfEmail",
    "DoNotCall",
    "LeadSource",
    "Last_Event_Date__c",
    "MasterRecordId",  # set on the losing record of a merge, which is deleted
    *HUB_FIELDS,
]
FIELDS: dict[str, list[str]] = {
    "Account": [
        "Name",
        "Industry",
        "NumberOfEmployees",
        "AnnualRevenue",
        "BillingCountry",
        "OwnerId",
        "Tech_Stack__c",
    ],
    "Contact": _PERSON + ["AccountId"],
    "Lead": _PERSON
    + [
        "Company",
        "Industry",
        "NumberOfEmployees",
        "AnnualRevenue",
        "Country",
        "Status",
        "IsConverted",
        "ConvertedContactId",
        "ConvertedAccountId",
        "ConvertedOpportunityId",
        "ConvertedDate",
    ],
    "User": [
        "Username",
        "FirstName",
        "LastName",
        "Name",
        "Email",
        "IsActive",
        "Alias",
        "TimeZoneSidKey",
        "LocaleSidKey",
        "EmailEncodingKey",
        "ProfileId",
        "LanguageLocaleKey",
    ],
    "Campaign": ["Name", "IsActive", "Status", "Type"],
    "CampaignMember": ["CampaignId", "LeadId", "ContactId", "Status"],
    # each Campaign's member statuses: a new Campaign gets Sent (the default) and Responded
    "CampaignMemberStatus": ["CampaignId", "Label", "IsDefault", "HasResponded", "SortOrder"],
    "Task": [
        "WhoId",
        "WhatId",
        "Subject",
        "TaskSubtype",
        "Status",
        "ActivityDate",
        "OwnerId",
        "Description",
    ],
    "Event": [
        "WhoId",
        "WhatId",
        "Subject",
        "StartDateTime",
        "EndDateTime",
        "ActivityDateTime",
        "DurationInMinutes",
        "OwnerId",
    ],
    "Opportunity": [
        "Name",
        "AccountId",
        "Amount",
        "StageName",
        "CloseDate",
        "IsClosed",
        "IsWon",
        "OwnerId",
        "ContactId",
        "ContactId__c",
    ],
    # field-level security (salesforce_fls.py): who may read and edit which field
    "PermissionSet": ["Name", "Label"],
    "FieldPermissions": ["ParentId", "SobjectType", "Field", "PermissionsRead", "PermissionsEdit"],
    "PermissionSetAssignment": ["PermissionSetId", "AssigneeId"],
    # the org itself, one record: its default time zone (Setup > Company Information) is
    # TimeZoneSidKey, an IANA name; readable with "View Setup and Configuration" only
    "Organization": ["Name", "TimeZoneSidKey"],
    # every User has one; this org has the two a new one is given to people (PROFILES)
    "Profile": ["Name"],
    # queues (Type "Queue") own Leads; this org has one (LEAD_QUEUE_ID)
    "Group": ["Name", "Type"],
}
#: the writes the API may make to each object's rows, as describe's createable / updateable /
#: deletable say: the Organization is read-only to the API (its settings change in Setup), and a
#: User is deactivated, never deleted. Every DML path checks it (``check_writable``).
WRITES: dict[str, frozenset[str]] = {t: frozenset({"insert", "update", "delete"}) for t in FIELDS} | {
    "Organization": frozenset(),
    "User": frozenset({"insert", "update"}),
    "Profile": frozenset(),  # made and changed in Setup here
    # Object Reference, CampaignMemberStatus: describeLayout, describeSObjects, getDeleted,
    # getUpdated, query, retrieve (no DML): statuses are edited on the Campaign in Setup
    "CampaignMemberStatus": frozenset(),
    "Group": frozenset(),  # queues are made in Setup here
}
_DONE = {"insert": "inserted", "update": "updated", "delete": "deleted"}
#: the one Organization record's id (the id counter starts at 1: no other record takes it)
ORGANIZATION_ID = f"{PREFIX['Organization']}Hb{0:010d}AAA"
#: the org's profiles by name, with fixed ids (made outside the id counter, as the Organization)
LEAD_QUEUE_ID = f"{PREFIX['Group']}Hb{0:010d}AAA"
#: the objects a queue may own besides users (Object Reference: Lead's OwnerId "Refers To Group,
#: User"; Contact's, Account's and Opportunity's refer to User only)
QUEUE_OWNED = frozenset({"Lead"})
PROFILES = {
    name: f"{PREFIX['Profile']}Hb{k:010d}AAA" for k, name in enumerate(("System Administrator", "Standard User"))
}
ARCHIVE_AFTER_MS = 365 * 86_400_000  # activities older than a year are archived: queryAll only
READ_ONLY = {
    "MasterRecordId",
    "Id",
    "IsDeleted",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
    "ConvertedContactId",
    "ConvertedAccountId",
    "ConvertedOpportunityId",
    "ConvertedDate",
}
#: fields Salesforce computes on some objects only: a person's compound Name (FirstName and
#: LastName) and an Opportunity's IsClosed / IsWon (from its stage); an Account's Name is text
COMPUTED: dict[str, set[str]] = {
    "Contact": {"Name"},
    "Lead": {"Name"},
    "User": {"Name"},
    "Opportunity": {"IsClosed", "IsWon"},
}
#: fields an insert must set (describe: createable, neither nillable nor defaulted on create), in
#: the order Salesforce names them in REQUIRED_FIELD_MISSING: a bare User's error lists all nine
#: (Ph33rr/cirrusgo#10); Object Reference: Lead.Company, Account.Name, Campaign.Name and an
#: Opportunity's Name, StageName and CloseDate are "Required" (PermissionSet: salesforce_fls.py)
REQUIRED: dict[str, tuple[str, ...]] = {
    "Account": ("Name",),
    "Contact": ("LastName",),
    "Lead": ("LastName", "Company"),
    "User": (
        "Username",
        "LastName",
        "Email",
        "Alias",
        "TimeZoneSidKey",
        "LocaleSidKey",
        "EmailEncodingKey",
        "ProfileId",
        "LanguageLocaleKey",
    ),
    "Campaign": ("Name",),
    "Opportunity": ("Name", "StageName", "CloseDate"),
}
#: fields set when a record is made and never after (describe: createable, not updateable): a
#: CampaignMember joins one person to one campaign for good; moving them is a delete and a create.
#: A Lead may be inserted converted (imports of leads converted elsewhere; Object Reference, Lead:
#: IsConverted is "Create, Defaulted on create"); only convertLead() converts an existing one. The
#: Converted*Id / ConvertedDate fields stay read-only: setting them on insert takes the audit-field
#: permission Salesforce Support turns on, which this org's API user has not.
CREATE_ONLY: dict[str, set[str]] = {"CampaignMember": {"CampaignId", "ContactId", "LeadId"}, "Lead": {"IsConverted"}}
REFERENCE = {
    "AccountId": "Account",
    "OwnerId": "User",
    "CampaignId": "Campaign",
    "LeadId": "Lead",
    "ContactId": "Contact",
    "WhoId": "Contact",
    "WhatId": "Account",
    "ConvertedContactId": "Contact",
    "ConvertedAccountId": "Account",
    "ParentId": "PermissionSet",
    "PermissionSetId": "PermissionSet",
    "AssigneeId": "User",
    "ProfileId": "Profile",
}
BOOLEAN = {
    "IsDeleted",
    "HasOptedOutOfEmail",
    "DoNotCall",
    "IsConverted",
    "IsActive",
    "IsClosed",
    "IsWon",
    "PermissionsRead",
    "PermissionsEdit",
    "IsDefault",
    "HasResponded",
}
DATETIME = {
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
    "StartDateTime",
    "EndDateTime",
    "ActivityDateTime",
} | {k for k, v in HUB_FIELDS.items() if v == "best_send_time"}


def reference_targets(sobject: str, field: str) -> frozenset[str]:
    """The objects a lookup of ``sobject`` may point at: an activity's WhoId a Contact or a Lead,
    its WhatId any of the sandbox's objects Salesforce lists for it (Object Reference, Task), a
    Lead's owner a User or a queue (Group); else the one REFERENCE names."""
    if field == "WhoId":
        return frozenset({"Contact", "Lead"})
    if field == "WhatId":
        return frozenset({"Account", "Opportunity", "Campaign"})
    if field == "OwnerId" and sobject in QUEUE_OWNED:
        return frozenset({"Group", "User"})
    return frozenset({REFERENCE[field]}) if field in REFERENCE else frozenset()


def read_only(sobject: str, field: str) -> bool:
    """No API write may set it, on any record of ``sobject`` (describe: neither createable nor
    updateable)."""
    return field in READ_ONLY or field in COMPUTED.get(sobject, ())


def to_second(ms: int) -> int:
    """Epoch ms cut to the whole second: Salesforce keeps datetimes to the second (its API
    always answers ``.000``; "Datetime fields do not store milliseconds"), and so does this org."""
    return ms - ms % 1000


def label(field: str) -> str:
    """The field's label as describe reports it and error messages name it."""
    return field.replace("__c", "").replace("_", " ")


def sf_date_ms(day: str) -> int:
    """``2026-01-05`` -> epoch ms at its midnight UTC."""
    return parse_datetime_ms(day + "T00:00:00Z")


def event_problem(fields: dict[str, Any]) -> SfError | None:
    """An Event with a start needs its length (Object Reference, Event, EndDateTime: "If
    IsAllDayEvent is false, a value must be supplied for either DurationInMinutes or
    EndDateTime"; no Event here is all-day). Worded as an Apex insert reports it: "Required
    fields are missing: [DurationInMinutes]"."""
    started = fields.get("ActivityDateTime") is not None or fields.get("StartDateTime") is not None
    if started and fields.get("DurationInMinutes") is None and fields.get("EndDateTime") is None:
        return SfError(
            "REQUIRED_FIELD_MISSING", "Required fields are missing: [DurationInMinutes]", ["DurationInMinutes"]
        )
    return None


def _live(rec: dict[str, Any] | None) -> dict[str, Any]:
    if rec is None or rec["IsDeleted"]:
        raise SfError(
            "ENTITY_IS_DELETED" if rec else "INVALID_CROSS_REFERENCE_KEY",
            "entity is deleted" if rec else "invalid cross reference id",
        )
    return rec


def _saved_datetimes(fields: dict[str, Any]) -> dict[str, Any]:
    """Datetime values as Salesforce saves them: to the second, kept as epoch ms (rendered
    ``2026-01-05T10:00:00.000+0000``) whatever form the request wrote them in."""
    out = dict(fields)
    for k, v in fields.items():
        if k not in DATETIME or v is None or isinstance(v, bool):
            continue
        if isinstance(v, int | float):
            out[k] = to_second(int(v))
        elif isinstance(v, str):
            with suppress(ValueError):  # not a datetime: coerce refuses it before
                out[k] = to_second(parse_datetime_ms(v if "T" in v else v + "T00:00:00Z"))
    return out


def check_writable(sobject: str, op: str) -> None:
    """Refuse a write the sObject type does not take, per record, as Salesforce answered a REST
    PATCH of a type describe calls not updateable (400 CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY
    "entity type cannot be updated: <label>", measured for a custom metadata type) and inserts
    the user may not make ("entity type cannot be inserted: Contact"). GK: the words for
    Organization and for deleting a User are not verified; some types answer
    INVALID_TYPE_FOR_OPERATION "entity type X does not support create" instead."""
    if op not in WRITES[sobject]:
        raise SfError("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", f"entity type cannot be {_DONE[op]}: {sobject}")


#: the member statuses Salesforce creates with every Campaign, the default first
DEFAULT_MEMBER_STATUSES = ("Sent", "Responded")


class SfError(Exception):
    """A per-record error in Salesforce's shape."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields or []

    def as_dict(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


def converted_lead() -> SfError:
    """Salesforce's refusal of a write to a converted Lead, or of a record pointing at one (a
    CampaignMember's LeadId, an activity's WhoId): converted leads are read-only without "View
    and Edit Converted Leads" (Object Reference, Lead), and can leave a Campaign but not join one
    (grouparoo/grouparoo#1051); worded as in simple-salesforce#341 and Marketo's sync errors."""
    return SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")


class SalesforceState:
    """One Salesforce org. Callers hold ``lock``."""

    def __init__(
        self,
        clock: SimClock,
        log: WriteLog,
        on_hub_fields: Callable[[str, int, dict[str, Any]], None] | None = None,
        hub_fields: bool = False,
    ) -> None:
        """``hub_fields``: the org's admin already created the hub's custom fields (with
        field-level security for the API user); by default they do not exist, as in a real org."""
        self.clock, self.log, self.on_hub_fields = clock, log, on_hub_fields
        self.on_list_add: Callable[[str, int, str], None] | None = None
        self.lock = threading.RLock()
        self.objects: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in FIELDS}
        self.person_of: dict[str, int] = {}
        self.contact_of_person: dict[int, str] = {}
        self.lead_of_person: dict[int, str] = {}
        self.auto_assign_log: list[tuple[str, str, str]] = []  # (object, id, header value)
        # Fields that exist but no profile grants the API user (as after the Metadata API created
        # them): hidden unless a permission set assigned to ``api_user`` grants them.
        self.no_fls: dict[str, set[str]] = {}
        # Fields that do not exist yet (a new org before `hub connectors setup`): hidden like
        # fields without FLS, until the Metadata API creates them (salesforce_metadata.py).
        self.absent: dict[str, set[str]] = {t: set() for t in FIELDS}
        if not hub_fields:
            for sobject in ("Contact", "Lead"):
                self.absent[sobject] = set(HUB_FIELDS)
        self.api_user: str | None = None
        # An admin's changes to field definitions (a shorter length, a restricted picklist).
        self.field_specs: dict[tuple[str, str], FieldSpec] = {}
        # Rows another transaction holds (a user's save, a trigger, someone's Bulk job): record
        # id -> how many more write attempts that touch it are refused (lock_row).
        self.locks: dict[str, int] = {}
        self.bin = RecycleBin()  # deleted records queryAll still shows (salesforce_recycle.py)
        self._counter = 0
        self._status_counter = 0  # CampaignMemberStatus ids: apart, so they move no other id
        self._tx_open = False  # a request is being served as one transaction (``transaction``)
        self._tx_at: int | None = None  # its stamp, taken at its first write
        for name, pid in PROFILES.items():
            self._add_fixed("Profile", pid, {"Name": name})
        self._add_fixed("Group", LEAD_QUEUE_ID, {"Name": "Lead Queue", "Type": "Queue"})
        at = clock.now_ms()
        self.users = [
            self.create("User", user_fields(f"rep{k}@sandbox.example.com", f"Rep{k}", "Sandbox"), at_ms=at)
            for k in range(5)
        ]
        self.assignment_rule_owner = self.create(
            "User", user_fields("lead-queue@sandbox.example.com", "Lead", "Assignment Queue"), at_ms=at
        )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One Salesforce transaction (a REST write, one sObject Collections call): every row it
        writes gets the same CreatedDate / LastModifiedDate / SystemModstamp, as in Salesforce.
        The stamp is the second of the first write (a request that writes nothing takes no clock
        reading, so it moves no later stamp). Nested calls join the open transaction."""
        if self._tx_open:
            yield
            return
        self._tx_open, self._tx_at = True, None
        try:
            yield
        finally:
            self._tx_open, self._tx_at = False, None

    def stamp(self) -> int:
        """The system stamp of a write now: the open transaction's, else this second's."""
        if not self._tx_open:
            return to_second(self.clock.now_ms())
        if self._tx_at is None:
            self._tx_at = to_second(self.clock.now_ms())
        return self._tx_at

    def new_id(self, sobject: str) -> str:
        self._counter += 1
        return f"{PREFIX[sobject]}Hb{self._counter:010d}AAA"

    def create(
        self,
        sobject: str,
        fields: dict[str, Any],
        endpoint: str = "",
        at_ms: int | None = None,
        person: int | None = None,
    ) -> str:
        at = self.stamp() if at_ms is None else to_second(at_ms)
        rid = self.new_id(sobject)
        rec = {f: None for f in FIELDS[sobject]}
        rec.update(
            {
                "Id": rid,
                "IsDeleted": False,
                "CreatedDate": at,
                "LastModifiedDate": at,
                "SystemModstamp": at,
                "attributes_type": sobject,
            }
        )
        for b in BOOLEAN & set(FIELDS[sobject]):
            rec[b] = False
        rec.update(_saved_datetimes(fields))
        if "FirstName" in rec or "LastName" in rec:
            rec["Name"] = " ".join(x for x in (rec.get("FirstName"), rec.get("LastName")) if x)
        self.objects[sobject][rid] = rec
        if sobject == "Campaign":
            self.set_member_statuses(rid, DEFAULT_MEMBER_STATUSES, at_ms=at)
        if person is not None:
            self.person_of[rid] = person
        if endpoint:
            self.log.record(at, "salesforce", endpoint, sobject, rid, "create", None, None, dict(fields))
        return rid

    def _add_fixed(self, sobject: str, rid: str, fields: dict[str, Any]) -> dict[str, Any]:
        """A record of the org's setup with a fixed id, stamped at the world's start: it takes no
        id or clock reading from other records."""
        at = self.clock.start_ms
        rec = self.objects[sobject][rid] = {
            **{f: None for f in FIELDS[sobject]},
            "Id": rid,
            "IsDeleted": False,
            "CreatedDate": at,
            "LastModifiedDate": at,
            "SystemModstamp": at,
            "attributes_type": sobject,
            **fields,
        }
        return rec

    def set_time_zone(self, zone: str) -> None:
        """The org's default time zone, as the one Organization record holds it (made on first use)."""
        rec = self.objects["Organization"].get(ORGANIZATION_ID)
        if rec is None:
            rec = self._add_fixed("Organization", ORGANIZATION_ID, {"Name": "Sandbox Org"})
        rec["TimeZoneSidKey"] = zone

    def find(self, rid: str) -> tuple[str, dict[str, Any]] | None:
        prefix = rid[:3]
        for t, p in PREFIX.items():
            if p == prefix:
                rec = self.objects[t].get(rid) or self.objects[t].get(rid[:15] + "AAA")
                return (t, rec) if rec else None
        return None

    def lock_row(self, rid: str, attempts: int = 1) -> None:
        """Another transaction holds ``rid`` for the next ``attempts`` writes that touch it."""
        self.locks[rid] = attempts

    def set_member_statuses(
        self, campaign_id: str, labels: list[str] | tuple[str, ...], at_ms: int | None = None
    ) -> None:
        """An admin sets a Campaign's member statuses in Setup: the first is the default and the
        last counts as responded (API 39.0+ wants one of each; Object Reference,
        CampaignMemberStatus). The old ones go."""
        at = self.stamp() if at_ms is None else to_second(at_ms)
        for row in self.objects["CampaignMemberStatus"].values():
            if row["CampaignId"] == campaign_id and not row["IsDeleted"]:
                row.update({"IsDeleted": True, "LastModifiedDate": at, "SystemModstamp": at})
        for k, label in enumerate(labels):
            self._status_counter += 1
            rid = f"{PREFIX['CampaignMemberStatus']}Hb{self._status_counter:010d}AAA"
            fields = {"CampaignId": campaign_id, "Label": label, "SortOrder": k + 1}
            self.objects["CampaignMemberStatus"][rid] = {
                **{f: None for f in FIELDS["CampaignMemberStatus"]},
                **dict.fromkeys(SYSTEM[2:], at),
                **fields,
                "Id": rid,
                "IsDeleted": False,
                "IsDefault": k == 0,
                "HasResponded": k == len(labels) - 1,
                "attributes_type": "CampaignMemberStatus",
            }

    def statuses_of(self, campaign_id: str) -> list[str]:
        """The member statuses a Campaign takes, its default first."""
        rows = [
            r
            for r in self.objects["CampaignMemberStatus"].values()
            if r["CampaignId"] == campaign_id and not r["IsDeleted"]
        ]
        return [r["Label"] for r in sorted(rows, key=lambda r: (not r["IsDefault"], r["SortOrder"]))]

    def member_status(self, campaign_id: str, status: Any) -> str:
        """The Status a CampaignMember gets: the one sent when the Campaign has it, else the
        Campaign's default. Salesforce does not refuse another: "If the specified Status value
        isn't a valid status, the API assigns the default status" (Object Reference,
        CampaignMember, Usage), on create and on update."""
        statuses = self.statuses_of(campaign_id)
        return str(status) if status in statuses else statuses[0]

    def check_lock(self, rid: str) -> None:
        """Salesforce's per-record refusal of a row it could not lock (it waits ~10 s first);
        worded as in jsforce/jsforce#1018. Each refused attempt uses up one of the lock's."""
        left = self.locks.pop(rid, 0)
        if left > 0:
            if left > 1:
                self.locks[rid] = left - 1
            raise SfError("UNABLE_TO_LOCK_ROW", f"unable to obtain exclusive access to this record or 1 records: {rid}")

    def field_access(self, sobject: str) -> tuple[set[str], set[str]]:
        """(fields the API user cannot see, fields it can see but not edit) on ``sobject``."""
        bare = self.no_fls.get(sobject)
        absent = self.absent.get(sobject, set())
        if not bare:
            return set(absent), set()
        assigned = {
            a["PermissionSetId"]
            for a in self.objects["PermissionSetAssignment"].values()
            if not a["IsDeleted"] and a["AssigneeId"] == self.api_user
        }
        read: set[str] = set()
        edit: set[str] = set()
        for fp in self.objects["FieldPermissions"].values():
            if fp["IsDeleted"] or fp["ParentId"] not in assigned or fp["SobjectType"] != sobject:
                continue
            name = str(fp["Field"]).split(".", 1)[-1]
            if fp["PermissionsRead"]:
                read.add(name)
            if fp["PermissionsEdit"]:
                edit.add(name)
        return (bare - read) | absent, (bare & read) - edit

    def spec(self, sobject: str, name: str) -> FieldSpec:
        return self.field_specs.get((sobject, name)) or base_spec(sobject, name, name in REFERENCE)

    def coerce_fields(self, sobject: str, fields: dict[str, Any], raw: bytes = b"") -> dict[str, Any]:
        """Values as Salesforce deserializes them; JsonParserError refuses the whole request."""
        known = set(FIELDS.get(sobject, ())) | set(SYSTEM)
        return {k: coerce(self.spec(sobject, k), v, raw) if k in known else v for k, v in fields.items()}

    def unknown_field(self, sobject: str, fields: dict[str, Any]) -> str | None:
        """The first field of ``fields`` the object lacks or field-level security hides, if any."""
        hidden, _ = self.field_access(sobject)
        skip = {"attributes", "id", "Id"}  # the record's id names it, it is not a field written
        known = set(FIELDS[sobject]) | set(SYSTEM)  # a system field is there, only not writable
        return next((k for k in fields if k not in skip and (k not in known or k in hidden)), None)

    def check_fields(self, sobject: str, fields: dict[str, Any], updating: bool = False) -> None:
        hidden, no_edit = self.field_access(sobject)
        if updating:
            no_edit = no_edit | CREATE_ONLY.get(sobject, set())
        for k, v in fields.items():
            if k == "attributes":
                continue
            if k.lower() == "id" and not updating:
                # Apex's and SOAP's words for it, which sObject Collections inserts give too (a
                # REST row's POST refuses the whole request first: salesforce_server.create_one)
                raise SfError("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"])
            if (k not in FIELDS[sobject] and k not in SYSTEM) or k in hidden:
                # as Salesforce answers a REST write of an unknown field (Force.com-Toolkit-for-NET#90,
                # MinnPost/object-sync-for-salesforce#194); sObject Collections refuse the whole
                # request for it before any record (salesforce_collections._deserialize)
                raise SfError("INVALID_FIELD", f"No such column '{k}' on sobject of type {sobject}", [k])
            if read_only(sobject, k) or k in no_edit:
                raise SfError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {k}. Please check the security "
                    "settings of this field and verify that it is read/write for "
                    "your profile or permission set.",
                    [k],
                )
            if k in REFERENCE and v:
                found = self.find(str(v))
                if not found or found[0] not in reference_targets(sobject, k):
                    raise SfError(
                        "FIELD_INTEGRITY_EXCEPTION" if k == "OwnerId" else "INVALID_CROSS_REFERENCE_KEY",
                        f"{k}: id value of incorrect type: {v}",
                        [k],
                    )
                if k == "OwnerId" and found[0] == "User" and not found[1]["IsActive"]:
                    raise self.inactive_owner(sobject, str(v))
                if found[0] == "Lead" and found[1]["IsConverted"]:
                    raise converted_lead()
            problem = value_problem(self.spec(sobject, k), label(k), v)
            if problem:
                raise SfError(*problem, [k])

    @staticmethod
    def inactive_owner(sobject: str, owner: str) -> SfError:
        """Salesforce's refusal of an inactive user as a record's owner, worded as it answers
        (e.g. "operation performed with inactive user [005…] as owner of contact"). Orgs can
        grant "Update Records with Inactive Owners"; the API user here has no such permission."""
        return SfError(
            "INACTIVE_OWNER_OR_USER", f"operation performed with inactive user [{owner}] as owner of {sobject.lower()}"
        )

    def deactivate_user(self, user_id: str) -> None:
        """An admin deactivates a user (``IsActive`` false): records it owns keep it as owner,
        but it can no longer be assigned one."""
        self.update("User", user_id, {"IsActive": False}, "", source="market")

    def check_update(self, sobject: str, rec: dict[str, Any] | None, fields: dict[str, Any]) -> None:
        """Every per-record refusal of an update (the allOrNone pre-pass runs it too)."""
        check_writable(sobject, "update")
        rec = _live(rec)
        self.check_lock(rec["Id"])
        if sobject == "Lead" and rec["IsConverted"]:
            raise converted_lead()
        self.check_fields(sobject, {k: v for k, v in fields.items() if k != "attributes"}, updating=True)
        if sobject == "User":
            self.check_username(fields.get("Username"), rec["Id"])

    def check_username(self, username: Any, rid: str | None = None) -> None:
        """A Username is unique, whatever its case (Salesforce: across all orgs; here, this one).
        Worded as Salesforce's Setup and API answer it (GK: DUPLICATE_USERNAME, with this text)."""
        if not isinstance(username, str):
            return
        for user in self.objects["User"].values():
            if user["Id"] != rid and str(user["Username"] or "").lower() == username.lower():
                raise SfError(
                    "DUPLICATE_USERNAME",
                    "Duplicate Username.<br>Another user has already selected this username.<br>Please select another.",
                    ["Username"],
                )

    def update(
        self,
        sobject: str,
        rid: str,
        fields: dict[str, Any],
        endpoint: str,
        source: str = "api",
        auto_assign: str | None = None,
        checked: bool = False,
    ) -> None:
        """Change fields. ``source``: "api" (validated, logged, may queue hub actions),
        "market" (the people's own doings) or "system" (automation: SystemModstamp only).
        ``checked``: the caller ran ``check_update`` (it uses up a row lock's attempts once)."""
        rec = self.objects[sobject].get(rid)
        if source == "api" and not checked:
            self.check_update(sobject, rec, fields)
        rec = _live(rec)
        fields = {k: v for k, v in fields.items() if k != "attributes"}
        if source == "api" and sobject == "CampaignMember" and "Status" in fields:
            fields["Status"] = self.member_status(str(rec["CampaignId"]), fields["Status"])
        if source == "api" and sobject == "Lead":
            hv = auto_assign if auto_assign is not None else "(absent)"
            self.auto_assign_log.append((sobject, rid, hv))
            if (auto_assign or "TRUE").upper() != "FALSE":
                fields["OwnerId"] = self.assignment_rule_owner  # assignment rules win
        if isinstance(fields.get("OwnerId"), str):  # Salesforce takes a 15-character id, keeps 18
            fields["OwnerId"] = case_safe_id(fields["OwnerId"])
        fields = _saved_datetimes(fields)
        at = self.stamp()
        changed = {}
        for k, v in fields.items():
            if rec.get(k) != v:
                if source == "api":
                    self.log.record(
                        at,
                        "salesforce",
                        endpoint,
                        sobject,
                        rid,
                        "owner" if k == "OwnerId" else "field",
                        k,
                        rec.get(k),
                        v,
                    )
                rec[k] = v
                changed[k] = v
        if changed:
            # Automation ("system") moves only SystemModstamp, as in Salesforce: a cursor on
            # LastModifiedDate misses those changes.
            rec["SystemModstamp"] = at
            if source != "system":
                rec["LastModifiedDate"] = at
            if "FirstName" in changed or "LastName" in changed:
                rec["Name"] = " ".join(x for x in (rec.get("FirstName"), rec.get("LastName")) if x)
            hub = [HUB_FIELDS[k] for k in changed if k in HUB_FIELDS]
            person = self.person_of.get(rid)
            if hub and person is not None and self.on_hub_fields and source == "api":
                full: dict[str, Any] = {HUB_FIELDS[k]: self.value(rec, k) for k in HUB_FIELDS}
                full["_changed"] = sorted(hub)
                self.on_hub_fields("salesforce", person, full)

    def merge(self, sobject: str, master: str, losers: list[str]) -> None:
        """A user's merge (Setup or SOAP ``merge()``): the losers are deleted with ``MasterRecordId``
        pointing at the master, and their activities and campaign memberships move to it."""
        at = self.stamp()
        ref = "ContactId" if sobject == "Contact" else "LeadId"
        for rid in losers:
            rec = self.objects[sobject][rid]
            rec.update({"IsDeleted": True, "MasterRecordId": master, "LastModifiedDate": at, "SystemModstamp": at})
            self.bin.add(sobject, rid, at)
            self.log.record(at, "salesforce", "merge", sobject, rid, "delete", None, None, None)
            for t, field in (("Task", "WhoId"), ("Event", "WhoId"), ("CampaignMember", ref)):
                for row in self.objects[t].values():
                    if row.get(field) == rid:
                        row[field] = master
                        row["SystemModstamp"] = at
        self.objects[sobject][master]["SystemModstamp"] = at

    def convert_lead(self, lead_id: str, contact_id: str, account_id: str, day: str) -> None:
        """A user converts a Lead into ``contact_id`` (made already, at ``account_id``): the Lead
        is marked converted (read-only from now on), and its campaign memberships gain the
        Contact while keeping the Lead (grouparoo/grouparoo#1051, run against a real org)."""
        converted = {
            "IsConverted": True,
            "ConvertedContactId": contact_id,
            "ConvertedAccountId": account_id,
            "Status": "Closed - Converted",
            "ConvertedDate": day,
        }
        self.update("Lead", lead_id, converted, "convert", source="market")
        for mid, m in self.objects["CampaignMember"].items():
            if m["LeadId"] == lead_id and not m["IsDeleted"]:
                self.update("CampaignMember", mid, {"ContactId": contact_id}, "convert", source="market")

    def archived(self, sobject: str, rec: dict[str, Any]) -> bool:
        """Salesforce archives Events, and closed Tasks, whose date is over a year old."""
        cutoff = self.clock.now_ms() - ARCHIVE_AFTER_MS
        if sobject == "Event":
            at = rec.get("ActivityDateTime") or rec.get("StartDateTime") or rec["CreatedDate"]
            return isinstance(at, int) and at < cutoff
        if sobject == "Task" and rec.get("Status") == "Completed":
            due = rec.get("ActivityDate")
            return (sf_date_ms(due) if isinstance(due, str) else rec["CreatedDate"]) < cutoff
        return False

    def check_delete(self, sobject: str, rec: dict[str, Any] | None) -> None:
        """Every per-record refusal of a delete (the allOrNone pre-pass runs it too)."""
        if rec is None or rec["IsDeleted"]:
            raise SfError("ENTITY_IS_DELETED", "entity is deleted")
        check_writable(sobject, "delete")
        self.check_lock(rec["Id"])

    def delete(self, sobject: str, rid: str, endpoint: str) -> None:
        rec = self.objects[sobject].get(rid)
        self.check_delete(sobject, rec)
        at = self.stamp()
        rec["IsDeleted"] = True
        rec["LastModifiedDate"] = rec["SystemModstamp"] = at
        self.bin.add(sobject, rid, at)
        self.log.record(at, "salesforce", endpoint, sobject, rid, "delete", None, None, None)

    def render(self, sobject: str, rec: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        """A record as the REST API returns it, with ``attributes`` and nested relationships."""
        out: dict[str, Any] = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v59.0/sobjects/{sobject}/{rec['Id']}",
            }
        }
        for f in fields:
            if "." in f:
                rel, sub = f.split(".", 1)
                ref = rec.get(rel + "Id") if rel + "Id" in rec else rec.get(rel)
                target = self.find(str(ref)) if ref else None
                node = out.setdefault(rel, None)
                if target is None:
                    out[rel] = None
                    continue
                if node is None:
                    node = out[rel] = {
                        "attributes": {
                            "type": target[0],
                            "url": f"/services/data/v59.0/sobjects/{target[0]}/{ref}",
                        }
                    }
                node.update({k: v for k, v in self.render(target[0], target[1], [sub]).items() if k != "attributes"})
            else:
                out[f] = self.value(rec, f)
        return out

    @staticmethod
    def value(rec: dict[str, Any], f: str) -> Any:
        v = rec.get(f)
        if f in DATETIME and isinstance(v, int):
            return sf_datetime(v)
        return v

    def describe(self, sobject: str) -> dict[str, Any]:
        hidden, no_edit = self.field_access(sobject)
        writes = WRITES[sobject]
        fields = []
        for f in SYSTEM + FIELDS[sobject]:
            if f in hidden:
                continue  # no field-level security: describe does not list it
            fields.append(
                {
                    "name": f,
                    "label": label(f),
                    "custom": f.endswith("__c"),
                    "updateable": "update" in writes
                    and not read_only(sobject, f)
                    and f not in no_edit
                    and f not in CREATE_ONLY.get(sobject, ()),
                    "createable": "insert" in writes and not read_only(sobject, f) and f not in no_edit,
                    "nillable": f != "Id" and f not in BOOLEAN and f not in REQUIRED.get(sobject, ()),
                    "referenceTo": sorted(reference_targets(sobject, f)),
                    **describe_entry(self.spec(sobject, f)),
                }
            )
        return {
            "name": sobject,
            "label": sobject,
            "custom": False,
            "createable": "insert" in writes,
            "updateable": "update" in writes,
            "deletable": "delete" in writes,
            "queryable": True,
            "keyPrefix": PREFIX[sobject],
            "fields": fields,
            "urls": {"sobject": f"/services/data/v59.0/sobjects/{sobject}"},
        }


def user_fields(username: str, first: str, last: str, profile: str = "Standard User") -> dict[str, Any]:
    """An active User with every field Salesforce requires of one (``REQUIRED``), as an admin
    makes it in Setup: alias from the names, the org's defaults for zone, locale and language."""
    return {
        "Username": username,
        "FirstName": first,
        "LastName": last,
        "Email": username,
        "IsActive": True,
        "Alias": (first[:1] + last.replace(" ", ""))[:8].lower(),
        "TimeZoneSidKey": "America/New_York",
        "LocaleSidKey": "en_US",
        "EmailEncodingKey": "UTF-8",
        "ProfileId": PROFILES[profile],
        "LanguageLocaleKey": "en_US",
    }


def case_safe_id(sf_id: str) -> str:
    """Salesforce's 18-character form of a 15-character id (what its API always returns): per
    block of five characters, a letter whose bit i says whether character i is upper case."""
    if len(sf_id) != 15:
        return sf_id
    blocks = [sf_id[k : k + 5] for k in range(0, 15, 5)]
    flags = ["".join("1" if c.isupper() else "0" for c in reversed(b)) for b in blocks]
    return sf_id + "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[int(f, 2)] for f in flags)
