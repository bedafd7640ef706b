"""The market simulator: latent state per person and one vectorized step per simulated day.

The step never loops over people in Python: state lives in numpy arrays (see population.py)
and the day's events come back as arrays too, so 100,000 people step in milliseconds. What the
CRMs see of all this is written by world.py; the formulas of responses live in ground_truth.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hub.sandbox import ground_truth as gt
from hub.sandbox.catalog import CATALOG, CHANNELS
from hub.sandbox.population import Population

EVENT_TYPES = (
    "page_view",
    "content_download",
    "webinar",
    "form_submit",
    "meeting",
    "call",
    "email_sent",
    "email_open",
    "email_click",
    "ad_click",
    "opportunity_created",
    "opportunity_won",
    "opportunity_lost",
    "unsubscribe",
)
EV = {name: i for i, name in enumerate(EVENT_TYPES)}
#: what people do on their own (``Market._organic``): their hour follows the preferred one; a
#: form can also answer a mail, so callers that need the organic ones alone also take action < 0
ORGANIC_TYPES = (EV["page_view"], EV["content_download"], EV["form_submit"])
PAGES = ("pricing", "product", "docs", "blog")
TOPIC_DETAIL = ("technical", "business")


@dataclass(frozen=True)
class MarketConfig:
    """Knobs of the world that are not the population itself."""

    seed: int = 0
    regime_shift: gt.RegimeShift = field(default_factory=gt.RegimeShift)
    weights: gt.RewardWeights = field(default_factory=gt.RewardWeights)


@dataclass
class ActionBatch:
    """Actions to execute today: person index, catalog index, local send hour, channel index,
    and optionally the hub's decision id per row (carried into the ground-truth log)."""

    idx: np.ndarray
    action: np.ndarray
    local_hour: np.ndarray
    channel: np.ndarray
    decision_id: np.ndarray | None = None

    @classmethod
    def empty(cls) -> ActionBatch:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z.copy(), z.copy(), z.copy())

    @classmethod
    def build(
        cls,
        idx: np.ndarray,
        action: np.ndarray,
        local_hour: np.ndarray | None = None,
        channel: np.ndarray | None = None,
    ) -> ActionBatch:
        """Fill defaults: hour 10 local, the action's own channel."""
        idx = np.asarray(idx, dtype=np.int64)
        action = np.asarray(action, dtype=np.int64)
        hour = np.full(len(idx), 10) if local_hour is None else np.asarray(local_hour)
        chan = gt.CHANNEL[action] if channel is None else np.asarray(channel)
        return cls(idx, action, hour.astype(np.int64), chan.astype(np.int64))


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=float), where=b > 0)


