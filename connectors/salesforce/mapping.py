"""Pure functions between Salesforce payloads and hub models; the only place SF names meet hub names.

Contacts and Leads become :class:`Contact` (identity object_type ``contact`` / ``lead``),
firmographics come from the Account relationship (or the Lead's own columns), hub-written
fields come back as ``crm_fields`` under hub names, Tasks and Events become activities.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.fields import HUB_FIELDS, HubField, clip_text
from hub.models import Activity, ActivityType, Company, Consent, Contact, Identity

HUB_FIELD_BY_NAME: dict[str, HubField] = {f.name: f for f in HUB_FIELDS}
#: Describe types accepted for each hub field type.
ACCEPTED_TYPES: dict[str, frozenset[str]] = {
    "string": frozenset({"string", "textarea", "picklist"}),
    "text": frozenset({"textarea", "string"}),
    "number": frozenset({"double", "percent", "currency", "int"}),
    "datetime": frozenset({"datetime"}),
    "enumeration": frozenset({"picklist", "string"}),
}
STRING_MAX = 255
#: decimal places the hub writes each number field with (a field keeping fewer rounds it)
NUMBER_PLACES = {"lead_score": 0, "conversion_probability": 4, "expected_value": 2}
CAMPAIGN_NAME_MAX = 80
TEXT_MAX = 32_768
#: Per-record error codes worth retrying (row locks, transient platform trouble).
RETRYABLE_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "REQUEST_RUNNING_TOO_LONG", "QUERY_TIMEOUT"}
)


# -- names ----------------------------------------------------------------------------------
def default_sf_field(hub_name: str) -> str:
    """``next_best_action`` -> ``Hub_Next_Best_Action__c``."""
    return "Hub_" + "_".join(p.capitalize() for p in hub_name.split("_")) + "__c"


def sf_field_names(field_mapping: dict[str, str]) -> dict[str, str]:
    """Hub field name -> Salesforce field API name, with the connector's overrides."""
    return {f.name: field_mapping.get(f.name, default_sf_field(f.name)) for f in HUB_FIELDS}


def field_definition(hub: HubField, sf_name: str) -> dict[str, Any]:
    """The Metadata API CustomField an admin (or ensure_schema) must create."""
    base: dict[str, Any] = {
        "fullName": sf_name,
        "label": hub.label[:40],
        "description": hub.description,
        "inlineHelpText": hub.description,
    }
    if hub.type == "number":
        base.update(type="Number", precision=18, scale=4)
    elif hub.type == "datetime":
        base.update(type="DateTime")
    elif hub.type == "text":
        base.update(type="LongTextArea", length=TEXT_MAX, visibleLines=3)
    elif hub.type == "enumeration":
        values = [{"fullName": o, "default": False, "label": o.replace("_", " ").capitalize()} for o in hub.options]
        base.update(
            type="Picklist", valueSet={"restricted": False, "valueSetDefinition": {"sorted": False, "value": values}}
        )
    else:
        base.update(type="Text", length=STRING_MAX)
    return base


# -- values ---------------------------------------------------------------------------------
def parse_sf_datetime(value: Any) -> datetime:
    """``2026-01-05T10:00:00.000+0000`` (or ``Z``/``+00:00``, or a date) -> aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a Salesforce datetime: {value!r}")
    s = value.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    elif len(s) > 5 and s[-5] in "+-" and s[-4:].isdigit():
        s = s[:-2] + ":" + s[-2:]
    if len(s) == 10:
        return datetime.combine(date.fromisoformat(s), datetime.min.time(), UTC)
    dt = datetime.fromisoformat(s)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def format_sf_datetime(dt: datetime) -> str:
    """Aware datetime -> SOQL/REST literal with milliseconds, ``2026-01-05T10:00:00.000Z``."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def last_whole_second(now: datetime) -> datetime:
    """The newest SystemModstamp a sync started at ``now`` may read: the last second that is over.
    Salesforce keeps stamps to the second and ignores milliseconds in SOQL, so a window ending at
    10:00:00.400 reads the rows stamped 10:00:00, and a row changed at 10:00:00.700 gets that same
    stamp again, (Id, SystemModstamp) equal to the version read: no later window tells it apart.
    Ending at 09:59:59 leaves the open second to the next sync."""
    now = now.astimezone(UTC)
    return now.replace(microsecond=0) - timedelta(seconds=1)


_BARE_HOUR = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*$")


