"""Salesforce wire fakes for unit tests: ``responses`` answers in Salesforce's own shapes."""

from __future__ import annotations

from typing import Any

import responses

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector

INSTANCE = "na1.example.my.salesforce.com"
BASE = f"https://{INSTANCE}/services/data/v59.0"
SOAP_LOGIN = "https://login.salesforce.com/services/Soap/u/59.0"


def soap_ok(session: str = "00Dxx!SESSION") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        f"<soapenv:Body><loginResponse><result><sessionId>{session}</sessionId>"
        f"<serverUrl>https://{INSTANCE}/services/Soap/u/59.0/00Dxx</serverUrl>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )


# wire tests pin REST reading; Bulk API 2.0 (chosen by a COUNT() first) has its sandbox tests
REST_ONLY: dict[str, Any] = {"bulk_threshold": None}


def password_settings(**kw: Any) -> SalesforceSettings:
    return SalesforceSettings(
        username="hub@example.com", password="s3cr3t-pw", security_token="T0KEN-xyz", **{**REST_ONLY, **kw}
    )


def session_settings(**kw: Any) -> SalesforceSettings:
    return SalesforceSettings(session_id="00Dxx!BARE", instance_url=f"https://{INSTANCE}", **{**REST_ONLY, **kw})


def connector(settings: SalesforceSettings | None = None, mapping: dict[str, str] | None = None) -> SalesforceConnector:
    conn = SalesforceConnector("sf", settings or session_settings(), mapping or {})
    conn.client.sleep = lambda s: None
    return conn


def sf_error(code: str, message: str = "") -> list[dict[str, str]]:
    return [{"errorCode": code, "message": message or code}]


def limit_header(used: int, total: int = 100_000) -> dict[str, str]:
    return {"Sforce-Limit-Info": f"api-usage={used}/{total}"}


def describe(name: str, extra: dict[str, str] | None = None, **flags: bool) -> dict[str, Any]:
    """A describe with the standard fields the connector reads plus ``extra`` name -> type."""
    fields = [{"name": n, "type": "string", "updateable": True} for n in ("Id", "Email", "SystemModstamp", "Type")]
    fields += [{"name": n, "type": t, "updateable": True} for n, t in (extra or {}).items()]
    return {"name": name, "queryable": True, "updateable": True, "createable": True, **flags, "fields": fields}


def add_describe(rsps: responses.RequestsMock, name: str, extra: dict[str, str] | None = None) -> None:
    rsps.get(f"{BASE}/sobjects/{name}/describe", json=describe(name, extra))


def add_deleted(rsps: responses.RequestsMock, name: str, earliest: str = "2025-11-01T00:00:00.000+0000") -> None:
    """``GET /sobjects/{name}/deleted/``: no deletions, ``earliest`` as earliestDateAvailable."""
    rsps.get(
        f"{BASE}/sobjects/{name}/deleted/",
        json={"deletedRecords": [], "earliestDateAvailable": earliest, "latestDateCovered": earliest},
    )


def query_page(records: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"totalSize": len(records), "done": next_url is None, "records": records}
    if next_url:
        body["nextRecordsUrl"] = next_url
    return body


def person(rid: str, stamp: str, **fields: Any) -> dict[str, Any]:
    rec = {"attributes": {"type": "Contact"}, "Id": rid, "IsDeleted": False, "SystemModstamp": stamp}
    rec.update(fields)
    return rec
