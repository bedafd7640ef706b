"""The fields the hub writes into CRMs, by hub name. Connectors map these to vendor names.

Every connector's ``ensure_schema`` creates all of them; ``field_mapping`` in hub.yaml can
rename any of them for one connector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldType = Literal["string", "text", "number", "datetime", "enumeration"]


@dataclass(frozen=True)
class HubField:
    name: str
    label: str
    type: FieldType
    description: str
    #: the values an ``enumeration`` field takes (decision/channel.py CHANNELS for best_channel)
    options: tuple[str, ...] = ()


HUB_FIELDS: tuple[HubField, ...] = (
    HubField("next_best_action", "Next best action", "string", "The action Decision Hub chose for this contact."),
    HubField("reason", "Next best action reason", "text", "Why, in plain words, with the top factors."),
    HubField("lead_score", "Lead score", "number", "0-100: calibrated chance of an opportunity within 90 days."),
    HubField(
        "conversion_probability", "Conversion probability", "number", "0-1 chance of an opportunity within 90 days."
    ),
    HubField("expected_value", "Expected value", "number", "Expected deal value times probability."),
    HubField("best_send_time", "Best send time", "datetime", "Next best send time, in the contact's timezone."),
    HubField(
        "best_channel",
        "Best channel",
        "enumeration",
        "email, ad_audience, sales_call or direct_mail.",
        options=("email", "ad_audience", "sales_call", "direct_mail"),
    ),
    HubField("content_subject", "Content: subject line", "string", "Subject line variant for the next email."),
    HubField("content_hero", "Content: hero", "string", "Hero variant for the next email or page."),
    HubField("content_body", "Content: body", "string", "Body variant for the next email."),
    HubField("content_cta", "Content: call to action", "string", "Call-to-action variant."),
    HubField("experiment_arm", "Experiment arm", "string", "engine, holdout (legacy rules) or control."),
    HubField("decision_id", "Decision id", "string", "The hub decision these fields came from."),
)

HUB_FIELD_NAMES: frozenset[str] = frozenset(f.name for f in HUB_FIELDS)

ELLIPSIS = "\u2026"


def utf16_length(text: str) -> int:
    """The length CRMs built on Java measure: UTF-16 units, so an emoji or other character
    outside the Basic Multilingual Plane counts two (Salesforce help 005166849, "Surrogate Pair
    Characters Are Treated as Two Characters")."""
    return len(text.encode("utf-16-le")) // 2


def clip_text(text: str, limit: int) -> str:
    """``text`` within ``limit`` (as :func:`utf16_length` counts), cut on a whole character and
    ending in an ellipsis when cut: a CRM refuses the whole record for a longer value, and a
    reader sees that the text goes on."""
    if utf16_length(text) <= limit:
        return text
    room = limit - 1  # the ellipsis is one unit
    out = []
    for ch in text:
        room -= 2 if ord(ch) > 0xFFFF else 1
        if room < 0:
            break
        out.append(ch)
    return "".join(out) + ELLIPSIS
