"""The legacy playbook: the rules marketing ops really write, as the baseline to beat.

Points-based lead score from activities, an MQL threshold that hands the lead to sales, nurture
tracks by industry and role on a weekly cadence, and one fixed send time (10:00 in the portal's
time zone, America/New_York) for everyone. It sees only what a CRM shows, never hidden state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hub.sandbox.catalog import ACTION_INDEX
from hub.sandbox.market import EV, Market
from hub.sandbox.population import INDUSTRIES

POINTS = {
    "page_view": 2,
    "content_download": 10,
    "webinar": 15,
    "form_submit": 20,
    "meeting": 30,
    "email_open": 3,
    "email_click": 5,
    "ad_click": 2,
    "unsubscribe": -50,
}
TECH_INDUSTRIES = ("software", "telecommunications", "energy")


@dataclass(frozen=True)
class Playbook:
    """Rule parameters, as a marketing-ops admin would set them."""

    mql_threshold: int = 60
    portal_utc_offset: int = -5
    send_hour: int = 10
    cadence_days: int = 7

    def lead_score(self, market: Market) -> np.ndarray:
        """Sum of points over every activity the CRM has recorded for the person."""
        pts = np.zeros(market.counts.shape[1])
        for name, p in POINTS.items():
            pts[EV[name]] = p
        return market.counts @ pts

    def decide(self, market: Market) -> tuple[np.ndarray, np.ndarray]:
        """Action index and local send hour for every person, for today."""
        pop = market.pop
        n = pop.n
        score = self.lead_score(market)
        tech_ind = np.isin(
            pop.company_industry[pop.company], [INDUSTRIES.index(i) for i in TECH_INDUSTRIES]
        )
        nurture = np.where(
            pop.role == 0,
            ACTION_INDEX["email_nurture_technical"],
            ACTION_INDEX["email_nurture_business"],
        )
        week = market.day // self.cadence_days
        offer = np.where(
            tech_ind,
            ACTION_INDEX["content_offer_whitepaper"],
            ACTION_INDEX["content_offer_case_study"],
        )
        nurture = np.where(week % 2 == 1, offer, nurture)
        due = (np.arange(n) % self.cadence_days) == (market.day % self.cadence_days)
        action = np.where(due, nurture, ACTION_INDEX["wait"])
        action = np.where(score >= self.mql_threshold, ACTION_INDEX["sales_outreach"], action)
        blocked = market.unsubscribed | (market.stage == 4) | ~pop.email_consent
        action = np.where(blocked, ACTION_INDEX["wait"], action)
        local = (self.send_hour - self.portal_utc_offset + pop.tz_offset) % 24
        return action.astype(np.int64), local.astype(np.int64)