def local_hour_instant(value: str, zone: str, now: datetime) -> datetime | None:
    """The next instant after ``now`` at the bare local hour ``value`` ("14", "14:30") in
    ``zone``; None if ``value`` is not a bare hour. The engine sends a bare hour when it does
    not know the person's time zone; a Salesforce datetime field needs an instant."""
    m = _BARE_HOUR.match(value)
    if not m or int(m.group(1)) > 23 or int(m.group(2) or 0) > 59:
        return None
    local_now = now.astimezone(ZoneInfo(zone))
    at = local_now.replace(hour=int(m.group(1)), minute=int(m.group(2) or 0), second=0, microsecond=0)
    if at <= local_now:
        at += timedelta(days=1)
    return at.astimezone(UTC)


def needs_local_zone(hub_name: str, value: Any) -> bool:
    """Is ``value`` a bare local hour for a datetime hub field, which is placed in a time zone?"""
    hub = HUB_FIELD_BY_NAME.get(hub_name)
    return hub is not None and hub.type == "datetime" and isinstance(value, str) and bool(_BARE_HOUR.match(value))


#: the org's default time zone (Setup > Company Information); its values are IANA names
ORG_ZONE_SOQL = "SELECT TimeZoneSidKey FROM Organization"


def org_time_zone(rows: list[dict[str, Any]]) -> str | None:
    """The zone ``ORG_ZONE_SOQL`` answered, or None if it named no zone Python knows."""
    zone = rows[0].get("TimeZoneSidKey") if rows else None
    if not isinstance(zone, str) or not zone:
        return None
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return zone


def to_sf_value(
    hub_name: str,
    value: Any,
    zone: str = "UTC",
    now: datetime | None = None,
    described: dict[str, Any] | None = None,
) -> Any:
    """Coerce a hub value for the field's Salesforce type; ValueError names what is wrong.
    A bare local hour for a datetime field is read in ``zone`` (the org's time zone).
    ``described``: the field's describe entry; Salesforce refuses text over its ``length``
    (STRING_TOO_LONG) and numbers past its precision, so text is clipped to the length and such
    numbers are refused here. Without it, the lengths ``field_definition`` creates apply."""
    hub = HUB_FIELD_BY_NAME.get(hub_name)
    described = described or {}
    kind = hub.type if hub else "string"
    if value is None or value == "":
        return None
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError(f"{hub_name}: a number is needed, got a boolean")
        try:
            num = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{hub_name}: a number is needed, got {value!r}") from None
        if not math.isfinite(num):
            raise ValueError(f"{hub_name}: {value!r} is not a finite number")
        digits = int(described.get("precision") or 0) - int(described.get("scale") or 0)
        if described.get("precision") and abs(num) >= 10**digits:
            raise ValueError(f"{hub_name}: {value!r} has more than the field's {digits} digits before the point")
        return num
    if kind == "datetime":
        local = local_hour_instant(value, zone, now or datetime.now(UTC)) if isinstance(value, str) else None
        if local is not None:
            return format_sf_datetime(local)
        if isinstance(value, int | float) and not isinstance(value, bool):
            dt = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
        else:
            dt = parse_sf_datetime(value)
        return format_sf_datetime(dt)
    text = value if isinstance(value, str) else str(value)
    return clip_text(text, int(described.get("length") or (TEXT_MAX if kind == "text" else STRING_MAX)))


#: what Salesforce trims from both ends of text it saves: Java's String.trim(), every
#: character up to the space (Apex developer guide, "Primitive Data Types")
_TRIMMED = "".join(map(chr, range(33)))
#: describe types of numbers Salesforce rounds to the field's ``scale`` on save
_SCALED = frozenset({"double", "currency", "percent"})


def stored_sf_value(hub_name: str, value: Any, described: dict[str, Any]) -> Any:
    """A hub value as the field ``described`` keeps it once written: what ``to_sf_value`` sends,
    then saved as Salesforce saves it, a number rounded half up to the field's decimal places,
    text without surrounding whitespace and never empty, only null. A datetime, or a value
    ``to_sf_value`` refuses (nothing is stored), is returned as it is."""
    hub = HUB_FIELD_BY_NAME.get(hub_name)
    if hub is None or hub.type == "datetime":
        return value
    try:
        sent = to_sf_value(hub_name, value, described=described)
    except ValueError:
        return value
    if isinstance(sent, float) and described.get("type") in _SCALED and described.get("scale") is not None:
        step = Decimal(1).scaleb(-int(described["scale"]))
        return float(Decimal(repr(sent)).quantize(step, rounding=ROUND_HALF_UP))
    if isinstance(sent, str):
        return sent.strip(_TRIMMED) or None
    return sent


