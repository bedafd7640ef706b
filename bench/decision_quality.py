"""Decision quality on the sandbox market: the hub's engine against the strongest honest
alternatives: a non-myopic oracle (the upper bound), a tuned rules baseline, the legacy playbook,
and two open-source peers with tuned exploration, each also given the engine's system parts.

Run: .venv/bin/python bench/decision_quality.py [--quick] [--contacts N] [--weeks W] [--seeds S]
  [--tuned FILE] [--first-seed K] [--policies a,b] [--json OUT]; --merge OUT1 OUT2 ... reports over
  runs split by seed or policy group (the oracle beside each group, counted once per seed).

Tuning first, on seeds 1000 and 1001 (``--tune-seeds``, refused if they overlap the evaluation
seeds 0..S-1) at 1,000 contacts over the same weeks and shift, printed before any evaluation:
the non-myopic oracle's weights (hub/sandbox/lookahead.py), the tuned rule set
(hub/sandbox/rules.py, coordinate ascent over cadence, send hour per role, a role x stage
action table, an MQL threshold and the opted-out action, scored by the simulator's truth),
Vowpal Wabbit's exploration (epsilon 0.05 / 0.2, SquareCB gamma 10 / 100, bag 5) and MABWiser
LinTS's alpha x l2_lambda. ``oracle`` is the non-myopic one; ``oracle_myopic`` (each day's best
expected reward, hub/sandbox/oracle.py) is a labelled reference, not a bound. ``*_sys`` peers get
the engine's send time, sales channel, opt-out smoothing and logged waits (:class:`System`), so
``engine - peer`` separates the learner and ``engine - peer_sys`` compares learners on equal systems.

Oracle ablations (references, e.g. ``--policies oracle,oracle-hour,oracle-tolerance,oracle-crm``):
``oracle-<piece>[-<piece>...]`` is the non-myopic oracle with pieces of its hidden knowledge taken
away (:data:`ORACLE_PIECES`: channel, hour, intent, tolerance, affinity, fit, and ``policy``, the
engine's contact policy imposed); ``oracle-crm`` takes all of them, so it decides on what a CRM
shows with the true response model. They say which hidden piece carries the oracle's lead. At
2,000 contacts, 3 seeds (2026-12-04): full 194k reward; without the send hour 0.61 of it,
without the per-person touch tolerance 0.60, without the channel 0.95, without the contact
policy 0.95, without intent, affinity or fit about 1.0; CRM-only 52.5k (0.31, about the
engine's share), and CRM-only plus hour and tolerance 177k. The lead is the person's hour and
how much contact they bear, not the action table.

Learning oracles (references): ``oracle_learns`` is the non-myopic oracle that must learn each
person's send hour and touch tolerance by Bayes' rule from its own touches' outcomes and the hour
of organic activity (hub/sandbox/learning_oracle.py); ``oracle_learns-hour`` and
``oracle_learns-tolerance`` learn one and read the other; ``oracle_learns-crm`` (run by default,
:data:`LEARNER`) also sees only what ``oracle-crm`` sees and has the engine's contact policy
imposed: a perfect learner of the true response model fed a CRM. So the full oracle says what
knowing everyone's traits is worth, and the learning one what a policy can reach that has to
learn them (a greedy one: it acts on a tolerance quantile, not an optimal exploration).
At 10,000 contacts, seeds 0-4 (2026-12-06): learning the hour keeps 0.898 of the full oracle's
reward, learning the tolerance 0.570 (a fixed cap of 3: 0.591), both 0.505, both on a CRM's view
0.476; the engine earns 0.746 of the last (bench/results/decision_quality_learning_oracle.txt).

How (and what this is NOT): the full pipeline (CRMs over HTTP, SQLite store, pushes) runs at
roughly one simulated day per second for 400 contacts (tests/engine/test_sandbox_learning.py);
10,000 contacts x 16 weeks x 5 seeds x 6 policies would take many hours. So this benchmark drives
the *decision components* directly on the market's arrays, once per simulated day:

- every policy sees only what a CRM shows: event counts over 7/30 days (the days before today),
  lifecycle stage, role (job title), company size band, opt-outs, touches and the time zone.
  Never hidden state. Touches are counted as the product counts them: the touch cap's marketing
  touches (e-mails sent, or e-mail decisions when more, decision/engine.py) and the touches a
  person felt, e-mails and sales calls (decision/segment_step.py ``felt_touches``), which the
  segments and the features read;
- the engine is the hub's own code: ``Apprentice(LinearThompson)`` as ``decision.engine.build_bandit``
  builds it from the default engine settings (forgetting, learned noise, a squared term per
  feature), with the legacy playbook as the apprentice baseline and ``explore_share`` free rows
  (decision/engine.py's scheme),
  the pooled per-channel opt-out model (decision/risk.py: the bandit learns from the reward with
  the realized unsubscribe replaced by the predicted chance, as decision/engine.py does),
  ``decision.arbitration.eligibility`` (consent, touch cap, sales quiet days), the long-term
  value rerank (decision/long_term.py) with its stated prior, the hub's default
  (``long_term_learning`` off); ``engine_lt_learned`` learns it as the hub's learn step does when
  switched on: 28 days after a decision's 7-day attribution window closed, whether an opportunity
  opened in those 28 days, from randomized rows only (propensity below 1: Thompson draws, free
  rows, waits too), each weighted by 1 / its propensity (the final action's share of the
  bandit's draws routed to it by the rerank), shrunk to the stated prior with 20
  pseudo-observations, moved off the prior only by what clears two standard errors
  (``engine_lt_in_window``: the hub's learning before 5 December 2026, conversions within the
  attribution window, which the immediate reward already counts; ``engine_lt_no_prior``: learned
  from a zero prior, what the data alone teach),
  the send-time model (decision/send_time.py, fitted on each day's contacts, as the hub's learn step
  fits the prior every decision starts from on the contacts decided last, decision/enrich.py)
  and the channel model (decision/channel.py);
- segment values (decision/segment_value.py), as decision/engine.py runs them after the bandit
  (``segment_values``, on by default; ``engine_no_sv`` switches them off): once 50 rows are
  learned, Thompson shares from per-(segment, action) running means (segment = stage x role x
  touches in 7 days x opted out, all CRM-visible), shrunk toward the bandit's prediction where a
  cell has few rows (and drawn as unsure as that prediction has been shown to err), choose the action. They learn what the pipeline's learn step teaches them
  (decision/segment_step.py): the reward with an opportunity priced at its objective points plus
  the learned won revenue per closed opportunity of the contact's company size band
  (decision/deal_value.py, shrunk toward the mean of all bands; ``engine_one_deal_value``: one
  price for every opportunity) and an unsubscribe at its points plus the
  learned lost future (reward per contact-day of reachable minus opted-out contacts of the same
  stage, over 84 days); early-stage rows (waits too) are credited with the change in their
  lead's stage value when their window closes (7 days, the default catalog's); waiting is worth at least the best
  learned value one touch lower, discounted 0.7 per day until the oldest touch leaves the week.
  A cell's unsubscribes are read as its rate shrunk toward the population's at its touch level
  (``risk_rows`` 100 pseudo-rows; ``engine_own_unsubs`` reads each cell's own count).
  The free share (``explore_share``) draws the eligible actions the apprentice does not allow yet
  from their values (``engine_explore_unproven`` tries them evenly instead, so one unlucky early
  row cannot keep an action untried for the whole run: within noise at 10,000 contacts, worse on
  6 of 8 seeds at 400).
  The knobs (0.9, the 0.3 exploration scale) were chosen on tuning seeds 1000/1001 at 500-1,000
  contacts;
- peers choose among the same eligible actions from the same features and learn from the same
  reward (objective points of the outcomes drawn at execution: opens, clicks, forms, meetings,
  opportunities, unsubscribes; won revenue arrives weeks later and is not in the learning signal
  of any learner). Plain peers send at the sandbox's default hour (10:00 local) on each action's
  own channel; the ``_sys`` peers choose hour and channel with the engine's models;
- the oracles see hidden state; legacy is hub/sandbox/playbook.py, rules_tuned hub/sandbox/rules.py
  (CRM-visible state only).

Every policy decides for every person every day (``wait`` is an action). Reward is the market's
expected immediate reward of what was executed (hub/sandbox/ground_truth.py, no outcome noise);
opportunities, won revenue and unsubscribes are what happened to people (organic included).
Intervals are 95% t-intervals over seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from decision.arbitration import ActionSpec, Catalog, ContactPolicy, eligibility
from decision.channel import CHANNELS as HUB_CHANNELS
from decision.channel import ChannelModel
from decision.deal_value import DealValues, size_band
from decision.engine import MIN_PROPENSITY, build_bandit, build_opt_out
from decision.enrich import STAGE_MAP
from decision.long_term import HORIZON_DAYS, KIND_PRIOR_LIFT, LongTermValue, reranked_draws, route
from decision.segment_step import FELT_ACTION_KINDS, MAIL_ACTION_KINDS, felt_touches
from decision.segment_value import OutcomeValues, SegmentChooser, learning_target, progress_credit
from decision.send_time import SendTimeModel
from hub.config import DecisionSettings, EngineSettings
from hub.sandbox import ground_truth as gt
from hub.sandbox.catalog import ACTION_INDEX, CATALOG, CHANNELS
from hub.sandbox.hubspot_state import LIFECYCLE
from hub.sandbox.learning_oracle import QUANTILE, LearningOracle
from hub.sandbox.lookahead import GRID, LookaheadOracle, LookaheadParams, sales_channel
from hub.sandbox.lookahead import search as lookahead_search
from hub.sandbox.market import EV, ORGANIC_TYPES, ActionBatch, Market, MarketConfig
from hub.sandbox.oracle import expected_rewards
from hub.sandbox.playbook import Playbook
from hub.sandbox.population import generate_population
from hub.sandbox.rules import RuleSet, RulesPolicy
from hub.sandbox.rules import search as rules_search

A = len(CATALOG)
WAIT = ACTION_INDEX["wait"]
SALES = ACTION_INDEX["sales_outreach"]
W = gt.RewardWeights()
SEEN = ("page_view", "content_download", "webinar", "form_submit", "meeting", "call", "email_sent")
SEEN += ("email_open", "email_click", "ad_click", "opportunity_created", "unsubscribe")
#: days after an action at which its lead's stage is read (moves, progression credit): when the
#: pipeline learns it, at the close of the default catalog's 7-day attribution window
PROGRESS_DAYS = 7
CATALOG_SPEC = Catalog(
    tuple(
        ActionSpec(
            a.id,
            channel=None if a.kind == "wait" else a.channel,
            marketing=a.kind in ("email", "content_offer", "ad_audience"),
        )
        for a in CATALOG
    ),
    wait="wait",
)
MAIL = np.array([a.kind in MAIL_ACTION_KINDS for a in CATALOG])  # decision/segment_step.py's
FELT = np.array([a.kind in FELT_ACTION_KINDS for a in CATALOG])  # decision/segment_step.py's
#: market stage (unaware..customer) -> long-term coarse stage, read as the hub reads it: through the
#: lifecycle stage the sandbox CRM shows (hub/sandbox/world.py) and the engine's STAGE_MAP
COARSE = np.array([STAGE_MAP[s] for s in LIFECYCLE])


# ---- what a CRM shows ------------------------------------------------------------------------
@dataclass
class Observed:
    """Per-person history the policies may read, built from the market's emitted events."""

    n: int
    tz: np.ndarray
    daily: np.ndarray = field(init=False)  # (30, n, types) ring of daily counts
    organic: np.ndarray = field(init=False)  # (n, 168) local hour-of-week organic activity
    opens: np.ndarray = field(init=False)
    sends: np.ndarray = field(init=False)
    last_sales: np.ndarray = field(init=False)
    ch_touch: np.ndarray = field(init=False)
    ch_resp: np.ndarray = field(init=False)
    orders: np.ndarray = field(init=False)  # (7, n, 2) ring of the day's ordered e-mail, felt actions

    def __post_init__(self) -> None:
        n = self.n
        self.daily = np.zeros((30, n, len(SEEN)), dtype=np.int16)
        self.organic = np.zeros((n, 168))
        self.opens = np.zeros((n, 168))
        self.sends = np.zeros((n, 168))
        self.last_sales = np.full(n, -999)
        self.ch_touch = np.zeros((n, len(HUB_CHANNELS)))
        self.ch_resp = np.zeros((n, len(HUB_CHANNELS)))
        self.orders = np.zeros((7, n, 2))

    def add(self, day: int, ev: dict[str, np.ndarray]) -> None:
        self.events = ev  # the day's raw events, for the learning oracle's organic hours
        slot = self.daily[day % 30]
        slot[:] = 0
        p, t = ev["person"], ev["type"]
        how = ((day % 7) * 24 + (ev["second"] // 3600 + self.tz[p]) % 24) % 168
        for j, name in enumerate(SEEN):
            k = t == EV[name]
            np.add.at(slot[:, j], p[k], 1)
        org = np.isin(t, ORGANIC_TYPES)
        np.add.at(self.organic, (p[org], how[org]), 1)
        for arr, name in ((self.opens, "email_open"), (self.sends, "email_sent")):
            k = t == EV[name]
            np.add.at(arr, (p[k], how[k]), 1)
        call = t == EV["call"]
        self.last_sales[p[call]] = day
        for arr, names in (
            (self.ch_touch, {"email": "email_sent", "sales_call": "call"}),
            (self.ch_resp, {"email": "email_open", "sales_call": "meeting"}),
        ):
            for ch, name in names.items():
                k = t == EV[name]
                np.add.at(arr[:, HUB_CHANNELS.index(ch)], p[k], 1)

    def window(self, day: int, days: int) -> np.ndarray:
        """Counts over the ``days`` days before ``day`` (day ``day`` has not happened yet when
        policies read this: its slot still holds the day 30 days back)."""
        idx = [(day - 1 - k) % 30 for k in range(days)]
        return self.daily[idx].sum(axis=0, dtype=np.float64)

    def order(self, day: int, actions: np.ndarray) -> None:
        """Record the day's decisions, as the hub keeps its own recent decisions per contact."""
        slot = self.orders[day % 7]
        slot[:, 0] = MAIL[actions]
        slot[:, 1] = FELT[actions]

    def ordered(self, day: int) -> np.ndarray:
        """(n, 2) e-mail and felt-touch decisions of the 6 days before ``day`` (the hub's
        ``(now - at).days < 7`` at the same hour)."""
        return self.orders[[(day - k) % 7 for k in range(1, 7)]].sum(axis=0)

    def marketing_touches(self, day: int) -> np.ndarray:
        """The touch cap's count, as decision/engine.py takes it: e-mails sent in 7 days, or
        the e-mail decisions ordered when more."""
        return np.maximum(self.window(day, 7)[:, SEEN.index("email_sent")], self.ordered(day)[:, 0])

    def felt_touches(self, day: int) -> np.ndarray:
        """Touches felt in 7 days, by the product's definition (decision/segment_step.py)."""
        w7 = self.window(day, 7)
        return felt_touches(w7[:, SEEN.index("email_sent")], w7[:, SEEN.index("call")], self.ordered(day)[:, 1])


def features(market: Market, obs: Observed, day: int) -> np.ndarray:
    """(n, d): log counts over 7/30 days, role, stage, size band, opt-out, touches, sales recency."""
    pop = market.pop
    w7, w30 = obs.window(day, 7), obs.window(day, 30)
    onehot = lambda v, k: np.eye(k)[v]  # noqa: E731
    opted = (market.unsubscribed | ~pop.email_consent).astype(float)
    since = np.clip(day - obs.last_sales, 0, 60) / 60.0
    return np.hstack(
        [
            np.log1p(w7),
            np.log1p(w30),
            onehot(pop.role, 3),
            onehot(market.stage, 5),
            onehot(pop.band, 6),
            opted[:, None],
            pop.do_not_call[:, None].astype(float),
            obs.felt_touches(day)[:, None] / 3.0,
            since[:, None],
        ]
    )


#: the count-like columns of ``features`` (log counts, touches, sales recency): the ones the
#: engine squares, as it squares only the count-like columns of the hub's schema
NUMERIC_COLUMNS = [*range(2 * len(SEEN)), 2 * len(SEEN) + 16, 2 * len(SEEN) + 17]


def mask_for(market: Market, obs: Observed, day: int, policy: ContactPolicy) -> np.ndarray:
    pop = market.pop
    base = np.ones((pop.n, A), dtype=bool)
    base[pop.do_not_call, SALES] = False
    since = (day - obs.last_sales).astype(float)
    since[obs.last_sales < 0] = np.nan
    return eligibility(
        CATALOG_SPEC,
        pop.n,
        base_mask=base,
        email_opt_out=market.unsubscribed | ~pop.email_consent,
        marketing_touches_7d=obs.marketing_touches(day),
        days_since_sales_touch=since,
        contact_policy=policy,
    )


def realized_reward(log: dict[str, np.ndarray]) -> np.ndarray:
    """Objective points of the outcomes drawn at execution (what a learner can attribute)."""
    return (
        W.open * log["opened"]
        + W.click * log["clicked"]
        + W.form * log["form"]
        + W.meeting * log["meeting"]
        + W.opportunity * log["opportunity"]
        + W.unsubscribe * log["unsubscribe"]
    )


# ---- policies ----------------------------------------------------------------------------------
class Agent:
    """``act`` returns (actions, local hours, channels) for every person; ``learn`` gets the
    executed rows with their realized reward."""

    name = "agent"

    def act(self, market: Market, obs: Observed, day: int, X: np.ndarray, mask: np.ndarray):  # noqa: ANN201
        raise NotImplementedError

    def learn(self, X: np.ndarray, actions: np.ndarray, rewards: np.ndarray, market: Market, day: int) -> None:
        pass


def default_hour(market: Market) -> np.ndarray:
    return np.full(market.pop.n, 10)


class Legacy(Agent):
    name = "legacy"

    def act(self, market, obs, day, X, mask):  # noqa: ANN001, ANN201
        a, h = Playbook().decide(market)
        return a, h, gt.CHANNEL[a]


class Random(Agent):
    name = "random"

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng([seed, 5])

    def act(self, market, obs, day, X, mask):  # noqa: ANN001, ANN201
        a = np.argmax(np.where(mask, self.rng.random(mask.shape), -1.0), axis=1)
        return a, default_hour(market), gt.CHANNEL[a]


class MyopicOracle(Agent):
    """Reference only: the best expected immediate reward each day (hub/sandbox/oracle.py)."""

    name = "oracle_myopic"

    def act(self, market, obs, day, X, mask):  # noqa: ANN001, ANN201
        r, best = expected_rewards(market)
        return best, market.pop.pref_hour, gt.CHANNEL[best]


class Oracle(Agent):
    """The upper bound: the non-myopic oracle (hub/sandbox/lookahead.py) with searched params."""

    name = "oracle"

    def __init__(self, days: int, params: LookaheadParams) -> None:
        self.policy = LookaheadOracle(days, params)

    def act(self, market, obs, day, X, mask):  # noqa: ANN001, ANN201
        return self.policy(market)


#: the learning oracle fed what a CRM shows: what a policy that knows the true response model can
#: reach when it has to learn each person's send hour and tolerance (hub/sandbox/learning_oracle.py)
LEARNER = "oracle_learns-crm"

#: what each oracle ablation takes away (``oracle-<piece>``; ``oracle-crm`` takes all of them)
ORACLE_PIECES = {
    "channel": "sales on e-mail wherever consent allows (not the hidden preferred channel)",
    "hour": "sends at 10:00 local (not the hidden preferred hour)",
    "intent": "intent replaced by the mean of the person's lifecycle stage",
    "tolerance": "weekly touch tolerance replaced by the contact policy's cap (3)",
    "affinity": "topic affinity replaced by the role's mean",
    "fit": "product fit replaced by the population mean",
    "policy": "the engine's contact policy applies (touch cap, quiet days after a sales touch)",
}


class AblatedOracle(Agent):
    """Reference: the non-myopic oracle with pieces of its hidden knowledge taken away
    (:data:`ORACLE_PIECES`), so the gap between oracle and engine splits into what each piece is
    worth. It decides on a belief market (the true one with the removed hidden state replaced by
    what the CRM's stage and role tell), and its choices execute on the true market."""

    def __init__(self, days: int, params: LookaheadParams, remove: tuple[str, ...]) -> None:
        self.policy = LookaheadOracle(days, params)
        self.remove = remove
        self.name = "oracle-" + ("crm" if set(remove) == set(ORACLE_PIECES) else "-".join(remove))

    def belief(self, market: Market) -> Market:
        import copy
        from dataclasses import replace

        pop, view = market.pop, copy.copy(market)
        change: dict[str, np.ndarray] = {}
        if "hour" in self.remove:
            change["pref_hour"] = np.full(pop.n, 10)
        if "channel" in self.remove:  # e-mail for everyone: the sales channel falls back to it
            change["pref_channel"] = np.full(pop.n, CHANNELS.index("email"))
        if "tolerance" in self.remove:
            change["tolerance"] = np.full(pop.n, 3)
        if "affinity" in self.remove:
            means = np.array([pop.affinity[pop.role == r].mean() if (pop.role == r).any() else 0.5 for r in range(3)])
            change["affinity"] = means[pop.role]
        if "fit" in self.remove:
            change["fit"] = np.full(pop.n, float(pop.fit.mean()))
        if change:
            view.pop = replace(pop, **change)
        if "intent" in self.remove:
            st = market.stage
            means = np.array([market.intent[st == s].mean() if (st == s).any() else 0.0 for s in range(5)])
            view.intent = means[st]
        return view

    def act(self, market, obs, day, X, mask):  # noqa: ANN001, ANN201
        view = self.belief(market)
        score = self.policy.scores(view)
        if "policy" in self.remove:
            score = np.where(mask, score, -np.inf)
        best = score.argmax(axis=1)
        chan = np.where(best == SALES, sales_channel(view), gt.CHANNEL[best])
        return best, view.pop.pref_hour, chan


class LearningOracleAgent(Agent):
    """Reference: the non-myopic oracle learning each person's send hour and touch tolerance
    (or one of them) from outcomes and organic activity (hub/sandbox/learning_oracle.py);
    ``crm``: every other hidden trait replaced as ``oracle-crm`` replaces it, the engine's contact
    policy imposed, so it is a perfect learner of the true model fed what a CRM shows."""

    def __init__(self, days: int, params: LookaheadParams, learn: tuple[str, ...], quantile: float, crm: bool) -> None:
        self.days, self.params, self.learn_traits, self.quantile = days, params, learn, quantile
        both = set(learn) == {"hour", "tolerance"}
        self.name = "oracle_learns" + ("-crm" if crm else "" if both else "-" + "-".join(learn))
        others = tuple(p for p in ORACLE_PIECES if p not in ("hour", "tolerance"))
        self.crm = AblatedOracle(days, params, others) if crm else None
        self.oracle: LearningOracle | None = None

    def act(self, market, obs, day, X, mask):  # noqa: ANN001, ANN201
        if self.oracle is None:
            view_of = self.crm.belief if self.crm else None
            self.oracle = LearningOracle(market, self.days, self.params, self.quantile, self.learn_traits, view_of)
        elif day:
            self.oracle.observe(market, obs.events)
        return self.oracle.decide(market, mask if self.crm else None)


class TunedRules(Agent):
    """The best rule set found on the tuning seeds (hub/sandbox/rules.py)."""

    name = "rules_tuned"

    def __init__(self, rules: RuleSet) -> None:
        self.policy = RulesPolicy(rules)

    def act(self, market, obs, day, X, mask):  # noqa: ANN001, ANN201
        return self.policy(market)


class System:
    """The engine's system parts that are not its learner, so peers can have them too: the
    send-time model (decision/send_time.py, a fresh model per day's batch as decision/enrich.py
    fits it), the channel model for sales outreach (decision/channel.py), the opt-out smoothing
    of learned rewards (decision/risk.py, built as decision/engine.py builds it) and logging
    wait decisions (a 10% sample learned with reward 0, as the pipeline logs them)."""

    def __init__(self, seed: int, engine: EngineSettings | None = None) -> None:
        engine = engine or EngineSettings(seed=seed)
        self.seed = seed
        self.groups, self.risk = build_opt_out(DecisionSettings(engine=engine), CATALOG, NUMERIC_COLUMNS)
        self.rng = np.random.default_rng([seed, 19])
        self.ch = ChannelModel(order=engine.channel_order, switch_ratio=engine.channel_switch_ratio)

    def hours(self, market: Market, obs: Observed, day: int) -> np.ndarray:
        pop = market.pop
        st = SendTimeModel(seed=self.seed + day)
        st.fit(obs.organic, pop.role)
        local = st.choose(
            obs.organic, pop.role, market_now(day), np.zeros(pop.n, dtype=int), opens=obs.opens, sends=obs.sends
        )
        return local.hour

    def channels(self, market: Market, obs: Observed, actions: np.ndarray) -> np.ndarray:
        pop = market.pop
        chan = gt.CHANNEL[actions].copy()
        sales = actions == SALES
        if sales.any():
            allowed = np.zeros((pop.n, len(HUB_CHANNELS)), dtype=bool)
            reachable = ~market.unsubscribed & ~pop.do_not_call  # sales reaches no one else (truth)
            allowed[:, HUB_CHANNELS.index("sales_call")] = reachable
            allowed[:, HUB_CHANNELS.index("email")] = reachable & pop.email_consent
            idx, _ = self.ch.fit(obs.ch_touch, obs.ch_resp).choose(obs.ch_touch, obs.ch_resp, allowed)
            chan[sales] = np.where(
                idx[sales] == HUB_CHANNELS.index("email"), CHANNELS.index("email"), CHANNELS.index("phone")
            )
        return chan

    def smooth(self, X: np.ndarray, actions: np.ndarray, rewards: np.ndarray, market: Market) -> np.ndarray:
        if not len(actions) or self.risk is None:
            return rewards
        unsub = W.unsubscribe * market.log[-1]["unsubscribe"]
        return self.risk.smooth(X, self.groups[actions], rewards, unsub, W.unsubscribe)

    def wait_sample(self, X: np.ndarray, actions: np.ndarray) -> np.ndarray:
        waited = np.flatnonzero(actions == WAIT)
        return waited[self.rng.random(len(waited)) < 0.1]


class Engine(Agent):
    """The hub's decision components (see the module docstring)."""

    name = "engine"

    def __init__(
        self,
        seed: int,
        *,
        long_term_weight: float = 0.3,
        send_time: bool = True,
        explore_share: float = 0.1,
        exploration: float = 0.2,
        min_observations: int = 50,
        reward_scale: float = 10.0,
        learn_wait: bool = True,
        learn_long_term: bool | None = None,
        segment_values: bool | None = None,
        risk_rows: float | None = None,
        deal_bands: bool = True,
        explore_unproven: bool = False,
        in_window_long_term: bool = False,
        long_term_prior: bool = True,
    ) -> None:
        # the hub's own bandit as decision/engine.py builds it from the engine settings (forgetting,
        # learned noise, squared features and every other default included), on the same catalog
        engine = EngineSettings(seed=seed, exploration=exploration, apprentice_min_observations=min_observations)
        if segment_values is not None:
            engine = engine.model_copy(update={"segment_values": segment_values})
        self.model = build_bandit(DecisionSettings(engine=engine), NUMERIC_COLUMNS)
        assert self.model.n_actions == A
        # the pooled per-channel opt-out model (decision/risk.py), built as decision/engine.py builds it
        self.system = System(seed, engine)
        self.rng = np.random.default_rng([seed, 11])
        self.w = long_term_weight
        self.send_time = send_time
        self.explore_share = explore_share
        self.scale = reward_scale
        prior = np.array([KIND_PRIOR_LIFT[a.kind] for a in CATALOG]) * float(long_term_prior)
        self.lt = LongTermValue(A, 4, prior_lift=prior, wait_action=WAIT)
        # conversions after the attribution window, within the horizon (decision/long_term.py);
        # in_window_long_term: the hub before 5 December 2026 (within the window, harms at their mean)
        self.lt_window = (0, PROGRESS_DAYS) if in_window_long_term else (PROGRESS_DAYS, PROGRESS_DAYS + HORIZON_DAYS)
        if in_window_long_term:
            self.lt.evidence_z = 0.0
        # long-term rows (day, actions, stages, opportunities so far, propensities): waiting for the
        # window's close, then for the horizon's end
        self.pending: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.pending_end: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.seed = seed
        self.overruled = 0
        self.learn_wait = learn_wait
        # None: the hub's default (decision.engine.long_term_learning)
        self.learn_long_term = engine.long_term_learning if learn_long_term is None else learn_long_term
        self._wait_rows: tuple[np.ndarray, np.ndarray] | None = None
        # segment values after the bandit, as decision/engine.py runs them (settings ``segment_values``)
        self.sv = SegmentChooser(5, 3, A, WAIT) if engine.segment_values else None
        # a move spans a learned row's attribution window: the default catalog's 7 days
        self.ov = OutcomeValues(5, W.opportunity, W.revenue, W.unsubscribe, step_days=PROGRESS_DAYS)
        # opportunities priced per company size band (decision/deal_value.py), as SegmentStep does
        self.ov.deals = DealValues() if deal_bands else None
        self._bands: np.ndarray | None = None
        if self.sv is not None:
            self.sv.outcomes = self.ov  # values priced at the outcomes' current worth, as SegmentStep does
            self.sv.values.unsub_points = np.full(A, W.unsubscribe)  # one unsubscribe's points per action
            if risk_rows is not None:  # None: the product's default
                self.sv.risk_rows = risk_rows
            self.sv.explore_unproven = explore_unproven
        self._seg = np.zeros(0, dtype=np.intp)
        self._stage = np.zeros(0, dtype=np.intp)
        self._opted = np.zeros(0, dtype=bool)
        self._closed = (0.0, 0.0)
        self._closed_by = (np.zeros(0), np.zeros(0))  # per person: won amount, closed opportunities
        self._progress: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def act(self, market, obs, day, X, mask):  # noqa: ANN001, ANN201
        pop = market.pop
        baseline = Playbook().decide(market)[0]
        baseline = np.where(mask[np.arange(pop.n), baseline], baseline, WAIT)
        felt = obs.felt_touches(day)  # the product's count: e-mails and calls, as the CRM shows them
        if self.sv is not None:
            opted = market.unsubscribed | ~pop.email_consent
            self._seg, self._stage, self._opted = (
                self.sv.segments(market.stage, pop.role, felt, opted),
                market.stage.copy(),
                opted,
            )
        if self.sv is not None and self.sv.active:
            prior = self.model.predict_many(X) * self.scale
            # as decision/engine.py: actions with evidence (in the bandit or the segment) and the
            # rules' choice, with explore_share of the draws free
            allowed = None
            if not self.model.graduated:
                seen = self.sv.values.n[self._seg] >= self.model.min_observations
                allowed = (self.model.mature(X) | seen) & mask
                allowed[np.arange(pop.n), baseline] |= mask[np.arange(pop.n), baseline]
            bands = self.bands(market) if self.ov.deals is not None else None
            actions, probs, _ = self.sv.choose(
                self._seg, prior, mask, felt, days_to_relief(obs, day), self.rng, allowed, self.explore_share, bands
            )
            prop = probs[np.arange(pop.n), actions]
        else:
            probs = None
            choice = self.model.choose_many(X, mask, baseline=baseline)
            actions, prop = choice.actions.copy(), choice.propensities.copy()
            free = self.rng.random(pop.n) < self.explore_share
            if free.any():
                drawn = self.model.policy.choose_many(X[free], mask[free])
                actions[free], prop[free] = drawn.actions, drawn.propensities
        if self.w > 0:
            # decision/engine.py's _long_term: every possible draw reranked, and a final action's
            # propensity the bandit's mass routed to it (the drawn one's where only that is known)
            short = self.model.predict_many(X) * self.scale
            p0 = np.zeros(pop.n)
            lt = self.lt.value(p0, COARSE[market.stage], np.ones(pop.n))
            lt = lt * (W.opportunity + W.revenue * 10_000.0)
            final = reranked_draws(short, lt, mask, self.w)
            new = final[np.arange(pop.n), actions]
            self.overruled += int((new != actions).sum())
            if probs is not None:
                prop = route(probs, final)[np.arange(pop.n), new]
            actions = new
        hours = self.system.hours(market, obs, day) if self.send_time else default_hour(market)
        chan = self.system.channels(market, obs, actions)
        waited = np.flatnonzero(actions == WAIT)
        if self.learn_wait and len(waited):
            # the hub logs and learns wait decisions too: here their immediate reward is 0
            k = waited[self.rng.random(len(waited)) < 0.1]
            self._wait_rows = (X[k], np.full(len(k), WAIT))
        if self.learn_long_term:  # every row, waits too (waiting is the baseline), as the hub logs them
            opps = market.counts[:, EV["opportunity_created"]].copy()
            self.pending.append((day, actions.copy(), COARSE[market.stage].copy(), opps, prop))
        return actions, hours, chan

    def learn(self, X, actions, rewards, market, day) -> None:  # noqa: ANN001
        if self.sv is not None:
            self._learn_values(actions, rewards, market, day)
        rewards = self.system.smooth(X, actions, rewards, market)
        if len(actions):
            self.model.learn_many(X, actions, rewards / self.scale, np.ones(len(actions)))
        if self._wait_rows is not None:
            Xw, aw = self._wait_rows
            self.model.learn_many(Xw, aw, np.zeros(len(aw)), np.ones(len(aw)))
            self._wait_rows = None
        # what the hub's learn step does (hub/pipeline/learn.py _learn_long_term): once a decision's
        # horizon has passed, whether an opportunity opened after its attribution window closed,
        # learned from randomized rows only (propensity below 1), each weighted by 1 / its propensity
        start, end = self.lt_window
        while self.pending and self.pending[0][0] <= day - start:
            d, acts, stages, before, prop = self.pending.pop(0)
            if start:  # counted from the window's close
                before = market.counts[:, EV["opportunity_created"]].copy()
            self.pending_end.append((d, acts, stages, before, prop))
        while self.pending_end and self.pending_end[0][0] <= day - end:
            _, acts, stages, before, prop = self.pending_end.pop(0)
            conv = market.counts[:, EV["opportunity_created"]] > before
            keep = prop < 1.0 - 1e-9
            weights = 1.0 / np.clip(prop[keep], MIN_PROPENSITY, 1.0)
            self.lt.learn(acts[keep], stages[keep], conv[keep], wait_action=WAIT, weights=weights)

    def _learn_values(self, actions: np.ndarray, rewards: np.ndarray, market: Market, day: int) -> None:
        """What the pipeline's learn step does (hub/pipeline/learn.py, decision/engine.py
        ``learn_segment_values``): outcome values learn closed opportunities and the rewards per
        contact-day by stage; segment values learn the reward with its opportunities and
        unsubscribes counted, priced when read; early-stage rows get the
        change in stage value when their window closes (here PROGRESS_DAYS on)."""
        assert self.sv is not None
        won = float(market.values[:, EV["opportunity_won"]].sum())
        closed = float(market.counts[:, [EV["opportunity_won"], EV["opportunity_lost"]]].sum())
        w0, c0 = self._closed
        if closed > c0:
            self.ov.won += won - w0  # as close(): amounts won, and every closed one counted
            self.ov.closed += closed - c0
            if self.ov.deals is not None:  # and per account size band, as the store reads them
                self._close_by_band(market)
        self._closed = (won, closed)
        log = market.log[-1] if len(actions) else None
        who = log["person"] if log is not None else np.zeros(0, dtype=np.intp)
        acts = actions if log is not None else np.zeros(0, dtype=np.intp)
        opps = log["opportunity"] if log is not None else np.zeros(0)
        unsubs = log["unsubscribe"] if log is not None else np.zeros(0)
        acted = np.zeros(market.pop.n, dtype=bool)
        acted[who] = True
        waited = np.flatnonzero(~acted)
        sample = waited[self.rng.random(len(waited)) < 0.1]  # logged waits, as the pipeline logs them
        rows = np.concatenate([who, sample]).astype(np.intp)
        acts = np.concatenate([acts, np.full(len(sample), WAIT)]).astype(np.intp)
        points = np.concatenate([rewards if log is not None else np.zeros(0), np.zeros(len(sample))])
        opps = np.concatenate([opps, np.zeros(len(sample))])
        unsubs = np.concatenate([unsubs, np.zeros(len(sample))])
        st = self._stage[rows]
        self.sv.values.learn(self._seg[rows], acts, points, opps, unsubs)
        # rewards per contact-day by stage: the learned rows' priced reward (unsubscribes at their
        # points), over every contact's day (the store's contacts per stage at each learn step)
        days = np.zeros((5, 2))
        np.add.at(days, (self._stage, self._opted.astype(np.intp)), 1.0)
        self.ov.observe(st, self._opted[rows], learning_target(self.ov, st, points, opps, np.zeros(len(rows))), days)
        self._progress.append((day, rows, self._seg[rows], acts, st, points))
        while self._progress and self._progress[0][0] <= day - PROGRESS_DAYS:
            _, p, seg, a, st0, y = self._progress.pop(0)
            reach = ~(market.unsubscribed[p] | ~market.pop.email_consent[p])
            self.ov.move(st0, seg % 2, market.stage[p], ~reach)
            # the credit's spread counted in the cells' noise, as the product learns a row once, whole
            self.sv.values.credit(seg, a, progress_credit(self.ov, st0, market.stage[p], reach), y)

    def bands(self, market: Market) -> np.ndarray:
        """Each person's company size band from the employee count the CRM shows."""
        if self._bands is None:
            pop = market.pop
            self._bands = size_band(pop.company_employees[pop.company])
        return self._bands

    def _close_by_band(self, market: Market) -> None:
        """The day's closed opportunities by the person's size band, as the store reads them
        (a person closes at most one a day: one opportunity is open at a time)."""
        won = market.values[:, EV["opportunity_won"]]
        closed = market.counts[:, [EV["opportunity_won"], EV["opportunity_lost"]]].sum(axis=1)
        w0, c0 = self._closed_by if len(self._closed_by[0]) else (np.zeros_like(won), np.zeros_like(closed))
        who = np.flatnonzero(closed > c0)
        self.ov.deals.close(self.bands(market)[who], (won - w0)[who])
        self._closed_by = (won.copy(), closed.copy())


def days_to_relief(obs: Observed, day: int) -> np.ndarray:
    """Per person, days until the oldest touching decision of the last 7 days leaves the week
    (1 when there is none), as decision/segment_step.py ``relief_days`` reads the hub's decisions."""
    out = np.ones(obs.n)
    for k in range(1, 7):  # the decisions k days ago; the oldest one wins
        out = np.where(obs.orders[(day - k) % 7, :, 1] > 0, 7 - k, out)
    return out


def market_now(day: int):  # noqa: ANN201
    from datetime import UTC, datetime, timedelta

    return datetime(2026, 1, 5, 6, tzinfo=UTC) + timedelta(days=day)


class VWAgent(Agent):
    """Vowpal Wabbit ``--cb_explore_adf`` with quadratic shared x action features (``-q sa``) and
    a tuned exploration (``explore``: epsilon-greedy, SquareCB or bagging; VW adds its constant
    feature itself). Cost is minus the reward over 10, the engine's reward scale. With
    ``system`` it also gets the engine's system parts (:class:`System`)."""

    name = "vw"

    def __init__(self, seed: int, explore: str = "--epsilon 0.05", system: bool = False) -> None:
        import vowpalwabbit

        self.explore = explore
        self.vw = vowpalwabbit.Workspace(f"--cb_explore_adf {explore} -q sa --quiet --random_seed {seed}")
        self.rng = np.random.default_rng([seed, 13])
        self.last: dict[int, tuple[list[str], int, float]] = {}
        self.system = System(seed) if system else None
        self.name = "vw_sys" if system else "vw"
        self._wait: np.ndarray = np.zeros(0, dtype=int)

    @staticmethod
    def _shared(x: np.ndarray) -> str:
        nz = np.flatnonzero(x)
        return "shared |s " + " ".join(f"f{j}:{x[j]:.4g}" for j in nz)

    def act(self, market, obs, day, X, mask):  # noqa: ANN001, ANN201
        n = len(X)
        actions = np.full(n, WAIT)
        self.last = {}
        for i in range(n):
            allowed = np.flatnonzero(mask[i])
            ex = [self._shared(X[i])] + [f"|a a{k}" for k in allowed]
            pmf = np.asarray(self.vw.predict(ex))
            pmf = pmf / pmf.sum()
            j = int(self.rng.choice(len(allowed), p=pmf))
            actions[i] = allowed[j]
            self.last[i] = (ex, j, float(pmf[j]))
        if self.system is None:
            return actions, default_hour(market), gt.CHANNEL[actions]
        self._wait = self.system.wait_sample(X, actions)
        return actions, self.system.hours(market, obs, day), self.system.channels(market, obs, actions)

    def learn(self, X, actions, rewards, market, day) -> None:  # noqa: ANN001
        persons = market.log[-1]["person"] if len(actions) else np.zeros(0, dtype=int)
        if self.system is not None:
            rewards = self.system.smooth(X, actions, rewards, market)
            persons = np.concatenate([persons, self._wait])
            rewards = np.concatenate([rewards, np.zeros(len(self._wait))])
        for i, r in zip(persons, rewards, strict=True):
            ex, j, p = self.last[int(i)]
            lab = list(ex)
            lab[j + 1] = f"0:{-r / 10.0:.4g}:{p:.4g} " + lab[j + 1]
            self.vw.learn(lab)


class MabwiserAgent(Agent):
    """MABWiser ``LinTS`` over the same features plus an intercept column, with tuned ``alpha``
    (posterior scale: exploration) and ``l2_lambda`` (ridge); batch ``partial_fit`` once a day,
    reward over 10 as the engine scales it. With ``system`` it also gets :class:`System`."""

    name = "mabwiser"

    def __init__(self, seed: int, alpha: float = 0.2, l2_lambda: float = 1.0, system: bool = False) -> None:
        from mabwiser.mab import MAB, LearningPolicy

        self.alpha, self.l2_lambda = alpha, l2_lambda
        policy = LearningPolicy.LinTS(alpha=alpha, l2_lambda=l2_lambda)
        self.mab = MAB(arms=list(range(A)), learning_policy=policy, seed=seed)
        self.fitted = False
        self.rng = np.random.default_rng([seed, 17])
        self.system = System(seed) if system else None
        self.name = "mabwiser_sys" if system else "mabwiser"
        self._wait: tuple[np.ndarray, np.ndarray] | None = None

    @staticmethod
    def _x(X: np.ndarray) -> np.ndarray:
        return np.hstack([np.ones((len(X), 1)), X])

    def act(self, market, obs, day, X, mask):  # noqa: ANN001, ANN201
        if not self.fitted:
            a = np.argmax(np.where(mask, self.rng.random(mask.shape), -1.0), axis=1)
        else:
            exp = self.mab.predict_expectations(self._x(X))
            scores = np.array([[e[k] for k in range(A)] for e in exp])
            a = np.argmax(np.where(mask, scores, -np.inf), axis=1)
        if self.system is None:
            return a, default_hour(market), gt.CHANNEL[a]
        k = self.system.wait_sample(X, a)
        self._wait = (X[k], a[k])
        return a, self.system.hours(market, obs, day), self.system.channels(market, obs, a)

    def learn(self, X, actions, rewards, market, day) -> None:  # noqa: ANN001
        if self.system is not None:
            rewards = self.system.smooth(X, actions, rewards, market)
            if self._wait is not None:
                X = np.vstack([X, self._wait[0]]) if len(actions) else self._wait[0]
                actions = np.concatenate([actions, self._wait[1]])
                rewards = np.concatenate([rewards, np.zeros(len(self._wait[1]))])
        if not len(actions):
            return
        fit = self.mab.partial_fit if self.fitted else self.mab.fit
        fit(actions.tolist(), (rewards / 10.0).tolist(), self._x(X))
        self.fitted = True


# ---- one run ---------------------------------------------------------------------------------
@dataclass
class RunResult:
    policy: str
    seed: int
    reward_by_day: np.ndarray
    opportunities: int
    won_revenue: float
    unsubscribes: int
    seconds: float
    extra: dict[str, float] = field(default_factory=dict)


def run(make: Callable[[], Agent], n: int, days: int, seed: int, shift_day: int | None) -> RunResult:
    t0 = time.perf_counter()
    pop = generate_population(n, seed=seed)
    market = Market(pop, MarketConfig(seed=seed, regime_shift=gt.RegimeShift(day=shift_day)))
    obs = Observed(n, pop.tz_offset)
    agent = make()
    policy = ContactPolicy(3, 3.0)
    by_day = np.zeros(days)
    hits = np.zeros(3)
    timing = np.zeros(2)
    c0, v0 = market.counts.copy(), market.values.copy()
    for day in range(days):
        X = features(market, obs, day)
        mask = mask_for(market, obs, day, policy)
        actions, hours, chan = agent.act(market, obs, day, X, mask)
        obs.order(day, np.asarray(actions))
        act = np.flatnonzero(actions != WAIT)
        batch = ActionBatch(act, actions[act], np.asarray(hours)[act].astype(np.int64), np.asarray(chan)[act])
        n_log = len(market.log)
        channel_hits(market, batch, hits)
        timing += timing_fit(market, batch)
        ev = market.step(batch)
        obs.add(day, ev)
        if len(market.log) > n_log:
            log = market.log[-1]
            by_day[day] = log["expected_reward"].sum()
            r = realized_reward(log)
            agent.learn(X[log["person"]], log["action"], r, market, day)
    dc, dv = market.counts - c0, market.values - v0
    extra = {"overruled": float(agent.overruled)} if isinstance(agent, Engine) else {}
    if hits[0]:
        extra.update(
            sales_channel_hit=round(float(hits[1] / hits[0]), 3), always_email_hit=round(float(hits[2] / hits[0]), 3)
        )
    if timing[0]:
        extra["timing"] = round(float(timing[1] / timing[0]), 3)
    return RunResult(
        agent.name,
        seed,
        by_day,
        int(dc[:, EV["opportunity_created"]].sum()),
        float(dv[:, EV["opportunity_won"]].sum()),
        int(dc[:, EV["unsubscribe"]].sum()),
        time.perf_counter() - t0,
        extra,
    )


def timing_fit(market: Market, batch: ActionBatch) -> tuple[int, float]:
    """(mails and calls sent, summed timing factor over them, 1 = each at the person's hidden
    preferred hour, about 0.46 = far from it): how well send times land."""
    touch = gt.counts_as_touch(batch.action)
    d = np.abs(batch.local_hour[touch] - market.pop.pref_hour[batch.idx[touch]]) % 24
    d = np.minimum(d, 24 - d)
    return int(touch.sum()), float(np.sum(0.55 + 0.65 * np.exp(-((d / 2.0) ** 2))) / 1.2)


def channel_hits(market: Market, batch: ActionBatch, hits: np.ndarray) -> None:
    """Add to ``hits`` [rows, on the preferred channel, by always e-mail]: the day's sales touches
    that reach someone (not opted out, callable), how many were carried on the person's hidden
    preferred channel, and how many e-mail wherever consent allows it (else the call) would have
    carried there (the reference)."""
    who = batch.idx
    k = (batch.action == SALES) & ~market.unsubscribed[who] & ~market.pop.do_not_call[who]
    pref = market.pop.pref_channel[who[k]]  # indexed like CHANNELS (email, phone, ads)
    email = np.where(market.pop.email_consent[who[k]], CHANNELS.index("email"), CHANNELS.index("phone"))
    hits += (k.sum(), np.sum(batch.channel[k] == pref), np.sum(email == pref))


# ---- report ----------------------------------------------------------------------------------
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def interval(v: list[float]) -> tuple[float, float]:
    a = np.asarray(v, dtype=float)
    if len(a) < 2:
        return float(a.mean()), float("nan")
    return float(a.mean()), T95.get(len(a) - 1, 1.96) * float(a.std(ddof=1)) / math.sqrt(len(a))


def fmt(v: list[float], digits: int = 0) -> str:
    m, h = interval(v)
    return f"{m:,.{digits}f} ± {h:,.{digits}f}" if not math.isnan(h) else f"{m:,.{digits}f}"


def summarize(results: dict[str, list[RunResult]], days: int, shift_day: int | None) -> dict:
    oracle = {r.seed: r for r in results.get("oracle", [])}
    myopic = {r.seed: r for r in results.get("oracle_myopic", [])}
    learner = {r.seed: r for r in results.get(LEARNER, [])}
    w4 = slice(min(21, days - 1), days)
    rec = slice(shift_day + 14, min(shift_day + 21, days)) if shift_day is not None and shift_day + 14 < days else None
    out: dict[str, dict] = {}
    for name, runs in results.items():
        row: dict[str, list[float]] = {"reward": [], "opportunities": [], "won_revenue": [], "unsubscribes": []}
        row["oracle_share_w4"], row["oracle_share_recovery"], row["seconds"] = [], [], []
        row["myopic_share_w4"], row["learner_share_w4"] = [], []
        row["seed"], row["weekly_reward"] = [], []
        for r in runs:
            row["seed"].append(r.seed)
            row["reward"].append(float(r.reward_by_day.sum()))
            row["opportunities"].append(r.opportunities)
            row["won_revenue"].append(r.won_revenue)
            row["unsubscribes"].append(r.unsubscribes)
            row["seconds"].append(r.seconds)
            weeks = len(r.reward_by_day) // 7
            row["weekly_reward"].append([float(x) for x in r.reward_by_day[: weeks * 7].reshape(weeks, 7).sum(axis=1)])
            m = myopic.get(r.seed)
            if m is not None:
                row["myopic_share_w4"].append(r.reward_by_day[w4].sum() / m.reward_by_day[w4].sum())
            lo = learner.get(r.seed)
            if lo is not None:
                row["learner_share_w4"].append(r.reward_by_day[w4].sum() / lo.reward_by_day[w4].sum())
            o = oracle.get(r.seed)
            if o is not None:
                row["oracle_share_w4"].append(r.reward_by_day[w4].sum() / o.reward_by_day[w4].sum())
                if rec is not None:
                    row["oracle_share_recovery"].append(r.reward_by_day[rec].sum() / o.reward_by_day[rec].sum())
        out[name] = row
    return out


def weeks_to_match(eng: dict, rules: dict) -> str:
    """Cold start, measured: per seed, the first week whose reward reaches the tuned rules' reward
    in the same week of the same market, and how many of the later weeks stay there."""
    by_seed = dict(zip(rules.get("seed", []), rules.get("weekly_reward", []), strict=False))
    cells = []
    for seed, mine in zip(eng.get("seed", []), eng.get("weekly_reward", []), strict=False):
        theirs = by_seed.get(seed)
        if theirs is None:
            continue
        at = [a >= b for a, b in zip(mine, theirs, strict=False)]
        first = next((w for w, ok in enumerate(at) if ok), None)
        cells.append(
            f"seed {seed}: never"
            if first is None
            else f"seed {seed}: week {first + 1} (then {sum(at[first:])} of {len(at) - first} weeks)"
        )
    if not cells:
        return "weeks to reach the tuned rules' weekly reward: no paired runs with weekly rewards"
    return "weeks to reach the tuned rules' weekly reward: " + "; ".join(cells)


def print_report(summary: dict, args: argparse.Namespace) -> list[str]:
    cols = ("reward", "opportunities", "won_revenue", "unsubscribes", "oracle_share_w4", "oracle_share_recovery")
    width = max(13, *map(len, summary))
    print(f"\n{'policy':{width}s} " + " ".join(f"{c:>24s}" for c in cols))
    for name, row in summary.items():
        cells = []
        for c in cols:
            v = row.get(c, [])
            digits = 3 if c.startswith("oracle") else 0
            cells.append(f"{fmt(v, digits):>24s}" if v else f"{'-':>24s}")
        print(f"{name:{width}s} " + " ".join(cells))
    verdicts = []
    for who in ("engine", "engine_no_sv"):
        eng = summary.get(who)
        if not eng:
            continue
        for base, target in (("rules_tuned", 0.25), ("legacy", None)):
            row = summary.get(base)
            if not row:
                continue
            if np.mean(row["won_revenue"]) <= 0:
                verdicts.append(f"{who}: won revenue vs {base}: {base} won nothing in this run; no ratio")
                continue
            lift = np.mean(eng["won_revenue"]) / np.mean(row["won_revenue"]) - 1
            per_seed = ", ".join(
                f"{e / b - 1:+.0%}" for e, b in zip(eng["won_revenue"], row["won_revenue"], strict=False)
            )
            tail = f" (target >= +25%): {'MET' if lift >= target else 'NOT MET'}" if target else ""
            verdicts.append(f"{who}: won revenue vs {base}: {lift:+.1%} (per seed {per_seed}){tail}")
        for peer in ("vw", "vw_sys", "mabwiser", "mabwiser_sys"):
            if peer in summary:
                d = [e - p for e, p in zip(eng["reward"], summary[peer]["reward"], strict=False)]
                m, h = interval(d)
                met = m - (0 if math.isnan(h) else h) > 0
                verdicts.append(f"{who}: cumulative reward minus {peer}: {fmt(d)}: {'MET' if met else 'NOT MET'}")
            elif who == "engine":
                verdicts.append(f"peer {peer}: not run (not installed or --no-peers)")
        if "rules_tuned" in summary:
            verdicts.append(f"{who}: {weeks_to_match(eng, summary['rules_tuned'])}")
        if eng["oracle_share_w4"]:
            s = np.mean(eng["oracle_share_w4"])
            verdicts.append(
                f"{who}: share of the non-myopic oracle's reward, weeks 4-{args.weeks}: {fmt(eng['oracle_share_w4'], 3)} "
                f"(target >= 0.90): {'MET' if s >= 0.9 else 'NOT MET'}"
            )
        if eng.get("learner_share_w4"):
            verdicts.append(
                f"{who}: reference only: share of the learning oracle's reward ({LEARNER}: the true response "
                f"model and a CRM's view, the send hour and tolerance learned by Bayes), weeks 4-{args.weeks}: "
                f"{fmt(eng['learner_share_w4'], 3)}"
            )
        if eng.get("myopic_share_w4"):
            verdicts.append(
                f"{who}: reference only: share of the myopic oracle's reward, weeks 4-{args.weeks}: "
                f"{fmt(eng['myopic_share_w4'], 3)}"
            )
        if eng["oracle_share_recovery"]:
            s = np.mean(eng["oracle_share_recovery"])
            verdicts.append(
                f"{who}: week {args.shift_week + 2} (two weeks after the shift): {fmt(eng['oracle_share_recovery'], 3)} of the "
                f"non-myopic oracle (target >= 0.90): {'MET' if s >= 0.9 else 'NOT MET'}"
            )
    print("\nTargets:")
    for v in verdicts:
        print("  " + v)
    return verdicts


VW_GRID = ("--epsilon 0.05", "--epsilon 0.2", "--squarecb --gamma_scale 10", "--squarecb --gamma_scale 100", "--bag 5")
MAB_GRID = tuple((alpha, lam) for alpha in (0.05, 0.2, 0.5, 1.0) for lam in (1.0, 10.0))


@dataclass
class Tuned:
    """What the tuning seeds chose, for every policy that has knobs."""

    lookahead: LookaheadParams
    rules: RuleSet
    vw: str
    mab: tuple[float, float]


def tune(args: argparse.Namespace, days: int, shift_day: int | None, names: list[str]) -> Tuned:
    """Search every baseline's knobs on the tuning seeds (disjoint from the evaluation seeds
    0..seeds-1), at ``--tune-contacts`` contacts over the same weeks and shift; print the choice."""
    seeds = tuple(int(x) for x in args.tune_seeds.split(","))
    n = args.tune_contacts
    say = lambda m: print(m, flush=True)  # noqa: E731
    t0 = time.process_time()
    print(f"tuning on seeds {seeds} at {n:,} contacts, {args.weeks} weeks (evaluation seeds 0..{args.seeds - 1})")
    la = LookaheadParams()
    if "oracle" in names:
        la, la_v, my_v = lookahead_search(n, days, seeds, shift_day, log=say)
        print(f"  non-myopic oracle: {la} (reward {la_v:,.0f} vs myopic setting {my_v:,.0f}; ascent on {GRID})")
    rules = RuleSet()
    if "rules_tuned" in names:
        rules, r_v, r0 = rules_search(n, days, seeds, shift_day, log=say)
        print(f"  tuned rules: reward {r_v:,.0f} (playbook-like start {r0:,.0f}): {rules.describe()}")
    vw, mab = VW_GRID[0], MAB_GRID[0]
    if any(p.startswith("vw") for p in names):
        scores = {}
        for e in VW_GRID:
            scores[e] = run(lambda e=e: VWAgent(seeds[0], e), n, days, seeds[0], shift_day).reward_by_day.sum()
            print(f"    vw {e}: {scores[e]:,.0f}", flush=True)
        vw = max(scores, key=scores.get)
        print(f"  vw: {vw} (best cumulative reward on tuning seed {seeds[0]} of {VW_GRID})")
    if any(p.startswith("mabwiser") for p in names):
        scores = {}
        for alpha, lam in MAB_GRID:
            scores[(alpha, lam)] = float(
                np.mean(
                    [
                        run(
                            lambda s=s, a=alpha, lm=lam: MabwiserAgent(s, a, lm), n, days, s, shift_day
                        ).reward_by_day.sum()
                        for s in seeds
                    ]
                )
            )
            print(f"    mabwiser alpha {alpha} l2_lambda {lam}: {scores[(alpha, lam)]:,.0f}", flush=True)
        mab = max(scores, key=scores.get)
        print(f"  mabwiser: LinTS alpha {mab[0]}, l2_lambda {mab[1]} with an intercept (best of {MAB_GRID})")
    print(f"  tuning took {time.process_time() - t0:,.0f} s CPU")
    return Tuned(la, rules, vw, mab)


def save_tuned(t: Tuned, path: str) -> None:
    r = t.rules
    rules = {
        "cadence_days": r.cadence_days,
        "hours": list(r.hours),
        "table": [list(row) for row in r.table],
        "mql_threshold": None if r.mql_threshold == np.inf else r.mql_threshold,
        "opted_out_action": r.opted_out_action,
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"lookahead": vars(t.lookahead), "rules": rules, "vw": t.vw, "mab": list(t.mab)}, f, indent=1)


def load_tuned(path: str) -> Tuned:
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    r = d["rules"]
    rules = RuleSet(
        r["cadence_days"],
        tuple(r["hours"]),
        tuple(tuple(row) for row in r["table"]),
        np.inf if r["mql_threshold"] is None else r["mql_threshold"],
        r["opted_out_action"],
    )
    t = Tuned(LookaheadParams(**d["lookahead"]), rules, d["vw"], tuple(d["mab"]))
    print(f"tuning read from {path}:\n  non-myopic oracle: {t.lookahead}\n  tuned rules: {t.rules.describe()}")
    return t


def learner_shares(summary: dict) -> None:
    """Every row's share of :data:`LEARNER`'s reward over weeks 4 on, per seed, from the weekly
    rewards (what :func:`summarize` computes from the daily ones, for rows merged from runs that
    did not include the learner)."""
    learner = summary.get(LEARNER)
    if not learner:
        return
    weeks4 = {sd: sum(w[3:]) for sd, w in zip(learner["seed"], learner["weekly_reward"], strict=True)}
    for row in summary.values():
        pairs = zip(row["seed"], row["weekly_reward"], strict=True)
        row["learner_share_w4"] = [sum(w[3:]) / weeks4[sd] for sd, w in pairs if sd in weeks4]


def merge(paths: list[str], args: argparse.Namespace) -> None:
    """One report over several runs' --json outputs (e.g. one process per seed)."""
    summary: dict[str, dict[str, list[float]]] = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        args.weeks, args.shift_week = d["args"]["weeks"], d["args"]["shift_week"]
        for name, row in d["summary"].items():
            for k, v in row.items():
                summary.setdefault(name, {}).setdefault(k, []).extend(v)
    for row in summary.values():  # align every policy's lists by seed, so per-seed differences pair up
        # a policy run in several processes (the oracle beside each group) counts once per seed
        first = {sd: i for i, sd in reversed(list(enumerate(row["seed"])))}
        order = [first[sd] for sd in sorted(first)]
        n_rows = len(row["seed"])
        for k, v in list(row.items()):
            if len(v) == n_rows:
                row[k] = [v[i] for i in order]
    learner_shares(summary)  # runs without the learning oracle beside them get theirs too
    print(f"merged {len(paths)} runs: {', '.join(paths)}")
    print_report(summary, args)


def print_settings(t: Tuned) -> None:
    print("peer settings (why):")
    print(f"  vw / vw_sys: --cb_explore_adf {t.vw} -q sa; cost -reward/10 (the engine's reward scale);")
    print("    shared features = the engine's features (VW adds its constant); actions = eligible catalog entries;")
    print("    exploration chosen on the tuning seeds; -q sa so each action gets its own weights per feature")
    print(f"  mabwiser / mabwiser_sys: LinTS(alpha={t.mab[0]}, l2_lambda={t.mab[1]}) on [1, features]; reward/10;")
    print("    the intercept column gives each arm a baseline (without it LinTS forces every arm through 0);")
    print("    alpha (posterior scale) and l2_lambda (ridge) chosen on the tuning seeds; fit once a day in batch")
    print("  *_sys: plus the engine's system parts, not its learner: send time (decision/send_time.py),")
    print("    sales channel (decision/channel.py), opt-out smoothing of the learned reward (decision/risk.py)")
    print("    and a 10% sample of wait decisions learned at reward 0 (the pipeline logs waits)")
    print("  all peers choose among the same eligible actions (decision.arbitration.eligibility) every day")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--contacts", type=int, default=10_000)
    ap.add_argument("--weeks", type=int, default=16)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--shift-week", type=int, default=8)
    ap.add_argument("--quick", action="store_true", help="2,000 contacts, 10 weeks (shift at 5), 2 seeds")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument(
        "--policies",
        default="oracle,oracle_learns-crm,oracle_myopic,legacy,rules_tuned,engine,vw,vw_sys,mabwiser,mabwiser_sys",
    )
    ap.add_argument("--tune-seeds", default="1000,1001", help="seeds for every search (disjoint from evaluation)")
    ap.add_argument("--tune-contacts", type=int, default=1000)
    ap.add_argument("--tuned", default=None, help="tuning result: read if it exists, else tune and write it")
    ap.add_argument("--merge", nargs="+", default=None, help="report over these --json outputs (per-seed runs)")
    ap.add_argument("--long-term-weight", type=float, default=0.3)
    ap.add_argument(
        "--learning-quantile", type=float, default=QUANTILE, help="oracle_learns: the tolerance quantile it acts on"
    )
    ap.add_argument("--json", default=None, help="write the summary here")
    args = ap.parse_args(argv)
    if args.quick:
        args.contacts, args.weeks, args.seeds, args.shift_week = 2000, 10, 2, 5
    days = args.weeks * 7
    shift_day = args.shift_week * 7
    names = [p for p in args.policies.split(",") if p]
    if args.no_peers:
        names = [p for p in names if not p.startswith(("vw", "mabwiser"))]
    for module in ("vowpalwabbit", "mabwiser"):
        try:
            __import__(module)
        except ImportError:
            print(f"{module} not installed; pip install -e '.[bench]' to include it")
            names = [p for p in names if not p.startswith(module[:3])]
    if args.merge:
        merge(args.merge, args)
        return
    eval_seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    tune_seeds = {int(x) for x in args.tune_seeds.split(",")}
    if tune_seeds & set(eval_seeds):
        raise SystemExit(f"tuning seeds {sorted(tune_seeds)} overlap evaluation seeds {eval_seeds}")
    print(
        f"decision quality: {args.contacts:,} contacts, {args.weeks} weeks, regime shift at week {args.shift_week}, "
        f"seeds {eval_seeds}; policies {', '.join(names)} (decision components on market arrays, see docstring)"
    )
    t = load_tuned(args.tuned) if args.tuned and os.path.exists(args.tuned) else tune(args, days, shift_day, names)
    if args.tuned and not os.path.exists(args.tuned):
        save_tuned(t, args.tuned)
    print_settings(t)
    makers: dict[str, Callable[[int], Agent]] = {
        "oracle": lambda s: Oracle(days, t.lookahead),
        "oracle_myopic": lambda s: MyopicOracle(),
        "legacy": lambda s: Legacy(),
        "rules_tuned": lambda s: TunedRules(t.rules),
        "random": lambda s: Random(s),
        "engine": lambda s: Engine(s, long_term_weight=args.long_term_weight),
        "engine_no_send_time": lambda s: Engine(s, long_term_weight=args.long_term_weight, send_time=False),
        "engine_no_long_term": lambda s: Engine(s, long_term_weight=0.0),
        "engine_no_sv": lambda s: Engine(s, long_term_weight=args.long_term_weight, segment_values=False),
        "engine_one_deal_value": lambda s: Engine(s, long_term_weight=args.long_term_weight, deal_bands=False),
        "engine_own_unsubs": lambda s: Engine(s, long_term_weight=args.long_term_weight, risk_rows=0.0),
        "engine_lt_learned": lambda s: Engine(s, long_term_weight=args.long_term_weight, learn_long_term=True),
        "engine_explore_unproven": lambda s: Engine(s, long_term_weight=args.long_term_weight, explore_unproven=True),
        "engine_lt_no_prior": lambda s: Engine(
            s, long_term_weight=args.long_term_weight, learn_long_term=True, long_term_prior=False
        ),
        "engine_lt_in_window": lambda s: Engine(
            s, long_term_weight=args.long_term_weight, learn_long_term=True, in_window_long_term=True
        ),
        "vw": lambda s: VWAgent(s, t.vw),
        "vw_sys": lambda s: VWAgent(s, t.vw, system=True),
        "mabwiser": lambda s: MabwiserAgent(s, *t.mab),
        "mabwiser_sys": lambda s: MabwiserAgent(s, *t.mab, system=True),
    }
    for name in names:
        if name.startswith("oracle_learns"):
            crm = name == "oracle_learns-crm"
            learn = (
                tuple(name[len("oracle_learns-") :].split("-")) if "-" in name and not crm else ("hour", "tolerance")
            )
            if set(learn) - {"hour", "tolerance"}:
                raise SystemExit(f"{name}: the learning oracle learns hour and/or tolerance, or is oracle_learns-crm")
            makers[name] = lambda s, learn=learn, crm=crm: LearningOracleAgent(
                days, t.lookahead, learn, args.learning_quantile, crm
            )
        if name.startswith("oracle-"):
            remove = tuple(ORACLE_PIECES) if name == "oracle-crm" else tuple(name[len("oracle-") :].split("-"))
            unknown = [r for r in remove if r not in ORACLE_PIECES]
            if unknown:
                raise SystemExit(f"unknown oracle pieces {unknown}; known: {', '.join(ORACLE_PIECES)}, or oracle-crm")
            makers[name] = lambda s, remove=remove: AblatedOracle(days, t.lookahead, remove)
    results: dict[str, list[RunResult]] = {n: [] for n in names}
    for seed in eval_seeds:
        for name in names:
            r = run(lambda name=name, seed=seed: makers[name](seed), args.contacts, days, seed, shift_day)
            results[name].append(r)
            print(
                f"  seed {seed} {name:13s} reward {r.reward_by_day.sum():10,.0f} opps {r.opportunities:5d} "
                f"won {r.won_revenue:12,.0f} unsubs {r.unsubscribes:5d} {r.seconds:6.1f}s {r.extra or ''}",
                flush=True,
            )
    summary = summarize(results, days, shift_day)
    verdicts = print_report(summary, args)
    if args.json:
        tuned = {"lookahead": vars(t.lookahead), "rules": t.rules.describe(), "vw": t.vw, "mabwiser": t.mab}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "tuned": tuned, "summary": summary, "verdicts": verdicts}, f, indent=1)


if __name__ == "__main__":
    main()
