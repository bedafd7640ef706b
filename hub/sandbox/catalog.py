"""The action catalog: the stable ids the engine, the demo config and the market share.

Ids never change once published; the market looks actions up by id in the CRM field the hub
writes, and the oracle and playbook index arrays by catalog position.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("email", "content_offer", "sales_outreach", "ad_audience", "wait")
CHANNELS = ("email", "phone", "ads", "none")
TOPICS = ("technical", "business", "none")


@dataclass(frozen=True)
class CatalogAction:
    """One thing the hub can tell the market to do to a contact."""

    id: str
    kind: str
    channel: str
    topic: str
    format: str
    description: str


CATALOG: tuple[CatalogAction, ...] = (
    CatalogAction(
        "email_nurture_technical",
        "email",
        "email",
        "technical",
        "email",
        "Nurture email with technical content (architecture, docs, how-tos).",
    ),
    CatalogAction(
        "email_nurture_business",
        "email",
        "email",
        "business",
        "email",
        "Nurture email with business content (ROI, pricing, outcomes).",
    ),
    CatalogAction(
        "content_offer_whitepaper",
        "content_offer",
        "email",
        "technical",
        "whitepaper",
        "Gated technical whitepaper offer.",
    ),
    CatalogAction(
        "content_offer_case_study",
        "content_offer",
        "email",
        "business",
        "case_study",
        "Customer case study offer.",
    ),
    CatalogAction(
        "webinar_invite",
        "email",
        "email",
        "technical",
        "webinar",
        "Invitation to a live product webinar.",
    ),
    CatalogAction(
        "product_demo_offer",
        "content_offer",
        "email",
        "business",
        "demo",
        "Offer of a personalised product demo (a meeting if accepted).",
    ),
    CatalogAction(
        "sales_outreach",
        "sales_outreach",
        "phone",
        "business",
        "call",
        "A sales rep calls and emails the contact.",
    ),
    CatalogAction(
        "ad_retarget",
        "ad_audience",
        "ads",
        "business",
        "display_ad",
        "Add the contact to a retargeting ad audience.",
    ),
    CatalogAction("wait", "wait", "none", "none", "none", "Do nothing now; avoids fatigue."),
)

ACTION_IDS: tuple[str, ...] = tuple(a.id for a in CATALOG)
ACTION_INDEX: dict[str, int] = {a.id: i for i, a in enumerate(CATALOG)}


def get_action(action_id: str) -> CatalogAction:
    """Return the catalog entry for ``action_id``; KeyError names the unknown id."""
    try:
        return CATALOG[ACTION_INDEX[action_id]]
    except KeyError:
        raise KeyError(f"unknown action id {action_id!r}; known: {', '.join(ACTION_IDS)}") from None