def from_sf_value(hub_name: str, value: Any) -> Any:
    """A Salesforce value of a hub field, in the form the hub diffs against."""
    hub = HUB_FIELD_BY_NAME.get(hub_name)
    if value is None or hub is None:
        return value
    if hub.type == "datetime":
        return parse_sf_datetime(value).isoformat()
    return value


def soql_quote(value: str) -> str:
    """A SOQL string literal with backslash and quote escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def identity_type_of(record_id: str | None, prefixes: dict[str, str]) -> str | None:
    return prefixes.get(record_id[:3]) if record_id else None


# -- records --------------------------------------------------------------------------------
def _str(rec: dict[str, Any], key: str) -> str | None:
    v = rec.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ValueError(f"{key} is not text: {v!r}")
    return v


def _int(v: Any) -> int | None:
    return None if v is None else int(float(v))


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def record_id(rec: Any) -> str:
    if not isinstance(rec, dict) or not isinstance(rec.get("Id"), str) or not rec["Id"]:
        raise ValueError("record has no Id")
    return rec["Id"]


def record_to_contact(connector: str, identity_type: str, rec: dict[str, Any], hub_fields: dict[str, str]) -> Contact:
    """A Contact or Lead row -> hub Contact. ``hub_fields`` maps SF field name -> hub field name."""
    rid = record_id(rec)
    stamp = parse_sf_datetime(rec.get("SystemModstamp"))
    email = _str(rec, "Email")
    if identity_type == "lead":
        company = Company(
            name=_str(rec, "Company"),
            industry=_str(rec, "Industry"),
            employees=_int(rec.get("NumberOfEmployees")),
            annual_revenue=_float(rec.get("AnnualRevenue")),
            country=_str(rec, "Country"),
        )
        stage = "lead"
        props = {"lead_status": rec.get("Status"), "lead_source": rec.get("LeadSource")}
    else:
        acct = rec.get("Account") or {}
        if not isinstance(acct, dict):
            raise ValueError("Account is not an object")
        company = Company(
            name=_str(acct, "Name"),
            industry=_str(acct, "Industry"),
            employees=_int(acct.get("NumberOfEmployees")),
            annual_revenue=_float(acct.get("AnnualRevenue")),
            country=_str(acct, "BillingCountry"),
        )
        stage = "contact"
        props = {"lead_source": rec.get("LeadSource"), "account_id": rec.get("AccountId")}
    return Contact(
        identities=[Identity(connector=connector, object_type=identity_type, external_id=rid)],
        emails=[email] if email else [],
        first_name=_str(rec, "FirstName"),
        last_name=_str(rec, "LastName"),
        company=company,
        job_title=_str(rec, "Title"),
        lifecycle_stage=stage,
        owner=_str(rec, "OwnerId"),
        consent=Consent(email_opt_out=bool(rec.get("HasOptedOutOfEmail")), do_not_contact=bool(rec.get("DoNotCall"))),
        properties={k: v for k, v in props.items() if v is not None},
        crm_fields={hub: from_sf_value(hub, rec[sf]) for sf, hub in hub_fields.items() if rec.get(sf) is not None},
        lists=None,  # CampaignMember changes do not move the person's SystemModstamp: unknown here
        updated_at=stamp,
    )


def activity_type(sobject: str, rec: dict[str, Any]) -> ActivityType:
    """Events are meetings; Tasks by TaskSubtype, then Type, then the subject's first word."""
    if sobject == "Event":
        return ActivityType.MEETING
    hints = " ".join(str(rec.get(k) or "") for k in ("TaskSubtype", "Type", "Subject")).lower()
    for word, kind in (
        ("email", ActivityType.EMAIL_SENT),
        ("call", ActivityType.CALL),
        ("meeting", ActivityType.MEETING),
    ):
        if word in hints.split() or hints.startswith(word):
            return kind
    return ActivityType.CUSTOM


def task_time(rec: dict[str, Any]) -> datetime:
    """When a Task happened. ``ActivityDate`` is a date (Salesforce stamps it midnight UTC and says
    the stamp is not the activity's time), so a Task created on its date happened at its
    ``CreatedDate``: midnight would put an e-mail logged at 15:00 before the decision that sent it,
    and a replay of that decision (``hub evaluate``) would count it as an earlier touch. The date is
    the user's local one, so "on its date" is that calendar day in any time zone (UTC-12 to
    UTC+14). A Task dated another day (logged late, or due later) keeps its date."""
    created = rec.get("CreatedDate")
    dated = rec.get("ActivityDate")
    if dated:
        day = parse_sf_datetime(dated)
        if created:
            at = parse_sf_datetime(created)
            if day - timedelta(hours=14) <= at < day + timedelta(hours=36):
                return at
        return day
    return parse_sf_datetime(created or rec.get("SystemModstamp"))


