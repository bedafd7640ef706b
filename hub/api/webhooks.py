"""Inbound CRM webhooks: verify the sender, then sync the connector that changed.

HubSpot signs with ``X-HubSpot-Signature-v3``: base64(HMAC-SHA256(client secret, method +
URI + body + timestamp)), with the timestamp (milliseconds) in ``X-HubSpot-Request-Timestamp``
and requests older than the max age (HubSpot says 5 minutes) rejected. The URI is the full
URL HubSpot called, with a few percent-escapes decoded (HubSpot's request validation docs).
Salesforce: a Flow or Apex callout sends a shared secret header; an outbound message (SOAP)
cannot add headers, so it is accepted by the ``OrganizationId`` it carries (Salesforce's own
advice, with its IP ranges and TLS), plus a secret in the endpoint URL when one is configured.
Secrets are compared in constant time. The payload only says *that* records changed; the sync
reads *what*.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

from hub.api.problems import Problem
from hub.config import Settings

# HubSpot decodes these escapes in the URI before signing
_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
MAX_BODY = 1_000_000


def hubspot_uri(uri: str) -> str:
    for enc, dec in _DECODE.items():
        uri = uri.replace(enc, dec).replace(enc.lower(), dec)
    return uri


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    source = method.encode() + hubspot_uri(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def verify_hubspot(
    settings: Settings,
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: float | None = None,
) -> None:
    secret = settings.api.hubspot_client_secret
    if secret is None:
        raise Problem(404, "Webhook not configured", "set api.hubspot_client_secret to receive HubSpot webhooks")
    if not signature or not timestamp:
        raise Problem(401, "Unsigned webhook", "X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 15:
        raise Problem(401, "Bad timestamp", "X-HubSpot-Request-Timestamp must be milliseconds since 1970")
    sent_ms = int(timestamp)
    age = (now if now is not None else time.time()) - sent_ms / 1000
    if abs(age) > settings.api.webhook_max_age:
        raise Problem(
            401,
            "Stale webhook",
            f"the request timestamp is {int(age)} s off; the limit is {settings.api.webhook_max_age} s",
        )
    expected = hubspot_signature(secret.get_secret_value(), method, uri, body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Problem(401, "Bad signature", "the X-HubSpot-Signature-v3 does not match this request")


# the organization an outbound message (SOAP) comes from; the id is 15 or 18 characters
_ORG_ID = re.compile(
    rb"<(?:[\w.-]+:)?OrganizationId>\s*([A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)\s*</(?:[\w.-]+:)?OrganizationId>"
)


def outbound_org_id(body: bytes) -> str | None:
    """The ``OrganizationId`` of a Salesforce outbound message, if the body names exactly one."""
    found = _ORG_ID.findall(body)
    return found[0].decode() if len(found) == 1 else None


def _same(expected: str, presented: str) -> bool:
    return hmac.compare_digest(expected.encode(), presented.encode())


def verify_salesforce(
    settings: Settings, presented: str | None, body: bytes = b"", url_secret: str | None = None
) -> None:
    """A callout's X-Hub-Webhook-Secret header, or an outbound message of the configured org.

    A 15-character org id is case-sensitive and an 18-character one adds a checksum of its
    case, so the first 15 are compared exactly, whichever form each side has. The org id is
    not a secret (it is in every Salesforce URL of the org): ``salesforce_outbound_secret``
    adds one to the endpoint URL."""
    api = settings.api
    secret, org = api.salesforce_shared_secret, api.salesforce_org_id
    if secret is None and org is None:
        raise Problem(
            404,
            "Webhook not configured",
            "set api.salesforce_shared_secret (Flow or Apex callouts) or api.salesforce_org_id (outbound messages)"
            " to receive Salesforce webhooks",
        )
    if presented:
        if secret is None or not _same(secret.get_secret_value(), presented):
            raise Problem(401, "Bad secret", "the X-Hub-Webhook-Secret does not match")
        return
    sent_org = outbound_org_id(body) if org is not None else None
    if sent_org is None:
        raise Problem(
            401,
            "Unsigned webhook",
            "send the shared secret in X-Hub-Webhook-Secret, or (an outbound message) set api.salesforce_org_id",
        )
    if not _same(org[:15], sent_org[:15]):
        raise Problem(401, "Unknown organization", "the outbound message's OrganizationId is not api.salesforce_org_id")
    want = api.salesforce_outbound_secret
    if want is not None and not _same(want.get_secret_value(), url_secret or ""):
        raise Problem(401, "Bad secret", "the endpoint URL's ?secret= does not match api.salesforce_outbound_secret")


def target_connector(settings: Settings, vendor: str, name: str | None) -> str:
    """The enabled connector to sync: the one named, or the only one of the vendor's type."""
    enabled = settings.enabled_connectors()
    if name is not None:
        if name not in enabled:
            raise Problem(404, "Unknown connector", f"no enabled connector named {name!r}")
        return name
    matches = [n for n, c in enabled.items() if c.type == vendor]
    if len(matches) != 1:
        found = "none" if not matches else ", ".join(matches)
        raise Problem(
            404, "Ambiguous connector", f"enabled {vendor} connectors: {found}; name one with ?connector=NAME"
        )
    return matches[0]
