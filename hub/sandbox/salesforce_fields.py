"""Salesforce's field definitions for the sandbox org, and the value checks they imply.

Lengths and types follow the standard objects (Lead/Contact FirstName 40, LastName 80, Title 128,
Email 80; Campaign.Name 80; ...); the hub's custom fields are as ``field_definition`` in
connectors/salesforce/mapping.py creates them (Text 255, LongTextArea 32,768, Number(18, 4),
DateTime, an unrestricted Picklist). Two kinds of refusal, as Salesforce gives them:

- a JSON value of the wrong kind (text in a number, date or boolean field) fails deserialization:
  the whole request is refused, 400 ``JSON_PARSER_ERROR`` ("Cannot deserialize instance of
  double from VALUE_STRING value abc ...", seen in mautic/mautic#3048, restforce/restforce#897);
- a value of the right kind that the field cannot hold fails that record only:
  ``STRING_TOO_LONG``, ``INVALID_EMAIL_ADDRESS``, ``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``,
  ``NUMBER_OUTSIDE_VALID_RANGE``. Values are never truncated.
"""

from __future__ import annotations

import json
import locale
import math
import re
import zoneinfo
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hub.fields import HUB_FIELDS as _HUB_FIELD_SPECS

TEXT_TYPES = frozenset({"string", "email", "textarea", "picklist", "multipicklist", "combobox", "phone", "url"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})


@dataclass(frozen=True)
class FieldSpec:
    """One field's describe type and limits (``length`` in characters, for text types)."""

    type: str = "string"
    length: int = 0
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    precision: int = 0  # digits in all, for numbers
    scale: int = 0  # digits after the point


def _text(n: int) -> FieldSpec:
    return FieldSpec("string", n)


def _pick(n: int, *values: str) -> FieldSpec:
    return FieldSpec("picklist", n, values)


def _restricted(n: int, values: list[str] | set[str]) -> FieldSpec:
    return FieldSpec("picklist", n, tuple(sorted(values)), restricted=True)


# A User's settings keys are restricted picklists (Object Reference, User: TimeZoneSidKey,
# LocaleSidKey, EmailEncodingKey and LanguageLocaleKey, "Restricted picklist"). Salesforce's own
# lists are long; these stand in for them: the IANA zones this Python knows (Salesforce takes a
# subset), the language_COUNTRY locales the C library names, and (GK, Salesforce Help "Supported
# Languages" and the email encoding setting) the encodings and languages a user may pick.
USER_ZONES = zoneinfo.available_timezones()
USER_LOCALES = {v.split(".")[0] for v in locale.locale_alias.values() if re.match(r"^[a-z]{2,3}_[A-Z]{2}\.", v)}
EMAIL_ENCODINGS = {
    "UTF-8",
    "ISO-8859-1",
    "Shift_JIS",
    "ISO-2022-JP",
    "EUC-JP",
    "ks_c_5601-1987",
    "Big5",
    "GB2312",
    "Big5-HKSCS",
    "x-SJIS_0213",
}
USER_LANGUAGES = {
    *("en_US", "de", "es", "es_MX", "fr", "it", "ja", "sv", "ko", "zh_TW", "zh_CN", "pt_BR", "nl_NL", "da"),
    *("th", "fi", "ru", "no", "ar", "bg", "hr", "cs", "en_GB", "el", "iw", "hu", "in", "pl", "pt_PT", "ro"),
    *("sk", "sl", "tr", "uk", "vi"),
}


REF = FieldSpec("reference", 18)
BOOL = FieldSpec("boolean")
STAMP = FieldSpec("datetime")
DAY = FieldSpec("date")