def record_to_activity(connector: str, sobject: str, rec: dict[str, Any], prefixes: dict[str, str]) -> Activity | None:
    """A Task/Event row -> Activity; None when it is not about a synced person (no WhoId)."""
    rid = record_id(rec)
    who = rec.get("WhoId")
    kind = identity_type_of(who, prefixes)
    if kind is None:
        return None
    if sobject == "Event":
        when = parse_sf_datetime(rec.get("ActivityDateTime") or rec.get("StartDateTime") or rec.get("SystemModstamp"))
    else:
        when = task_time(rec)
    props = {k: rec[k] for k in ("Subject", "TaskSubtype", "Type", "Status") if rec.get(k) is not None}
    return Activity(
        contact_ref=Identity(connector=connector, object_type=kind, external_id=str(who)),
        type=activity_type(sobject, rec),
        channel="salesforce",
        occurred_at=when,
        properties=props,
        source=connector,
        external_id=f"{sobject}:{rid}",
    )


def opportunity_to_activities(connector: str, rec: dict[str, Any], prefixes: dict[str, str]) -> list[Activity]:
    """An Opportunity row -> ``opportunity_created`` (at CreatedDate) and, once closed,
    ``opportunity_won`` or ``opportunity_lost`` (at CloseDate), each with its ``amount``, for
    its primary contact (``ContactId``); none when it has no synced contact. The keys are
    stable per opportunity and event, so re-reading a changed opportunity adds nothing twice."""
    rid = record_id(rec)
    who = rec.get("ContactId")
    kind = identity_type_of(who, prefixes)
    if kind is None:
        return []
    ref = Identity(connector=connector, object_type=kind, external_id=str(who))
    amount = rec.get("Amount")
    props = {"amount": float(amount) if amount is not None else 0.0, "stage": rec.get("StageName")}
    created = parse_sf_datetime(rec.get("CreatedDate") or rec.get("SystemModstamp"))
    out = [
        Activity(
            contact_ref=ref,
            type=ActivityType.OPPORTUNITY_CREATED,
            channel="salesforce",
            occurred_at=created,
            properties=props,
            source=connector,
            external_id=f"Opportunity:{rid}:created",
        )
    ]
    if rec.get("IsClosed"):
        closed = parse_sf_datetime(rec.get("CloseDate") or rec.get("SystemModstamp"))
        out.append(
            Activity(
                contact_ref=ref,
                type=ActivityType.OPPORTUNITY_WON if rec.get("IsWon") else ActivityType.OPPORTUNITY_LOST,
                channel="salesforce",
                occurred_at=max(closed, created),
                properties=props,
                source=connector,
                external_id=f"Opportunity:{rid}:closed",
            )
        )
    return out


def record_to_activities(connector: str, sobject: str, rec: dict[str, Any], prefixes: dict[str, str]) -> list[Activity]:
    """Any activity object's row -> its activities (a Task or Event gives at most one)."""
    if sobject == "Opportunity":
        return opportunity_to_activities(connector, rec, prefixes)
    one = record_to_activity(connector, sobject, rec, prefixes)
    return [one] if one is not None else []


# -- SOQL and collection rows (built here so Salesforce names stay in this module) -------------
def _window_where(
    cursor_field: str,
    since_ms: int | None,
    overlap_ms: int,
    end: datetime,
    key: str = "",
    after_id: str | None = None,
) -> str:
    """From the cursor less the overlap, inclusive, to ``end``. With ``after_id`` (the last row
    a sync read at ``since``, in (stamp, key) order) the rows at that stamp up to it are left out:
    the sync goes on right after that row (a second too big for one query, an expired query
    locator). Only within one sync: a new sync reads the overlap again and drops the rows in
    the cursor's ``seen`` (connectors/salesforce/cursor.py)."""
    where = [f"{cursor_field} <= {format_sf_datetime(end)}"]
    if since_ms is not None:
        start = datetime.fromtimestamp((since_ms - overlap_ms) / 1000, UTC)
        where.insert(0, f"{cursor_field} >= {format_sf_datetime(start)}")
        if after_id is not None:
            at = format_sf_datetime(datetime.fromtimestamp(since_ms / 1000, UTC))
            where.append(f"({cursor_field} != {at} OR {key} > {soql_quote(after_id)})")
    return " AND ".join(where)


