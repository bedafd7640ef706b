"""One declaration per Salesforce object the connector reads: key, cursor field, fields, paging.

Every object is read in SystemModstamp windows (it also moves on automated updates, unlike
LastModifiedDate, which "Set Audit Fields" can even rewrite), ordered by (SystemModstamp, Id)
through queryAll so deletions arrive in the same pages as changes. Paging follows
``nextRecordsUrl`` in batches of up to 2,000 rows.
"""

from __future__ import annotations

from dataclasses import dataclass

KEY = "Id"
CURSOR_FIELD = "SystemModstamp"
_SYSTEM = ("Id", "IsDeleted", "SystemModstamp")
_PERSON = ("FirstName", "LastName", "Email", "Title", "OwnerId", "HasOptedOutOfEmail", "DoNotCall", "LeadSource")
# on a merge's deleted loser: the surviving record, which the person's identity moves to
_MERGE = ("MasterRecordId",)


@dataclass(frozen=True)
class SObject:
    """How one object type is read. ``identity_type`` is the hub Identity.object_type."""

    name: str
    identity_type: str
    fields: tuple[str, ...]
    include_deleted: bool = True
    key: str = KEY
    cursor_field: str = CURSOR_FIELD


CONTACT = SObject(
    "Contact",
    "contact",
    _SYSTEM
    + _PERSON
    + _MERGE
    + (
        "AccountId",
        "Account.Name",
        "Account.Industry",
        "Account.NumberOfEmployees",
        "Account.AnnualRevenue",
        "Account.BillingCountry",
    ),
)
LEAD = SObject(
    "Lead",
    "lead",
    _SYSTEM
    + _PERSON
    + _MERGE
    + ("Company", "Industry", "NumberOfEmployees", "AnnualRevenue", "Country", "Status", "IsConverted")
    + ("ConvertedContactId",),
)
# Activities go through queryAll too: Salesforce archives Events and closed Tasks older than
# about a year, and a plain query no longer returns them. Deleted ones are skipped (an activity
# that happened stays history).
TASK = SObject(
    "Task",
    "task",
    ("Id", "IsDeleted", "SystemModstamp", "WhoId", "Subject", "TaskSubtype", "Status", "ActivityDate", "CreatedDate"),
)
EVENT = SObject(
    "Event",
    "event",
    ("Id", "IsDeleted", "SystemModstamp", "WhoId", "Subject", "StartDateTime", "ActivityDateTime", "CreatedDate"),
)
# An opportunity is the outcome the engine works for: its creation and its close (won or lost)
# become activities of its primary contact, ``ContactId`` (read-only, API 46.0 and later).
OPPORTUNITY = SObject(
    "Opportunity",
    "opportunity",
    ("Id", "SystemModstamp", "Amount", "StageName", "CloseDate", "IsClosed", "IsWon", "CreatedDate"),
    include_deleted=False,
)
#: Optional fields read when the org's describe has them (a sandbox or an org may lack them).
OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {"Task": ("Type",), "Event": ("Type",), "Opportunity": ("ContactId",)}

PERSON_OBJECTS: dict[str, SObject] = {"Contact": CONTACT, "Lead": LEAD}
ACTIVITY_OBJECTS: dict[str, SObject] = {"Task": TASK, "Event": EVENT, "Opportunity": OPPORTUNITY}
IDENTITY_TO_OBJECT: dict[str, str] = {"contact": "Contact", "lead": "Lead"}
#: Id key prefixes (the first three characters of every record id).
PREFIX_TO_IDENTITY: dict[str, str] = {"003": "contact", "00Q": "lead"}
