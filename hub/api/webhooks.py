"""Inbound CRM webhooks: verify the sender, then sync the connector that changed.

HubSpot signs with ``X-HubSpot-Signature-v3``: base64(HMAC-SHA256(client secret, method +
URI + body + timestamp)), with the timestamp (milliseconds) in ``X-HubSpot-Request-Timestamp``
and requests older than the max age (HubSpot says 5 minutes) rejected. The URI is the full
URL HubSpot called, with a few percent-escapes decoded (HubSpot's request validation docs).
Salesforce (a Flow or Apex callout) sends a shared secret header. Both are compared in
constant time. The payload only says *that* records changed; the sync reads *what*.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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


def verify_salesforce(settings: Settings, presented: str | None) -> None:
    secret = settings.api.salesforce_shared_secret
    if secret is None:
        raise Problem(404, "Webhook not configured", "set api.salesforce_shared_secret to receive Salesforce webhooks")
    if not presented:
        raise Problem(401, "Unsigned webhook", "send the shared secret in X-Hub-Webhook-Secret")
    if not hmac.compare_digest(secret.get_secret_value().encode(), presented.encode()):
        raise Problem(401, "Bad secret", "the X-Hub-Webhook-Secret does not match")


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