def window_soql(
    sobject: str,
    cursor_field: str,
    key: str,
    fields: list[str],
    since_ms: int | None,
    overlap_ms: int,
    end: datetime,
    ordered: bool = True,
    after_id: str | None = None,
) -> str:
    """``cursor_field >= since - overlap AND cursor_field <= end``, past ``(since, after_id)``,
    oldest first, ties by key. ``ordered=False`` for Bulk API 2.0, where ORDER BY disables PK
    chunking (and invites timeouts)."""
    where = _window_where(cursor_field, since_ms, overlap_ms, end, key, after_id)
    soql = f"SELECT {', '.join(fields)} FROM {sobject} WHERE {where}"
    return soql + f" ORDER BY {cursor_field} ASC, {key} ASC" if ordered else soql


def count_soql(sobject: str, cursor_field: str, since_ms: int | None, overlap_ms: int, end: datetime) -> str:
    """How many rows a window holds (to choose REST or Bulk API 2.0 for it)."""
    where = _window_where(cursor_field, since_ms, overlap_ms, end)
    return f"SELECT COUNT() FROM {sobject} WHERE {where}"


def _in(values: list[str]) -> str:
    return ", ".join(soql_quote(v) for v in values)


def user_soql(username: str) -> str:
    return f"SELECT Id, Username, Name, IsActive FROM User WHERE Username = {soql_quote(username)}"


def active_users_soql(ids: list[str]) -> str:
    return f"SELECT Id FROM User WHERE Id IN ({_in(ids)}) AND IsActive = true"


#: every user and whether it is active (an inactive user cannot be assigned as owner)
USERS_SOQL = "SELECT Id, IsActive FROM User"


def users_active(rec: dict[str, Any]) -> tuple[str, bool]:
    """(user id, active) from a ``USERS_SOQL`` row."""
    return str(rec["Id"]), rec.get("IsActive") is True


def campaigns_soql(names: list[str]) -> str:
    return f"SELECT Id, Name FROM Campaign WHERE Name IN ({_in(names)})"


def members_soql(campaign_ids: list[str], people: list[str]) -> str:
    ids = _in(people)
    return (
        "SELECT Id, CampaignId, ContactId, LeadId FROM CampaignMember "
        f"WHERE CampaignId IN ({_in(campaign_ids)}) AND (ContactId IN ({ids}) OR LeadId IN ({ids}))"
    )


def member_statuses_soql(campaign_ids: list[str]) -> str:
    return f"SELECT CampaignId, Label FROM CampaignMemberStatus WHERE CampaignId IN ({_in(campaign_ids)})"


def member_key(rec: dict[str, Any]) -> tuple[str, str] | None:
    """(campaign id, person id) of a CampaignMember row."""
    person = rec.get("ContactId") or rec.get("LeadId")
    return (rec["CampaignId"], person) if person else None


def update_row(sobject: str, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"attributes": {"type": sobject}, "id": record_id, **fields}


def owner_fields(owner: str) -> dict[str, Any]:
    return {"OwnerId": owner}


def campaign_name(list_name: str) -> str:
    """The Campaign a hub list is kept in. Campaign.Name holds 80 characters (longer is refused,
    STRING_TOO_LONG); a longer list name keeps its first 71 and a hash of the whole, so it is the
    same every run (found again by name) and two lists sharing a prefix never share a Campaign."""
    if len(list_name) <= CAMPAIGN_NAME_MAX:
        return list_name
    digest = hashlib.sha256(list_name.encode()).hexdigest()[:8]
    return list_name[: CAMPAIGN_NAME_MAX - len(digest) - 1] + " " + digest


def campaign_row(list_name: str) -> dict[str, Any]:
    return {"attributes": {"type": "Campaign"}, "Name": campaign_name(list_name), "IsActive": True}


def member_row(campaign_id: str, person_id: str, identity_type: str, status: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {"attributes": {"type": "CampaignMember"}, "CampaignId": campaign_id}
    row["LeadId" if identity_type == "lead" else "ContactId"] = person_id
    if status:
        row["Status"] = status
    return row


def is_gone(rec: dict[str, Any]) -> bool:
    """Deleted, or converted (the Contact it became carries the person on)."""
    return bool(rec.get("IsDeleted") or rec.get("IsConverted"))


_ID_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def id18(sf_id: str) -> str:
    """The case-safe 18-character form of a 15-character Salesforce id (the API returns ids in
    this form): a suffix of three characters, each encoding which of five characters are upper
    case. Anything else is returned as it is."""
    if len(sf_id) != 15 or not sf_id.isalnum():
        return sf_id
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(sf_id[start : start + 5]) if "A" <= ch <= "Z")
        suffix += _ID_SUFFIX[bits]
    return sf_id + suffix
