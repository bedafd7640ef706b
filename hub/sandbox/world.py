"""The world: one population and market behind two CRMs, advanced by a simulated clock.

The hub acts only by writing CRM fields; the world notices writes of the hub's fields, runs
the named actions on the next simulated day, and writes the market's responses back into both
CRMs (email events, forms, meetings, calls, opportunities or deals, opt-outs, lead conversions).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from hub.sandbox import ground_truth as gt
from hub.sandbox.catalog import ACTION_INDEX, CHANNELS
from hub.sandbox.clock import DAY_MS, DEFAULT_START, SimClock, parse_datetime_ms
from hub.sandbox.crm_writer import write_events
from hub.sandbox.hubspot_state import LIFECYCLE, OWNER_IDS, HubSpotState, employee_range, hubspot_zone
from hub.sandbox.market import EV, EVENT_TYPES, PAGES, ActionBatch, Market, MarketConfig
from hub.sandbox.population import (
    COUNTRIES,
    INDUSTRIES,
    TZ_NAMES,
    Population,
    generate_population,
    tech_names,
)
from hub.sandbox.salesforce_state import SalesforceState
from hub.sandbox.writelog import WriteLog

#: how long after writing a day of the market the hub's next step runs: longer than search's
#: index lag (HubSpot's "few moments", hubspot_server.HubSpotLimits.search_lag_ms)
SETTLED_MS = 60_000
_BAD_DATES = ("31/02/2024", "yesterday", "0000-00-00", "2024-13-45", "N/A")


@dataclass
class WorldConfig:
    """Everything that defines a world; the same config and seed give the same world."""

    n_contacts: int = 2000
    seed: int = 0
    start: datetime = DEFAULT_START
    regime_shift: gt.RegimeShift = field(default_factory=gt.RegimeShift)
    weights: gt.RewardWeights = field(default_factory=gt.RewardWeights)
    merge_day: int = 2
    write_page_views: bool = True
    realtime_clock: bool = True  # False: stamps independent of machine speed (see SimClock)
    # True (`hub sandbox serve`): stamps are wall-clock time, as a hub on the wall clock needs to
    # credit outcomes; days pass when advance_days is called, and ``start`` is ignored
    wall_clock: bool = False
    # True: the Salesforce org's admin already created the hub's custom fields; False (a real
    # new org): they do not exist until `hub connectors setup` (ensure_schema) creates them
    salesforce_hub_fields: bool = False


@dataclass
class PendingAction:
    action: str
    send_time: str | None
    channel: str | None
    decision_id: str | None
    system: str


class World:
    """Population, market, clock and both CRMs. Thread-safe through ``lock``."""

    def __init__(self, config: WorldConfig | None = None, **overrides: Any) -> None:
        cfg = config or WorldConfig(**overrides)
        self.config = cfg
        self.lock = threading.RLock()
        self.pop: Population = generate_population(cfg.n_contacts, cfg.seed)
        self.market = Market(self.pop, MarketConfig(cfg.seed, cfg.regime_shift, cfg.weights))
        self.clock = SimClock(cfg.start, realtime=cfg.realtime_clock, wall=cfg.wall_clock)
        self.log = WriteLog()
        self.hubspot = HubSpotState(self.clock, self.log, self._on_hub_fields)
        self.salesforce = SalesforceState(self.clock, self.log, self._on_hub_fields, cfg.salesforce_hub_fields)
        self.hubspot.lock = self.salesforce.lock = self.lock
        self.hubspot.on_list_add = self.salesforce.on_list_add = self._on_list_add
        self.pending: dict[int, PendingAction] = {}
        self.executed_decisions: dict[int, str] = {}
        self.rejected_actions: list[tuple[int, str, str]] = []
        self._duplicates: list[tuple[str, str]] = []
        self._campaign = ""
        self.accounts: dict[int, str] = {}  # company index -> Salesforce Account id
        self.market_opps: dict[int, str] = {}  # person -> open Salesforce Opportunity id
        self.market_deals: dict[int, str] = {}  # person -> open HubSpot deal id (people not in Salesforce)
        with self.lock:
            self._populate()

    @property
    def day(self) -> int:
        return self.clock.day

    # ---- initial CRM contents --------------------------------------------------------------
    def _populate(self) -> None:
        pop, hs, sf = self.pop, self.hubspot, self.salesforce
        at = self.clock.start_ms - 30 * DAY_MS
        rng = np.random.default_rng([self.config.seed, 7])
        accounts = self.accounts
        self._campaign = sf.create(
            "Campaign",
            {"Name": "Hub nurture", "IsActive": True, "Status": "In Progress", "Type": "Email"},
            at_ms=at,
        )
        for i in range(pop.n):
            c = int(pop.company[i])
            last_event = (
                _BAD_DATES[i % len(_BAD_DATES)] if pop.bad_date[i] else f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}"
            )
            stage = int(self.market.stage[i])
            if pop.in_hubspot[i]:
                props = {
                    "email": pop.hs_email_variant[i],
                    "firstname": pop.first_name[i],
                    "lastname": pop.last_name[i],
                    "company": pop.company_name[c],
                    "jobtitle": pop.title[i],
                    "industry": INDUSTRIES[pop.company_industry[c]],
                    "numemployees": employee_range(int(pop.company_employees[c])),  # a dropdown
                    "annualrevenue": float(pop.company_revenue[c]),
                    "country": COUNTRIES[pop.company_country[c]],
                    # HubSpot keeps the zone as a slug of its IANA name (america_slash_new_york)
                    "hs_timezone": hubspot_zone(TZ_NAMES[pop.company_country[c]]),
                    "lifecyclestage": LIFECYCLE[stage],
                    "hs_email_optout": "true" if self.market.unsubscribed[i] else "false",
                    "hubspot_owner_id": OWNER_IDS[i % 5] if stage >= 3 else None,
                    "hs_analytics_num_page_views": 0,
                    "last_event_date": last_event,
                    "tech_stack": ";".join(tech_names(int(pop.company_tech[c]))),
                }
                rid = hs.add_record(props, i, at + i)
                if pop.hs_duplicate[i]:
                    dup = dict(props, email=None, firstname=pop.first_name[i].upper())
                    self._duplicates.append((rid, hs.add_record(dup, i, at + i)))
                if rng.random() < 0.005:
                    hs.records[rid]["archived"] = True
                    hs.records[rid]["archivedAt"] = at + i
            if pop.in_salesforce[i]:
                person = {
                    "FirstName": pop.first_name[i],
                    "LastName": pop.last_name[i],
                    "Email": pop.sf_email_variant[i],
                    "Title": pop.title[i],
                    "HasOptedOutOfEmail": bool(self.market.unsubscribed[i]),
                    "DoNotCall": bool(pop.do_not_call[i]),
                    "Last_Event_Date__c": last_event,
                    "OwnerId": sf.users[i % 5],
                    "LeadSource": "Web",
                }
                if stage >= 3:
                    if c not in accounts:
                        accounts[c] = self._account(c, at)
                    rid = sf.create("Contact", dict(person, AccountId=accounts[c]), at_ms=at + i, person=i)
                    sf.contact_of_person[i] = rid
                else:
                    rid = sf.create(
                        "Lead",
                        dict(
                            person,
                            Company=pop.company_name[c],
                            Industry=INDUSTRIES[pop.company_industry[c]],
                            NumberOfEmployees=int(pop.company_employees[c]),
                            AnnualRevenue=float(pop.company_revenue[c]),
                            Country=COUNTRIES[pop.company_country[c]],
                            Status="Open - Not Contacted",
                        ),
                        at_ms=at + i,
                        person=i,
                    )
                    sf.lead_of_person[i] = rid

    def _account(self, c: int, at: int | None = None) -> str:
        pop = self.pop
        return self.salesforce.create(
            "Account",
            {
                "Name": pop.company_name[c],
                "Industry": INDUSTRIES[pop.company_industry[c]],
                "NumberOfEmployees": int(pop.company_employees[c]),
                "AnnualRevenue": float(pop.company_revenue[c]),
                "BillingCountry": COUNTRIES[pop.company_country[c]],
                "Tech_Stack__c": ";".join(tech_names(int(pop.company_tech[c]))),
            },
            at_ms=at,
        )

    # ---- the hub's writes ------------------------------------------------------------------
    def _on_hub_fields(self, system: str, person: int, fields: dict[str, Any]) -> None:
        """Queue an action when the decision id (or, without one, the action) changed."""
        changed = fields.get("_changed", [])
        did = fields.get("decision_id")
        action = fields.get("next_best_action")
        if not action:
            return
        if "decision_id" in changed or ("next_best_action" in changed and not did):
            if did and self.executed_decisions.get(person) == did:
                return  # the same decision written to the other CRM: executes once
            old = self.pending.get(person)
            if old is not None and did and old.decision_id == did:
                # The same decision arriving through the second CRM completes, never resets.
                old.send_time = old.send_time or fields.get("best_send_time")
                old.channel = old.channel or fields.get("best_channel")
                return
            self.pending[person] = PendingAction(
                action, fields.get("best_send_time"), fields.get("best_channel"), did, system
            )

    def _on_list_add(self, system: str, person: int, list_name: str) -> None:
        """Adding someone to a list (HubSpot) or campaign (Salesforce) whose name contains a
        catalog action id (e.g. "hub: ad_retarget") runs that action once per day of joining.
        A decision written to the contact's fields takes precedence the same day."""
        ids = [a for a in ACTION_INDEX if a in list_name]
        if not ids or person in self.pending:
            return
        action = max(ids, key=len)
        did = f"list:{action}:{self.clock.day}"
        if self.executed_decisions.get(person) != did:
            self.pending[person] = PendingAction(action, None, None, did, system)

    def _local_hour(self, person: int, send_time: str | None) -> int:
        """A bare hour ("14", "14:30") is the contact's local hour; an ISO datetime is an
        instant, converted with the contact's time zone; missing or garbage means 10:00."""
        if send_time in (None, ""):
            return 10
        s = str(send_time).strip()
        try:
            if len(s) <= 5:
                return int(s.split(":")[0]) % 24
            ms = parse_datetime_ms(s)
        except ValueError:
            return 10
        utc_hour = (ms // 3_600_000) % 24
        return int((utc_hour + self.pop.tz_offset[person]) % 24)

    def _pending_batch(self) -> ActionBatch:
        idx, act, hour, chan, dids = [], [], [], [], []
        for person, p in sorted(self.pending.items()):
            if p.action not in ACTION_INDEX:
                self.rejected_actions.append((person, p.action, "unknown action id"))
                continue
            a = ACTION_INDEX[p.action]
            c = int(gt.CHANNEL[a])
            if p.channel in CHANNELS and gt.KIND[a] == gt.K_SALES and p.channel != "none":
                c = CHANNELS.index(p.channel)
            idx.append(person)
            act.append(a)
            hour.append(self._local_hour(person, p.send_time))
            chan.append(c)
            dids.append(p.decision_id)
            if p.decision_id:
                self.executed_decisions[person] = p.decision_id
        self.pending.clear()
        if not idx:
            return ActionBatch.empty()
        return ActionBatch(
            np.asarray(idx),
            np.asarray(act),
            np.asarray(hour),
            np.asarray(chan),
            np.asarray(dids, dtype=object),
        )

    # ---- advancing -------------------------------------------------------------------------
    def advance_days(self, n: int = 1) -> dict[str, int]:
        """Simulate ``n`` days; returns counts of events by type over those days."""
        totals: dict[str, int] = dict.fromkeys(EVENT_TYPES, 0)
        for _ in range(n):
            with self.lock:
                floor = self.clock.now_ms() + 1
                day_start = self.clock.day_start_ms
                before_stage = self.market.stage.copy()
                before_unsub = self.market.unsubscribed.copy()
                events = self.market.step(self._pending_batch())
                self.clock.set_day(self.clock.day + 1)
                if self.clock.day == self.config.merge_day:
                    for primary, dup in self._duplicates:
                        if primary in self.hubspot.records and dup in self.hubspot.records:
                            self.hubspot.merge(primary, dup)
                if self.clock.wall:
                    # a day passed in however long the caller waited: the market's responses are
                    # stamped as it writes them, after the decisions they answer, never ahead of
                    # the wall (a hub would read them as the future)
                    times = np.full(len(events["second"]), floor, dtype=np.int64)
                else:
                    times = np.maximum(day_start + events["second"] * 1000, floor)
                write_events(self, events, times, before_stage, before_unsub)
                # the day's records were stamped in one burst just now; a day of activity
                # happens over the day, so by the next morning search's index holds it
                self.clock.skip_until(self.clock.last_ms + SETTLED_MS)
                for k, c in zip(*np.unique(events["type"], return_counts=True), strict=True):
                    totals[EVENT_TYPES[k]] += int(c)
        return totals

    def ground_truth_log(self) -> dict[str, np.ndarray]:
        """Every executed action with its drawn outcomes (see Market.log_arrays)."""
        return self.market.log_arrays()

    def person_for(self, system: str, record_id: str) -> int | None:
        """The hidden person behind a CRM record id (tests and benchmarks only)."""
        if system == "hubspot":
            rid = self.hubspot.resolve(str(record_id))
            return self.hubspot.person_of.get(rid) if rid else None
        return self.salesforce.person_of.get(str(record_id))

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now_ms() / 1000, UTC)


__all__ = ["World", "WorldConfig", "EV", "PAGES"]
