"""Pure functions between HubSpot payloads and hub models. HubSpot names stop here."""

from __future__ import annotations

import functools
import math
import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.fields import HUB_FIELDS, HubField, clip_text
from hub.models import Activity, ActivityType, Company, Consent, Contact, Identity

OBJECT_TYPE = "contact"
FIELD_TYPES = {f.name: f.type for f in HUB_FIELDS}
#: the most characters a string property value may hold (HubSpot properties guide: 65,536;
#: a longer value fails the record)
STRING_MAX = 65_536
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_BARE_HOUR = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*$")
#: a size range as a dropdown option holds it: "11-50", "1,001 - 5,000", "5001+"
_SIZE_RANGE = re.compile(r"^\s*(\d[\d,]*)\s*(?:(?:-|–|to)\s*(\d[\d,]*)|(\+))\s*$")
CONTACT_PROPERTIES = [
    "email",
    "firstname",
    "lastname",
    "company",
    "jobtitle",
    "industry",
    "numemployees",
    "annualrevenue",
    "country",
    "hs_timezone",
    "hubspot_owner_id",
    "lifecyclestage",
    "hs_email_optout",
    "lastmodifieddate",
    "hs_object_id",
    "hs_merged_object_ids",
    "hs_analytics_num_page_views",
    "num_conversion_events",
    "recent_conversion_event_name",
]
EMAIL_EVENT_TYPES = {
    "SENT": ActivityType.EMAIL_SENT,
    "OPEN": ActivityType.EMAIL_OPEN,
    "CLICK": ActivityType.EMAIL_CLICK,
    "BOUNCE": ActivityType.EMAIL_BOUNCE,
    "SPAMREPORT": ActivityType.UNSUBSCRIBE,
}
# what a STATUSCHANGE event means, by its ``change`` (as in the subscriptions timeline) or,
# failing that, by its portal status and subscriptions (legacy Email Events API, "user status
# events"): a re-subscribe or a cleared bounce is no opt-out and must not count as one
_STATUS_CHANGES = {
    "UNSUBSCRIBED": (ActivityType.UNSUBSCRIBE, "unsubscribe"),
    "SUBSCRIBED": (ActivityType.CUSTOM, "resubscribe"),
    "BOUNCED": (ActivityType.EMAIL_BOUNCE, "bounce"),
    "UNBOUNCED": (ActivityType.CUSTOM, "unbounce"),
}
_TYPES = {
    "string": ("string", "text"),
    "text": ("string", "textarea"),
    "number": ("number", "number"),
    "datetime": ("datetime", "date"),
    "enumeration": ("enumeration", "select"),
}
#: property types an existing property may have and still take what the hub writes there
#: (an enumeration field written as text before the hub offered options still works)
ACCEPTED_TYPES = {
    "string": frozenset({"string"}),
    "text": frozenset({"string"}),
    "number": frozenset({"number"}),
    "datetime": frozenset({"datetime"}),
    "enumeration": frozenset({"enumeration", "string"}),
}


def property_name(field: str, mapping: dict[str, str]) -> str:
    """hub field -> HubSpot property; ``hub_<field>`` unless hub.yaml maps it."""
    return mapping.get(field, f"hub_{field}")


def hub_properties(mapping: dict[str, str]) -> dict[str, str]:
    """HubSpot property -> hub field, for every field the hub writes."""
    return {property_name(f.name, mapping): f.name for f in HUB_FIELDS}


def property_definition(field: HubField, group: str, mapping: dict[str, str]) -> dict[str, Any]:
    """The property the hub creates for ``field``: a type/fieldType pair HubSpot accepts
    (its properties guide) and, for an enumeration, its options."""
    type_, field_type = _TYPES[field.type]
    out: dict[str, Any] = {
        "name": property_name(field.name, mapping),
        "label": f"Decision Hub: {field.label}",
        "description": field.description,
        "groupName": group,
        "type": type_,
        "fieldType": field_type,
    }
    if field.options:
        out["options"] = [
            {"label": o.replace("_", " ").capitalize(), "value": o, "displayOrder": i, "hidden": False}
            for i, o in enumerate(field.options)
        ]
    return out