class Market:
    """Latent state of every person and the daily step. Deterministic for a given seed and
    sequence of action batches."""

    def __init__(self, pop: Population, config: MarketConfig | None = None) -> None:
        self.pop = pop
        self.config = config or MarketConfig()
        self.rng = np.random.default_rng([self.config.seed, 1])
        n = pop.n
        self.day = 0
        self.intent = pop.base_intent.copy()
        self.stage = np.where(pop.base_intent > 0.35, 2, np.where(pop.base_intent > 0.15, 1, 0))
        self.stage[self.rng.random(n) < 0.03] = 4
        self.touches = np.zeros((n, 7), dtype=np.uint8)
        self.unsubscribed = ~pop.email_consent.copy() & (self.rng.random(n) < 0.5)
        self.burned = np.zeros(n, dtype=bool)
        self.opp_open = np.zeros(n, dtype=bool)
        self.opp_close_day = np.zeros(n, dtype=np.int64)
        self.opp_value = np.zeros(n)
        self.counts = np.zeros((n, len(EVENT_TYPES)), dtype=np.int32)
        self.values = np.zeros((n, len(EVENT_TYPES)))  # summed event value (deal amounts) per person
        self.log: list[dict[str, np.ndarray]] = []

    @property
    def touches_7d(self) -> np.ndarray:
        return self.touches.sum(axis=1, dtype=np.int64)

    def probabilities(self, batch: ActionBatch, day: int | None = None) -> dict[str, np.ndarray]:
        """Ground-truth outcome probabilities for a batch, in today's state."""
        return gt.response_probabilities(
            self.pop,
            self.intent,
            self.stage,
            self.touches_7d,
            self.unsubscribed,
            self.burned,
            self.opp_open,
            batch.idx,
            batch.action,
            batch.local_hour,
            batch.channel,
            self.day if day is None else day,
            self.config.regime_shift,
        )

    def step(self, batch: ActionBatch | None = None) -> dict[str, np.ndarray]:
        """Simulate one day: execute ``batch``, then organic behaviour. Returns the day's events
        as arrays ``person, type, second (UTC second of the day), detail, value, action``."""
        batch = batch or ActionBatch.empty()
        pop = self.pop
        ev: list[tuple[np.ndarray, ...]] = []
        tz = pop.tz_offset

        def add(
            person: np.ndarray,
            etype: str,
            second: np.ndarray,
            detail: np.ndarray | int = 0,
            value: np.ndarray | float = 0.0,
            action: np.ndarray | int = -1,
        ) -> None:
            k = len(person)
            if k:
                ev.append(
                    (
                        person,
                        np.full(k, EV[etype]),
                        second.astype(np.int64),
                        np.broadcast_to(detail, k).astype(np.int64),
                        np.broadcast_to(value, k).astype(float),
                        np.broadcast_to(action, k).astype(np.int64),
                    )
                )

        if len(batch.idx):
            self._execute(batch, add, tz)
        self._organic(add, tz)
        self.day += 1
        # Free the new day's slot now, so the 7-day window (today plus the previous six days)
        # is right for anyone evaluating probabilities before the next step, the oracle too.
        self.touches[:, self.day % 7] = 0
        if not ev:
            z = np.zeros(0, dtype=np.int64)
            return {
                "person": z,
                "type": z,
                "second": z,
                "detail": z,
                "value": z.astype(float),
                "action": z,
            }
        cols = [np.concatenate(c) for c in zip(*ev, strict=True)]
        np.add.at(self.counts, (cols[0], cols[1]), 1)
        np.add.at(self.values, (cols[0], cols[1]), cols[4])
        order = np.lexsort((cols[1], cols[2]))
        keys = ("person", "type", "second", "detail", "value", "action")
        return {k: c[order] for k, c in zip(keys, cols, strict=True)}

    def _execute(self, b: ActionBatch, add, tz: np.ndarray) -> None:  # noqa: ANN001
        rng, pop = self.rng, self.pop
        p = self.probabilities(b)
        i, a = b.idx, b.action
        kind = gt.KIND[a]
        u = rng.random((7, len(i)))
        base_sec = ((b.local_hour - tz[i]) % 24) * 3600
        sec = lambda: base_sec + rng.integers(0, 3600, len(i))  # noqa: E731
        is_mail = (kind == gt.K_EMAIL) | (kind == gt.K_OFFER)
        sent = is_mail & pop.email_consent[i] & ~self.unsubscribed[i]
        opened = sent & (u[0] < p["open"])
        clicked = np.where(kind == gt.K_AD, u[1] < p["click"], opened & (u[1] < _ratio(p["click"], p["open"])))
        form = clicked & (u[2] < _ratio(p["form"], p["click"]))
        web = clicked & (u[3] < _ratio(p["webinar"], p["click"]))
        called = p["reach"] > 0
        meet = np.where(
            kind == gt.K_SALES,
            u[4] < p["meeting"],
            clicked & (u[4] < _ratio(p["meeting"], p["click"])),
        )
        opp = meet & (u[5] < _ratio(p["opportunity"], p["meeting"]))  # 0 while one is open (truth)
        unsub = u[6] < p["unsubscribe"]
        s = sec()
        add(i[sent], "email_sent", base_sec[sent], action=a[sent])
        add(i[opened], "email_open", s[opened], action=a[opened])
        cm, ca = clicked & is_mail, clicked & ~is_mail
        add(i[cm], "email_click", s[cm] + 60, action=a[cm])
        add(i[ca], "ad_click", s[ca], action=a[ca])
        add(i[form], "form_submit", s[form] + 120, detail=gt.TOPIC[a[form]], action=a[form])
        add(i[web], "webinar", s[web] + 1800, action=a[web])
        add(i[called], "call", base_sec[called], action=a[called])
        add(i[meet], "meeting", s[meet] + 600, action=a[meet])
        add(i[unsub], "unsubscribe", s[unsub] + 30, action=a[unsub])
        self._open_opportunities(i[opp], s[opp] + 900, p["value"][opp], add)
        r, st = p["relevance"], p["stage_fit"]
        np.add.at(self.intent, i, 0.04 * r * st * opened + 0.06 * r * clicked - 0.08 * p["burn"])
        np.clip(self.intent, 0, 1, out=self.intent)
        self.burned[i[p["burn"]]] = True
        touch = gt.counts_as_touch(a) & (sent | called)
        np.add.at(self.touches[:, self.day % 7], i[touch], 1)
        self.unsubscribed[i[unsub]] = True
        self.stage[i[(clicked | form) & (self.stage[i] == 0)]] = 1
        self.log.append(
            {
                "day": np.full(len(i), self.day),
                "person": i,
                "action": a,
                "local_hour": b.local_hour,
                "channel": b.channel,
                "expected_reward": gt.expected_reward(p, self.config.weights),
                "opened": opened,
                "clicked": clicked,
                "form": form | web,
                "meeting": meet,
                "opportunity": opp,
                "unsubscribe": unsub,
                "decision_id": (
                    np.full(len(i), None, dtype=object)
                    if b.decision_id is None
                    else np.asarray(b.decision_id, dtype=object)
                ),
            }
        )

    def _open_opportunities(self, who: np.ndarray, sec: np.ndarray, value: np.ndarray, add) -> None:  # noqa: ANN001
        self.opp_open[who] = True
        self.opp_close_day[who] = self.day + self.rng.integers(14, 60, len(who))
        self.opp_value[who] = np.round(value, 2)
        self.stage[who] = np.maximum(self.stage[who], 3)
        add(who, "opportunity_created", sec, value=self.opp_value[who])

    def _organic(self, add, tz: np.ndarray) -> None:  # noqa: ANN001
        rng, pop, n = self.rng, self.pop, self.pop.n
        intent = self.intent
        intent += 0.03 * (pop.base_intent - intent) + rng.normal(0, 0.012, n)
        np.clip(intent, 0, 1, out=intent)
        local = np.clip(pop.pref_hour + rng.integers(-3, 4, n), 0, 23)
        sec = ((local - tz) % 24) * 3600 + rng.integers(0, 3600, n)
        views = rng.poisson(0.03 + 0.3 * intent * intent)
        who = np.repeat(np.arange(n), views)
        if len(who):
            st, aff = self.stage[who], pop.affinity[who]
            w = np.stack([0.05 + 0.1 * st, np.full(len(who), 0.3), 0.4 * aff, 0.3 * (1 - aff)], 1)
            cum = np.cumsum(w / w.sum(1, keepdims=True), 1)
            page = (rng.random(len(who))[:, None] > cum).sum(1)
            add(who, "page_view", sec[who] + rng.integers(0, 600, len(who)), detail=page)
        u = rng.random((6, n))
        app = gt.appeal(self.day, self.config.regime_shift)
        topic = (u[5] > pop.affinity).astype(np.int64)  # 0 technical, 1 business
        dl = u[0] < 0.015 * intent * app[topic]
        add(np.flatnonzero(dl), "content_download", sec[dl] + 700, detail=topic[dl])
        ff = u[1] < 0.004 * intent
        add(np.flatnonzero(ff), "form_submit", sec[ff] + 800, detail=topic[ff])
        wb = u[2] < 0.001 * (0.5 + intent)
        add(np.flatnonzero(wb), "webinar", sec[wb] + 900)
        mt = u[3] < 0.003 * intent * (self.stage >= 2) * (self.stage < 4)
        add(np.flatnonzero(mt), "meeting", sec[mt] + 1000)
        active = (views > 0) | dl | ff | wb
        st = self.stage
        st[(st == 0) & active] = 1
        st[(st == 1) & (intent > 0.35) & (u[4] < 0.08)] = 2
        st[(st == 2) & (intent > 0.6) & (u[4] < 0.06)] = 3
        new_opp = (mt & (u[4] < 0.3 + 0.5 * intent)) & ~self.opp_open & (st < 4)
        who = np.flatnonzero(new_opp)
        self._open_opportunities(who, sec[who] + 1100, gt.deal_value(pop, who), add)
        closing = np.flatnonzero(self.opp_open & (self.opp_close_day <= self.day))
        if len(closing):
            pw = gt.win_probability(pop, intent, self.burned, closing)
            won = rng.random(len(closing)) < pw
            self.opp_open[closing] = False
            w_, l_ = closing[won], closing[~won]
            st[w_] = 4
            st[l_] = 2
            intent[l_] *= 0.6
            add(w_, "opportunity_won", sec[w_] + 1200, value=self.opp_value[w_])
            add(l_, "opportunity_lost", sec[l_] + 1200, value=self.opp_value[l_])

    def log_arrays(self) -> dict[str, np.ndarray]:
        """The ground-truth log of every executed action and its drawn outcomes, concatenated."""
        if not self.log:
            return {}
        return {k: np.concatenate([d[k] for d in self.log]) for k in self.log[0]}


__all__ = ["CATALOG", "CHANNELS", "ActionBatch", "Market", "MarketConfig", "EVENT_TYPES", "PAGES"]
