"""The hidden truth of the market: how people respond to the hub's actions.

This is the ONE place the formulas live; the market draws from them and the oracle takes their
expectation, so benchmarks measure regret against exactly what the market does.

For person i, catalog action a, local send hour h and channel c (vectors over people):

- relevance ``r = m(topic, affinity_i) * PERSONA[a, role_i] * appeal(topic, day)`` where
  ``m = affinity`` for technical topics, ``1 - affinity`` for business, 0.5 for none, and
  ``appeal`` is 1 except after the regime shift day, when the shifted topic's appeal is
  multiplied by ``RegimeShift.factor``.
- stage fit ``s = STAGE_FIT[a, stage_i]`` (sales too early has s close to 0).
- timing ``t = 0.55 + 0.65 * exp(-(d/2)^2)`` with d the circular distance in hours between h and
  the person's hidden preferred hour (1.2 at the right hour, 0.55 far away).
- channel ``ch = 1.3`` when c is the hidden preferred channel, else 0.8.
- fatigue: ``over = max(0, touches_7d + 1 - tolerance_i)``; opens are divided by ``1 + 0.5 over``
  and the unsubscribe probability grows by ``0.08 over``.

Email and content offers: ``p_open = min(0.9, 0.35 t ch (0.6 + 0.4 r) / (1 + 0.5 over))``,
``p_click = p_open min(0.9, 0.35 r s)``, ``p_form = p_click s (0.45 offers, 0.15 emails)``,
webinar attendance ``0.6 p_click``; meetings ``p_click * 0.25 s`` for the demo offer, else
``p_click * 0.02 s``. Sales outreach: ``reach = min(0.9, 0.4 ch t)``,
``p_meeting = reach 0.5 s PERSONA``; before consideration it adds 0.08 to unsubscribes and burns
the contact (win probability -0.25 for good). Ads: ``p_click = 0.02 r ch s``, no fatigue.
Opportunities: ``p_opp = p_meeting (0.25 + 0.5 intent)`` (x0.3 before consideration, 0 for
customers and for anyone whose opportunity is still open); win
``p_win = clip(0.2 + 0.4 fit + 0.2 intent - 0.25 burned, 0.02, 0.9)``; deal value ``4000 (1 + band)^1.6 (0.6 + 0.8 fit)``. Unsubscribes: mail ``0.001 + 0.002 (1 - min(r, 1))
+ 0.08 over`` (irrelevant mail annoys), plus the sales terms above. Nothing reaches people
without consent (email opt-out, do-not-call).
Intent: an open adds ``0.04 r s``, a click ``0.06 r``, early sales outreach removes 0.08.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hub.sandbox.catalog import CATALOG, CHANNELS, TOPICS
from hub.sandbox.population import Population

A = len(CATALOG)
KIND = np.asarray([("email", "content_offer", "sales_outreach", "ad_audience", "wait").index(a.kind) for a in CATALOG])
TOPIC = np.asarray([TOPICS.index(a.topic) for a in CATALOG])
CHANNEL = np.asarray([CHANNELS.index(a.channel) for a in CATALOG])
IS_DEMO = np.asarray([a.id == "product_demo_offer" for a in CATALOG])
IS_WEBINAR = np.asarray([a.format == "webinar" for a in CATALOG])
K_EMAIL, K_OFFER, K_SALES, K_AD, K_WAIT = range(5)

#                unaware aware consid decision customer
STAGE_FIT = np.asarray(
    [
        [0.6, 1.0, 0.9, 0.5, 0.3],  # email_nurture_technical
        [0.6, 1.0, 0.9, 0.5, 0.3],  # email_nurture_business
        [0.4, 0.9, 1.0, 0.6, 0.3],  # content_offer_whitepaper
        [0.2, 0.6, 1.0, 1.0, 0.4],  # content_offer_case_study
        [0.3, 0.9, 1.0, 0.6, 0.5],  # webinar_invite
        [0.05, 0.2, 0.7, 1.0, 0.2],  # product_demo_offer
        [0.02, 0.1, 0.5, 1.0, 0.3],  # sales_outreach
        [0.5, 0.7, 0.7, 0.6, 0.2],  # ad_retarget
        [0.0, 0.0, 0.0, 0.0, 0.0],  # wait
    ]
)
#                technical business executive
PERSONA = np.asarray(
    [
        [1.0, 0.5, 0.4],
        [0.5, 1.0, 0.9],
        [1.1, 0.5, 0.4],
        [0.5, 1.0, 1.2],
        [1.0, 0.7, 0.5],
        [0.7, 0.9, 1.2],
        [0.6, 0.9, 1.1],
        [0.8, 0.8, 0.8],
        [0.0, 0.0, 0.0],
    ]
)
assert STAGE_FIT.shape == (A, 5) and PERSONA.shape == (A, 3)


@dataclass(frozen=True)
class RegimeShift:
    """From ``day`` on, the appeal of ``topic`` is multiplied by ``factor``; None = never."""

    day: int | None = None
    topic: str = "technical"
    factor: float = 0.5


@dataclass(frozen=True)
class RewardWeights:
    """What each outcome is worth; ``revenue`` multiplies the won deal value."""

    open: float = 0.1
    click: float = 1.0
    form: float = 5.0
    meeting: float = 20.0
    opportunity: float = 50.0
    revenue: float = 0.001
    unsubscribe: float = -30.0


def appeal(day: int, shift: RegimeShift) -> np.ndarray:
    """Per-topic appeal multipliers on ``day`` (indexed like catalog.TOPICS)."""
    out = np.ones(len(TOPICS))
    if shift.day is not None and day >= shift.day:
        out[TOPICS.index(shift.topic)] *= shift.factor
    return out


def deal_value(pop: Population, idx: np.ndarray) -> np.ndarray:
    """Deal size for people ``idx``: grows with company size and fit."""
    return 4000.0 * (1.0 + pop.band[idx]) ** 1.6 * (0.6 + 0.8 * pop.fit[idx])


def win_probability(pop: Population, intent: np.ndarray, burned: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.clip(0.2 + 0.4 * pop.fit[idx] + 0.2 * intent[idx] - 0.25 * burned[idx], 0.02, 0.9)


def response_probabilities(
    pop: Population,
    intent: np.ndarray,
    stage: np.ndarray,
    touches_7d: np.ndarray,
    unsubscribed: np.ndarray,
    burned: np.ndarray,
    opp_open: np.ndarray,
    idx: np.ndarray,
    action: np.ndarray,
    local_hour: np.ndarray,
    channel: np.ndarray,
    day: int,
    shift: RegimeShift,
) -> dict[str, np.ndarray]:
    """Probabilities of each outcome when ``action[k]`` reaches person ``idx[k]``.

    All outputs are unconditional (``click`` already includes the open). Keys: open, click,
    form, webinar, meeting, opportunity, win, value, unsubscribe, relevance, stage_fit.
    A person with an open opportunity cannot get a second one (``opp_open``), so their
    ``opportunity`` is 0 and an action's expected reward does not count one.
    """
    kind = KIND[action]
    role = pop.role[idx]
    st = stage[idx]
    aff = pop.affinity[idx]
    topic = TOPIC[action]
    m = np.where(topic == 0, aff, np.where(topic == 1, 1.0 - aff, 0.5))
    r = m * PERSONA[action, role] * appeal(day, shift)[topic]
    s = STAGE_FIT[action, st]
    d = np.abs(local_hour - pop.pref_hour[idx]) % 24
    d = np.minimum(d, 24 - d)
    t = 0.55 + 0.65 * np.exp(-((d / 2.0) ** 2))
    ch = np.where(channel == pop.pref_channel[idx], 1.3, 0.8)
    over = np.maximum(0, touches_7d[idx] + 1 - pop.tolerance[idx])
    mail_ok = pop.email_consent[idx] & ~unsubscribed[idx]
    phone_ok = ~pop.do_not_call[idx] & ~unsubscribed[idx]

    is_mail = (kind == K_EMAIL) | (kind == K_OFFER)
    p_open = np.where(is_mail & mail_ok, np.minimum(0.9, 0.35 * t * ch * (0.6 + 0.4 * r) / (1 + 0.5 * over)), 0.0)
    p_click = p_open * np.minimum(0.9, 0.35 * r * s)
    ad_click = np.where(kind == K_AD, 0.02 * r * ch * s, 0.0)
    p_click = p_click + ad_click
    p_form = np.where(kind == K_OFFER, 0.45, np.where(kind == K_AD, 0.2, 0.15)) * p_click * s
    p_web = np.where(IS_WEBINAR[action], 0.6 * p_click, 0.0)
    reach = np.where((kind == K_SALES) & phone_ok, np.minimum(0.9, 0.4 * ch * t), 0.0)
    p_meet = np.where(
        kind == K_SALES,
        reach * 0.5 * s * PERSONA[action, role],
        p_click * np.where(IS_DEMO[action], 0.25, 0.02) * s,
    )
    early = st < 2
    p_opp = p_meet * (0.25 + 0.5 * intent[idx]) * np.where(early, 0.3, 1.0) * (st < 4) * ~opp_open[idx]
    will_burn = (kind == K_SALES) & early & (reach > 0)
    p_win = np.clip(0.2 + 0.4 * pop.fit[idx] + 0.2 * intent[idx] - 0.25 * (burned[idx] | will_burn), 0.02, 0.9)
    p_unsub = np.where(is_mail & mail_ok, 0.001 + 0.002 * (1 - np.minimum(r, 1.0)) + 0.08 * over, 0.0)
    p_unsub = p_unsub + np.where(kind == K_SALES, reach * (0.01 + 0.08 * early) + 0.08 * over, 0)
    p_unsub = np.where(unsubscribed[idx], 0.0, np.minimum(p_unsub, 0.6))
    return {
        "open": p_open,
        "click": p_click,
        "form": p_form,
        "webinar": p_web,
        "meeting": p_meet,
        "opportunity": p_opp,
        "win": p_win,
        "value": deal_value(pop, idx),
        "unsubscribe": p_unsub,
        "relevance": r,
        "stage_fit": s,
        "reach": reach,
        "burn": will_burn,
    }


def expected_reward(p: dict[str, np.ndarray], w: RewardWeights) -> np.ndarray:
    """Expected immediate reward of one action given its outcome probabilities."""
    return (
        w.open * p["open"]
        + w.click * p["click"]
        + w.form * (p["form"] + p["webinar"])
        + w.meeting * p["meeting"]
        + w.opportunity * p["opportunity"]
        + w.revenue * p["opportunity"] * p["win"] * p["value"]
        + w.unsubscribe * p["unsubscribe"]
    )


def counts_as_touch(action: np.ndarray) -> np.ndarray:
    """Mail and calls count toward the fatigue window; ads and waiting do not."""
    k = KIND[action]
    return (k == K_EMAIL) | (k == K_OFFER) | (k == K_SALES)
