"""Salesforce look-alike, Metadata API (SOAP ``/services/Soap/m/{version}``): createMetadata and
readMetadata of CustomField, as simple-salesforce's ``sf.mdapi`` (zeep) sends them.

Rules from the Metadata API Developer Guide ("CustomField", "createMetadata()", "SaveResult"):
a field's ``fullName`` is ``Object.Name__c``; ``label`` and ``type`` are required; Text needs a
``length`` of 1-255, Number a ``precision`` of 1-18 and a ``scale`` no bigger, LongTextArea a
``length`` of 256-131,072 and ``visibleLines``, Picklist a ``valueSet``; a name already in use is
refused with DUPLICATE_DEVELOPER_NAME. Each component gets its own SaveResult (``success``,
``errors``), the call as a whole succeeds. A session is checked from the SOAP ``SessionHeader``;
a user without "Customize Application" gets an INSUFFICIENT_ACCESS fault. A created field has no
field-level security (``SalesforceState.no_fls``): describe omits it until a permission set
grants it. Fields of a new org the hub has not set up yet are ``SalesforceState.absent``.

The sandbox models only the field names its objects know (the hub's default names); any other
name is refused with a fault that says so.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

from hub.sandbox.httpkit import Request, Response
from hub.sandbox.salesforce_state import FIELDS

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MD = "http://soap.sforce.com/2006/04/metadata"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MAX_COMPONENTS = 10  # createMetadata / readMetadata take at most 10 components a call


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element) -> dict[str, ET.Element]:
    return {_local(c.tag): c for c in el}


def _envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP}" '
        f'xmlns="{MD}" xmlns:xsi="{XSI}"><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>'
    ).encode()


def fault(code: str, message: str) -> Response:
    body = f"<soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{escape(f'{code}: {message}')}</faultstring></soapenv:Fault>"
    return Response(500, raw=_envelope(body), content_type="text/xml; charset=utf-8")


def _int(fields: dict[str, ET.Element], name: str) -> int | None:
    el = fields.get(name)
    try:
        return int(float(el.text or "")) if el is not None else None
    except ValueError:
        return None


def field_problem(fields: dict[str, ET.Element]) -> tuple[str, str] | None:
    """(statusCode, message) for an invalid CustomField definition, None when it is valid."""
    kind = (fields["type"].text or "") if "type" in fields else ""
    if "label" not in fields or not (fields["label"].text or "").strip():
        return "REQUIRED_FIELD_MISSING", "Required field is missing: label"
    if not kind:
        return "REQUIRED_FIELD_MISSING", "Required field is missing: type"
    length, precision, scale = _int(fields, "length"), _int(fields, "precision"), _int(fields, "scale")
    if kind == "Text" and not (length and 1 <= length <= 255):
        return "FIELD_INTEGRITY_EXCEPTION", "Length: value must be between 1 and 255"
    if kind == "Number" and not (precision and 1 <= precision <= 18 and 0 <= (scale or 0) <= precision):
        return "FIELD_INTEGRITY_EXCEPTION", "Precision must be 1-18 and scale no greater than precision"
    if kind == "LongTextArea":
        if not (length and 256 <= length <= 131072):
            return "FIELD_INTEGRITY_EXCEPTION", "Length: value must be between 256 and 131,072"
        if not _int(fields, "visibleLines"):
            return "REQUIRED_FIELD_MISSING", "Required field is missing: visibleLines"
    if kind == "Picklist":
        values = fields.get("valueSet")
        if values is None or not values.findall(f".//{{{MD}}}value"):
            return "REQUIRED_FIELD_MISSING", "Required field is missing: valueSet"
    if kind not in ("Text", "Number", "LongTextArea", "Picklist", "DateTime", "Checkbox", "Date"):
        return "INVALID_TYPE", f"Invalid field type: {kind}"
    return None


class SalesforceMetadataRoutes:
    """The Metadata API endpoint for ``SalesforceApp``."""

    sf: Any
    creds: Any
    sessions: dict[str, float]
    _lock: Any

    def metadata_soap(self, req: Request) -> Response:
        try:
            root = ET.fromstring(req.body)
        except ET.ParseError:
            return fault("INVALID_XML", "the request is not well-formed XML")
        session = root.find(f".//{{{MD}}}SessionHeader/{{{MD}}}sessionId")
        with self._lock:
            exp = self.sessions.get((session.text or "") if session is not None else "")
        if exp is None or exp < time.monotonic():
            return fault("INVALID_SESSION_ID", "Invalid Session ID found in SessionHeader: Illegal Session")
        body = root.find(f"{{{SOAP}}}Body")
        call = next(iter(body), None) if body is not None else None
        name = _local(call.tag) if call is not None else ""
        if call is None or name not in ("createMetadata", "readMetadata"):
            return fault("UNKNOWN_OPERATION", f"the sandbox serves createMetadata and readMetadata, not {name!r}")
        if not self.creds.customize_application:
            return fault("INSUFFICIENT_ACCESS", "insufficient access rights on cross-reference id")
        if name == "createMetadata":
            return self._create_metadata(call)
        return self._read_metadata(call)

    def _split(self, full_name: str) -> tuple[str, str] | None:
        sobject, _, field = full_name.partition(".")
        return (sobject, field) if sobject in FIELDS and field in FIELDS[sobject] else None

    def _exists(self, sobject: str, field: str) -> bool:
        return field not in self.sf.absent.get(sobject, set())

    def _create_metadata(self, call: ET.Element) -> Response:
        components = [c for c in call if _local(c.tag) == "metadata"]
        if len(components) > MAX_COMPONENTS:
            return fault("LIMIT_EXCEEDED", f"at most {MAX_COMPONENTS} components per call")
        results = []
        for comp in components:
            fields = _children(comp)
            full = (fields["fullName"].text or "") if "fullName" in fields else ""
            kind = comp.get(f"{{{XSI}}}type", "").rsplit(":", 1)[-1]
            where = self._split(full)
            if kind != "CustomField" or where is None:
                return fault(
                    "UNSUPPORTED", f"the sandbox models only CustomField components of its known fields, not {full!r}"
                )
            sobject, field = where
            problem = field_problem(fields)
            if problem is None and self._exists(sobject, field):
                problem = ("DUPLICATE_DEVELOPER_NAME", f"There is already a field named {field} on {sobject}.")
            if problem is None:
                self.sf.absent[sobject].discard(field)
                self.sf.no_fls.setdefault(sobject, set()).add(field)  # no field-level security yet
                results.append(f"<result><fullName>{escape(full)}</fullName><success>true</success></result>")
            else:
                code, message = problem
                results.append(
                    f"<result><errors><message>{escape(message)}</message><statusCode>{code}</statusCode>"
                    f"</errors><fullName>{escape(full)}</fullName><success>false</success></result>"
                )
        body = f"<createMetadataResponse>{''.join(results)}</createMetadataResponse>"
        return Response(200, raw=_envelope(body), content_type="text/xml; charset=utf-8")

    def _read_metadata(self, call: ET.Element) -> Response:
        parts = _children(call)
        kind = (parts["type"].text or "") if "type" in parts else ""
        names = [c.text or "" for c in call if _local(c.tag) == "fullNames"]
        if len(names) > MAX_COMPONENTS:
            return fault("LIMIT_EXCEEDED", f"at most {MAX_COMPONENTS} components per call")
        records = []
        for full in names:
            where = self._split(full) if kind == "CustomField" else None
            if where is None or not self._exists(*where):
                records.append('<records xsi:type="CustomField"/>')  # what Salesforce sends for no such field
            else:
                label = escape(where[1].removesuffix("__c").replace("_", " "))
                records.append(
                    f'<records xsi:type="CustomField"><fullName>{escape(full)}</fullName>'
                    f"<label>{label}</label></records>"
                )
        body = f"<readMetadataResponse><result>{''.join(records)}</result></readMetadataResponse>"
        return Response(200, raw=_envelope(body), content_type="text/xml; charset=utf-8")