def parse_ms(value: Any) -> datetime | None:
    """HubSpot sends ISO strings or epoch milliseconds; None for garbage."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        try:
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        except (ValueError, OverflowError, OSError):
            return None
    try:
        ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def to_ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _float(v: Any) -> float | None:
    """A finite number, or None for blanks and garbage ('INF', 'NaN', 'lots', '1e400')."""
    try:
        f = float(v) if v not in (None, "") else None
    except (TypeError, ValueError, OverflowError):
        return None
    return f if f is not None and math.isfinite(f) else None


def _int(v: Any) -> int | None:
    """A count, or None for garbage: 10**15 employees is noise, and too big for the store."""
    f = _float(v)
    n = int(f) if f is not None else None
    return n if n is None or 0 <= n < 2**31 else None


def _employees(v: Any) -> int | None:
    """A company size: HubSpot's contact ``numemployees`` is a dropdown of ranges ("11-50",
    "5001+"), not a number (enumeration/select among its contact properties), so a range is read
    as its middle, an open one ("5001+") as its floor. A plain count (a portal that made the
    property a number, an import) is read as it is."""
    n = _int(v)
    m = _SIZE_RANGE.match(v) if n is None and isinstance(v, str) else None
    if m is None:
        return n
    low, high = (int(x.replace(",", "")) if x else None for x in m.group(1, 2))
    n = low if high is None else (low + high) // 2
    return n if 0 <= n < 2**31 else None


def _text(v: Any) -> str | None:
    """HubSpot sends property values as strings; anything else (a number, a list) is read as text."""
    if v is None or v == "":
        return None
    return v if isinstance(v, str) else str(v)


def _crm_value(field: str, value: Any) -> str | None:
    """A hub field's value as read back, datetimes in the same ISO UTC form ``field_value`` writes
    (so an unchanged value diffs as unchanged); an unreadable datetime is kept as text."""
    if FIELD_TYPES.get(field) == "datetime":
        ts = parse_ms(value)
        if ts is not None:
            return iso_utc(ts)
    return _text(value)


#: properties read into ``Contact.properties`` on every sync
READ_PROPERTIES = ("hs_analytics_num_page_views", "num_conversion_events", "recent_conversion_event_name")


def contact_from_hubspot(
    connector: str, record: dict[str, Any], mapping: dict[str, str], extra: tuple[str, ...] = ()
) -> Contact:
    """Map one CRM v3 contact. Raises ValueError (with the reason) for a record it cannot use.

    ``extra``: more properties (declared features' custom properties) kept as text in
    ``Contact.properties`` under their HubSpot names."""
    if not isinstance(record, dict):
        raise ValueError(f"record is a {type(record).__name__}, not an object")
    rid = str(record.get("id") or "")
    if not rid:
        raise ValueError("record has no id")
    p = record.get("properties")
    if not isinstance(p, dict):
        raise ValueError("record has no properties object")
    modified = parse_ms(p.get("lastmodifieddate") or record.get("updatedAt"))
    if modified is None:
        raise ValueError(f"unreadable lastmodifieddate {str(p.get('lastmodifieddate'))[:80]!r}")
    hub_props = hub_properties(mapping)
    return Contact(
        identities=[Identity(connector=connector, object_type=OBJECT_TYPE, external_id=rid)],
        emails=[str(p["email"])] if p.get("email") else [],
        first_name=_text(p.get("firstname")),
        last_name=_text(p.get("lastname")),
        company=Company(
            name=_text(p.get("company")),
            industry=_text(p.get("industry")),
            employees=_employees(p.get("numemployees")),
            annual_revenue=_float(p.get("annualrevenue")),
            country=_text(p.get("country")),
            timezone=iana_zone(_text(p.get("hs_timezone"))),
        ),
        job_title=_text(p.get("jobtitle")),
        lifecycle_stage=_text(p.get("lifecyclestage")),
        owner=_text(p.get("hubspot_owner_id")),
        consent=Consent(email_opt_out=str(p.get("hs_email_optout") or "").lower() == "true"),
        properties={k: _text(p[k]) for k in (*READ_PROPERTIES, *extra) if p.get(k) not in (None, "")},
        crm_fields={
            hub_props[k]: _crm_value(hub_props[k], v) for k, v in p.items() if k in hub_props and v not in (None, "")
        },
        updated_at=modified,
    )


MERGED_PROPERTY = "hs_merged_object_ids"


def merged_ids(record: dict[str, Any]) -> list[str]:
    """Ids a merge folded into this record: they must not live on in the store."""
    raw = (record.get("properties") or {}).get(MERGED_PROPERTY) or ""
    return [x for x in str(raw).split(";") if x and x != str(record.get("id"))]


def status_change(event: dict[str, Any]) -> tuple[ActivityType, dict[str, Any]]:
    """The activity a STATUSCHANGE event is: an unsubscribe (from everything or some
    subscription types), a re-subscribe, a bounce or a cleared bounce. ValueError if unclear."""
    subs = [x for x in event.get("subscriptions") or [] if isinstance(x, dict)]
    portal = str(event.get("portalSubscriptionStatus") or "").upper()
    change = str(event.get("change") or "").upper()
    if not change:
        if event.get("bounced") is True:
            change = "BOUNCED"
        elif portal == "UNSUBSCRIBED" or any(str(x.get("status")).upper() == "UNSUBSCRIBED" for x in subs):
            change = "UNSUBSCRIBED"
        elif portal == "SUBSCRIBED" or any(str(x.get("status")).upper() == "SUBSCRIBED" for x in subs):
            change = "SUBSCRIBED"
    if change not in _STATUS_CHANGES:
        raise ValueError(f"email status change {change or 'without a change'} is not tracked")
    kind, name = _STATUS_CHANGES[change]
    props: dict[str, Any] = {"status_change": name, "source": event.get("source")}
    if kind is ActivityType.UNSUBSCRIBE:
        props["scope"] = "all" if portal == "UNSUBSCRIBED" or not subs else "some_types"
    return kind, props


def email_event_activity(connector: str, event: dict[str, Any]) -> Activity:
    props: dict[str, Any] = {"campaign": event.get("emailCampaignId")}
    if event.get("type") == "STATUSCHANGE":
        kind, extra = status_change(event)
        props.update(extra)
    else:
        found = EMAIL_EVENT_TYPES.get(str(event.get("type")))
        if found is None:
            raise ValueError(f"email event type {event.get('type')!r} is not tracked")
        kind = found
    at = parse_ms(event.get("created"))
    if at is None or not event.get("recipient"):
        raise ValueError("email event without time or recipient")
    return Activity(
        contact_email=str(event["recipient"]),
        type=kind,
        channel="email",
        occurred_at=at,
        properties=props,
        source=connector,
        external_id=f"email:{event.get('id')}",
    )


def form_activity(connector: str, form_id: str, sub: dict[str, Any]) -> Activity:
    values = {v.get("name"): v.get("value") for v in sub.get("values") or [] if isinstance(v, dict)}
    at = parse_ms(sub.get("submittedAt"))
    if at is None or not values.get("email"):
        raise ValueError("form submission without time or email")
    name = str(values.get("form_name") or "")
    kind = (
        ActivityType.WEBINAR
        if "webinar" in name.lower()
        else ActivityType.CONTENT_DOWNLOAD
        if name
        else ActivityType.FORM_SUBMIT
    )
    return Activity(
        contact_email=str(values["email"]),
        type=kind,
        channel="web",
        occurred_at=at,
        properties={"form": form_id, "name": name, "page": sub.get("pageUrl")},
        source=connector,
        external_id=f"form:{sub.get('conversionId') or form_id + ':' + str(sub.get('submittedAt'))}",
    )


# a meeting or call in these states has no outcome yet: it is read again when it gets one
_PENDING = {"SCHEDULED", "RESCHEDULED", "QUEUED", "RINGING", "IN_PROGRESS", "CONNECTING", "CALLING_CRM_USER"}


def engagement_activity(connector: str, kind: str, record: dict[str, Any]) -> list[Activity]:
    """A meeting or call with an outcome becomes one activity per associated contact, keyed by
    the outcome too: a later, different outcome (COMPLETED, then NO_SHOW) is a new fact."""
    p = record.get("properties") or {}
    outcome = str((p.get("hs_meeting_outcome") if kind == "meetings" else p.get("hs_call_status")) or "").upper()
    if outcome in _PENDING:
        raise ValueError(f"{kind} {record.get('id')} without an outcome yet is not tracked")
    at = parse_ms(p.get("hs_timestamp") or p.get("hs_meeting_start_time") or record.get("createdAt"))
    if at is None:
        raise ValueError(f"{kind} without a timestamp")
    assoc = ((record.get("associations") or {}).get("contacts") or {}).get("results") or []
    activity_type = ActivityType.MEETING if kind == "meetings" else ActivityType.CALL
    return [
        Activity(
            contact_ref=Identity(connector=connector, object_type=OBJECT_TYPE, external_id=str(a["id"])),
            type=activity_type,
            channel="sales",
            occurred_at=at,
            properties={
                k: v for k, v in p.items() if k in ("hs_meeting_outcome", "hs_call_status", "hs_call_direction")
            },
            source=connector,
            external_id=f"{kind}:{record.get('id')}:{a['id']}" + (f":{outcome}" if outcome else ""),
        )
        for a in assoc
        if isinstance(a, dict) and a.get("id")
    ]


_CLOSED_STAGES = {"closedwon": True, "closedlost": False}  # the default pipeline's closing stage ids


def deal_activities(connector: str, record: dict[str, Any]) -> list[Activity]:
    """A deal -> ``opportunity_created`` (at ``createdate``) and, once closed,
    ``opportunity_won`` or ``opportunity_lost`` (at ``closedate``), each with its ``amount``,
    for its first associated contact: the same outcome records a Salesforce Opportunity gives,
    and one contact per deal so a deal's pipeline is counted once. Closed and won come from
    HubSpot's calculated ``hs_is_closed`` / ``hs_is_closed_won`` (any pipeline), else from
    the default pipeline's stage ids. Keys are stable per deal and event, so re-reading a
    changed deal adds nothing twice."""
    p = record.get("properties") or {}
    assoc = ((record.get("associations") or {}).get("contacts") or {}).get("results") or []
    ids = [str(a["id"]) for a in assoc if isinstance(a, dict) and a.get("id")]
    if not ids:
        return []
    created = parse_ms(p.get("createdate") or record.get("createdAt"))
    if created is None:
        raise ValueError(f"deal {record.get('id')} without a createdate")
    rid = record.get("id")
    ref = Identity(connector=connector, object_type=OBJECT_TYPE, external_id=ids[0])
    stage = str(p.get("dealstage") or "")
    props = {"amount": _float(p.get("amount")) or 0.0, "stage": stage}
    out = [
        Activity(
            contact_ref=ref,
            type=ActivityType.OPPORTUNITY_CREATED,
            channel="hubspot",
            occurred_at=created,
            properties=props,
            source=connector,
            external_id=f"deals:{rid}:created",
        )
    ]
    flag = p.get("hs_is_closed")
    closed = str(flag).lower() == "true" if flag not in (None, "") else stage in _CLOSED_STAGES
    if closed:
        won_flag = p.get("hs_is_closed_won")
        won = str(won_flag).lower() == "true" if won_flag not in (None, "") else _CLOSED_STAGES.get(stage, False)
        at = parse_ms(p.get("closedate")) or parse_ms(p.get("hs_lastmodifieddate")) or created
        out.append(
            Activity(
                contact_ref=ref,
                type=ActivityType.OPPORTUNITY_WON if won else ActivityType.OPPORTUNITY_LOST,
                channel="hubspot",
                occurred_at=max(at, created),
                properties=props,
                source=connector,
                external_id=f"deals:{rid}:closed",
            )
        )
    return out


def field_value(field: str, value: Any, zone: str = "UTC", now: datetime | None = None) -> str:
    """HubSpot takes strings; numbers without trailing '.0'; datetime fields as an instant in
    ISO UTC. HubSpot reads a bare number as epoch milliseconds (its timestamp FAQ), so the
    engine's bare local hour ("14") would land on 1970-01-01: it is written as the next such
    hour in ``zone`` (the portal's time zone), as the Salesforce connector does. Text longer
    than HubSpot holds is clipped; numbers and options lose surrounding spaces. Raises
    ValueError for a datetime field value that is no time at all, or a number field value that
    is no finite number."""
    kind = FIELD_TYPES.get(field)
    if kind == "datetime" and value not in (None, ""):
        return iso_utc(to_instant(value, zone, now or datetime.now(UTC)))
    if kind == "number" and value not in (None, ""):
        return _number(field, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()
    text = "" if value is None else str(value)
    if kind in ("string", "text"):
        return clip_text(text, STRING_MAX)
    # HubSpot refuses a number or option with spaces around it (LEADING_TRAILING_WHITESPACE)
    return text.strip() if kind else text


def stored_value(field: str, value: Any) -> Any:
    """A hub value as HubSpot keeps it once written: what ``field_value`` sends (text clipped,
    numbers and options trimmed; a number property keeps the digits it is given). A datetime,
    or a value ``field_value`` refuses (nothing is stored), is returned as it is."""
    if FIELD_TYPES.get(field) == "datetime":
        return value
    try:
        return field_value(field, value)
    except ValueError:
        return value


def _number(field: str, value: Any) -> str:
    """A number field's value as HubSpot reads it. A NaN score or a word is refused here, for
    that record alone: HubSpot's 400 for it refuses the whole batch, which is then split."""
    text = str(value).strip()
    if isinstance(value, bool) or not _NUMBER.match(text) or not math.isfinite(float(text)):
        raise ValueError(f"{field}: {str(value)[:60]!r} is not a finite number")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return text


def to_instant(value: Any, zone: str, now: datetime) -> datetime:
    """A hub datetime value (bare local hour, ISO string, epoch ms, datetime) as aware UTC."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    m = _BARE_HOUR.match(value) if isinstance(value, str) else None
    if m:
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        if hour > 23 or minute > 59:
            raise ValueError(f"{value!r} is not an hour of the day")
        local_now = now.astimezone(ZoneInfo(zone))
        at = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return (at + timedelta(days=1) if at <= local_now else at).astimezone(UTC)
    ts = parse_ms(value)
    if ts is None:
        raise ValueError(f"{str(value)[:60]!r} is not a date and time")
    return ts.astimezone(UTC)


def iso_utc(ts: datetime) -> str:
    """The form HubSpot returns datetimes in: ``2026-01-05T14:00:00.000Z``."""
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


@functools.cache
def _zones_by_folded_name() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def iana_zone(value: str | None) -> str | None:
    """The IANA name of a HubSpot time zone. HubSpot keeps ``hs_timezone`` as a slug of it,
    ``america_slash_new_york`` or ``america_slash_port_hyphen_au_hyphen_prince``, which no
    time zone library reads: every contact's send time fell back to UTC. A value that names no
    zone is kept as it is (the engine then treats the zone as unknown)."""
    if not value:
        return value
    name = value.strip().replace("_slash_", "/").replace("_hyphen_", "-")
    return _zones_by_folded_name().get(name.lower(), value)


def read_only(have: dict[str, Any]) -> bool:
    """Does HubSpot set this property itself and refuse every write to it (READ_ONLY_VALUE)?
    Its definition says so in ``modificationMetadata.readOnlyValue`` (calculated, analytics and
    system properties, as in amp-labs/connectors' recorded property answers)."""
    return bool((have.get("modificationMetadata") or {}).get("readOnlyValue"))


def lacking_options(definition: dict[str, Any], have: dict[str, Any]) -> list[str]:
    """The hub's enumeration values an existing property has no option for (a dropdown mapped
    in with ``field_mapping``): HubSpot refuses a whole record for a value not among them."""
    if not definition.get("options") or have.get("type") != "enumeration":
        return []
    present = {str(o.get("value")) for o in have.get("options") or []}
    return [o["value"] for o in definition["options"] if o["value"] not in present]