# By field name, for every object that has it; ``BY_OBJECT`` overrides per object.
COMMON: dict[str, FieldSpec] = {
    "Id": FieldSpec("id", 18),
    "IsDeleted": BOOL,
    "CreatedDate": STAMP,
    "LastModifiedDate": STAMP,
    "SystemModstamp": STAMP,
    "FirstName": _text(40),
    "LastName": _text(80),
    "Name": _text(121),  # Contact, Lead, User: the compound name
    "Email": FieldSpec("email", 80),
    "Title": _text(128),
    "HasOptedOutOfEmail": BOOL,
    "DoNotCall": BOOL,
    "LeadSource": _pick(255, "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
    "Last_Event_Date__c": _text(255),  # a text field holding whatever dates people typed
    "Company": _text(255),
    "Industry": _pick(255, "Agriculture", "Banking", "Education", "Healthcare", "Manufacturing", "Technology"),
    "NumberOfEmployees": FieldSpec("int", precision=8),
    "AnnualRevenue": FieldSpec("currency", precision=18),
    "Amount": FieldSpec("currency", precision=16, scale=2),
    "Country": _text(80),
    "BillingCountry": _text(80),
    "IsConverted": BOOL,
    "ConvertedDate": DAY,
    "Username": _text(80),
    "IsActive": BOOL,
    "Subject": FieldSpec("combobox", 255),
    "TaskSubtype": _pick(40, "Task", "Email", "ListEmail", "Cadence", "Call"),
    "ActivityDate": DAY,
    "Description": FieldSpec("textarea", 32_000),
    "StartDateTime": STAMP,
    "EndDateTime": STAMP,
    "ActivityDateTime": STAMP,
    "DurationInMinutes": FieldSpec("int", precision=8),
    "StageName": _pick(
        40, "Prospecting", "Qualification", "Needs Analysis", "Proposal", "Negotiation", "Closed Won", "Closed Lost"
    ),
    "CloseDate": DAY,
    "IsClosed": BOOL,
    "IsWon": BOOL,
    "ContactId__c": _text(18),
    "Tech_Stack__c": _text(255),
    "Label": _text(80),
    "SortOrder": FieldSpec("int", precision=9),
    "IsDefault": BOOL,
    "HasResponded": BOOL,
    "SobjectType": _text(255),
    "Field": _text(255),
    "PermissionsRead": BOOL,
    "PermissionsEdit": BOOL,
}
BY_OBJECT: dict[str, dict[str, FieldSpec]] = {
    "Account": {"Name": _text(255)},
    "Campaign": {
        "Name": _text(80),
        "Status": _pick(40, "Planned", "In Progress", "Completed", "Aborted"),
        "Type": _pick(40, "Conference", "Webinar", "Advertisement", "Direct Mail", "Email", "Other"),
    },
    "CampaignMember": {"Status": _pick(40, "Sent", "Responded")},
    "CampaignMemberStatus": {"Label": _text(765)},
    "Lead": {
        "Status": _pick(
            40,
            "Open - Not Contacted",
            "Working - Contacted",
            "Qualified",
            "Closed - Converted",
            "Closed - Not Converted",
        )
    },
    "Opportunity": {"Name": _text(120)},
    "PermissionSet": {"Name": _text(80)},
    "Task": {"Status": _pick(40, "Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")},
    "User": {
        "Email": FieldSpec("email", 128),
        "Alias": _text(8),
        "TimeZoneSidKey": _restricted(40, USER_ZONES),
        "LocaleSidKey": _restricted(40, USER_LOCALES),
        "EmailEncodingKey": _restricted(40, EMAIL_ENCODINGS),
        "LanguageLocaleKey": _restricted(40, USER_LANGUAGES),
    },
}


def _hub_spec(kind: str, options: tuple[str, ...]) -> FieldSpec:
    if kind == "number":
        return FieldSpec("double", precision=18, scale=4)
    if kind == "datetime":
        return STAMP
    if kind == "text":
        return FieldSpec("textarea", 32_768)
    if kind == "enumeration":
        return FieldSpec("picklist", 255, options)
    return _text(255)


HUB_SPECS: dict[str, FieldSpec] = {
    "Hub_" + "_".join(p.capitalize() for p in f.name.split("_")) + "__c": _hub_spec(f.type, f.options)
    for f in _HUB_FIELD_SPECS
}


def base_spec(sobject: str, name: str, reference: bool) -> FieldSpec:
    """The field as a new org defines it (before an admin changes it)."""
    if reference:
        return REF
    return BY_OBJECT.get(sobject, {}).get(name) or HUB_SPECS.get(name) or COMMON.get(name) or _text(255)


def describe_entry(spec: FieldSpec) -> dict[str, Any]:
    """The type-related keys of a describe field entry."""
    out: dict[str, Any] = {
        "type": spec.type,
        "length": spec.length if spec.type in TEXT_TYPES | {"id", "reference"} else 0,
        "precision": spec.precision,
        "scale": spec.scale,
        "digits": spec.precision if spec.type == "int" else 0,
        "restrictedPicklist": spec.restricted,
        "picklistValues": [
            {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v} for v in spec.picklist
        ],
    }
    return out


# -- request level: JSON deserialization ----------------------------------------------------------
class JsonParserError(ValueError):
    """A value Salesforce's JSON reader cannot turn into the field's type: the request fails."""


_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _token(v: Any) -> str:
    if isinstance(v, bool):
        return "VALUE_TRUE" if v else "VALUE_FALSE"
    if isinstance(v, int):
        return "VALUE_NUMBER_INT"
    if isinstance(v, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(v, dict):
        return "START_OBJECT"
    if isinstance(v, list):
        return "START_ARRAY"
    return "VALUE_STRING"


def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def coerce(spec: FieldSpec, value: Any, raw: bytes = b"") -> Any:
    """The value as Salesforce reads it from JSON (``"12"`` into a number is 12.0), or
    JsonParserError with Salesforce's message. ``raw`` (the request body) gives the column."""
    if value is None:
        return None
    kind, ok, out = spec.type, True, value
    if isinstance(value, dict | list):
        ok = False
    elif kind in NUMBER_TYPES:
        if isinstance(value, bool):
            ok = False
        elif isinstance(value, str):
            try:
                out = float(value)
            except ValueError:
                ok = False
    elif kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            out = value.lower() == "true"
        elif not isinstance(value, bool):
            ok = False
    elif kind in ("date", "datetime"):
        pattern = _DATE if kind == "date" else _DATETIME
        ok = isinstance(value, str) and bool(pattern.match(value)) and _valid_date(value)
    if ok:
        return _as_saved(spec, out)
    text = json.dumps(value) if not isinstance(value, str) else value
    at = raw.find(json.dumps(value).encode()) if raw else -1
    column = at + len(json.dumps(value)) + 1 if at >= 0 else 1
    raise JsonParserError(
        f"Cannot deserialize instance of {kind} from {_token(value)} value {text} "
        f"or request may be missing a required field at [line:1, column:{column}]"
    )


#: what Java's String.trim() removes: every character up to the space
_TRIMMED = "".join(map(chr, range(33)))


def _as_saved(spec: FieldSpec, value: Any) -> Any:
    """The value as Salesforce saves it: text without leading or trailing whitespace and never
    empty, only null (Apex developer guide, "Primitive Data Types": sObject string fields follow
    the SOAP API's rules); a number rounded half up to the field's decimal places."""
    if spec.type in TEXT_TYPES and isinstance(value, str):
        return value.strip(_TRIMMED) or None
    if spec.type in NUMBER_TYPES - {"int"} and spec.precision and isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) >= 10 ** (spec.precision - spec.scale):
            return value  # out of range: value_problem refuses it
        step = Decimal(1).scaleb(-spec.scale)
        return float(Decimal(repr(value)).quantize(step, rounding=ROUND_HALF_UP))
    return value


# -- record level: what the field can hold -------------------------------------------------------
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")


def value_problem(spec: FieldSpec, label: str, value: Any) -> tuple[str, str] | None:
    """(errorCode, message) when the field cannot hold ``value``, else None."""
    if value is None:
        return None
    if spec.type in TEXT_TYPES or spec.type == "id":
        text = value if isinstance(value, str) else json.dumps(value)
        # measured in UTF-16 units, as Salesforce's Java does: an emoji counts two (Salesforce
        # help 005166849 on surrogate pairs)
        if spec.length and len(text.encode("utf-16-le")) // 2 > spec.length:
            return "STRING_TOO_LONG", f"{label}: data value too large: {text} (max length={spec.length})"
        if spec.type == "email" and text and not _EMAIL.match(text):
            return "INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {text}"
        if spec.type == "picklist" and spec.restricted and text not in spec.picklist:
            return (
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{label}: bad value for restricted picklist field: {text}",
            )
    big = isinstance(value, int | float) and abs(value) >= 10 ** (spec.precision - spec.scale)
    if spec.type in NUMBER_TYPES and spec.precision and big:
        return "NUMBER_OUTSIDE_VALID_RANGE", f"{label}: value outside of valid range on numeric field: {value}"
    return None
