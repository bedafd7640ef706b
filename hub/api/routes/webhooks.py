"""POST /v1/webhooks/{hubspot,salesforce}: a CRM says records changed; sync that connector."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from hub.api import webhooks
from hub.api.guard import json_shape_problem, limits_for
from hub.api.problems import Problem
from hub.api.schemas import WebhookOut
from hub.api.state import ApiState, hub_state

router = APIRouter(tags=["webhooks"])
#: the object type the HubSpot connector stores contacts' record ids under (its mapping's OBJECT_TYPE)
HUBSPOT_CONTACT = "contact"
ConnectorQ = Query(None, pattern=r"^[a-z][a-z0-9_]{0,39}$", description="which connector; default: the only one")


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > webhooks.MAX_BODY:
        raise Problem(413, "Too large", f"webhook bodies are limited to {webhooks.MAX_BODY} bytes")
    return body


def _hubspot_events(body: bytes) -> list[dict]:
    too_big = json_shape_problem(body, limits_for("/v1/webhooks/")[1])  # whatever the content type said
    if too_big:
        raise Problem(400, "Bad payload", too_big)
    try:
        events = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Problem(400, "Bad payload", "the body is not JSON") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise Problem(400, "Bad payload", "HubSpot sends a JSON array of event objects")
    return events


def _deletes(events: list[dict]) -> bool:
    """Any ``<object>.deletion`` (or ``contact.privacyDeletion``): the sync it queues must look
    for deletions now, not when its periodic walk of the archived list is due."""
    return any(str(e.get("subscriptionType", "")).lower().endswith("deletion") for e in events)


def _privacy_deletions(events: list[dict]) -> list[str]:
    """Record ids of ``contact.privacyDeletion`` events: HubSpot deleted the person for a
    privacy request (GDPR), for good, so the hub forgets them too (no sync would: the record
    is not in the archived list)."""
    ids = {str(e.get("objectId")) for e in events if e.get("subscriptionType") == "contact.privacyDeletion"}
    return sorted(i for i in ids if i.isdigit())


@router.post(
    "/v1/webhooks/hubspot",
    response_model=WebhookOut,
    responses={400: {}, 401: {}, 404: {}, 413: {}, 503: {"description": "broker unavailable; resend"}},
)
async def hubspot(
    request: Request,
    connector: str | None = ConnectorQ,
    signature: str | None = Header(None, alias="X-HubSpot-Signature-v3"),
    timestamp: str | None = Header(None, alias="X-HubSpot-Request-Timestamp"),
    state: ApiState = Depends(hub_state),
) -> WebhookOut:
    """Verify HubSpot's v3 signature and queue a sync of the HubSpot connector."""
    body = await _body(request)
    base = state.settings.api.public_url
    uri = f"{base.rstrip('/')}{request.url.path}" if base else str(request.url)
    if base and request.url.query:
        uri += f"?{request.url.query}"
    webhooks.verify_hubspot(state.settings, request.method, uri, body, signature, timestamp)
    name = webhooks.target_connector(state.settings, "hubspot", connector)
    events = _hubspot_events(body)
    forgotten = _privacy_deletions(events)
    forget = "not_needed"
    if forgotten:  # before the sync: a sync must not read the person in again meanwhile
        forget = await run_in_threadpool(state.dispatch.forget_records, name, HUBSPOT_CONTACT, forgotten)
    outcome = await run_in_threadpool(state.dispatch.sync, name, _deletes(events)) if events else "not_needed"
    return WebhookOut(connector=name, events=len(events), sync=outcome, forget=forget)


_SOAP_ACK = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    '<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>'
    "</notificationsResponse></soapenv:Body></soapenv:Envelope>"
)


@router.post(
    "/v1/webhooks/salesforce",
    response_model=WebhookOut,
    responses={401: {}, 404: {}, 413: {}, 503: {"description": "broker unavailable; resend"}},
)
async def salesforce(
    request: Request,
    connector: str | None = ConnectorQ,
    secret: str | None = Header(None, alias="X-Hub-Webhook-Secret"),
    url_secret: str | None = Query(None, alias="secret", max_length=200, include_in_schema=False),
    state: ApiState = Depends(hub_state),
) -> WebhookOut | Response:
    """Check the shared secret (or an outbound message's org) and queue a sync of the
    Salesforce connector.

    An outbound-message (SOAP) call gets the SOAP acknowledgement Salesforce waits for.
    """
    body = await _body(request)
    webhooks.verify_salesforce(state.settings, secret, body, url_secret)
    name = webhooks.target_connector(state.settings, "salesforce", connector)
    outcome = await run_in_threadpool(state.dispatch.sync, name)
    if "xml" in request.headers.get("content-type", ""):
        return Response(_SOAP_ACK, media_type="text/xml")
    return WebhookOut(connector=name, events=1, sync=outcome)
