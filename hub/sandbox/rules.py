"""The tuned rules baseline: the best rule set a competent ops team could find with hindsight.

The legacy playbook (playbook.py) is what teams ship; this is what they could ship if they
searched: a send cadence, one local send hour per role (tools send in each recipient's time
zone), a segment-to-action table (role x lifecycle stage), an MQL lead-score threshold that
hands decision-ready leads to sales, and an action for people who opted out of email. Like the
playbook it reads only what a CRM shows (activity counts, stage, role, opt-outs), never hidden
state; the search (:func:`search`) uses the simulator's truth to score candidates, on tuning
seeds separate from the evaluation seeds: coordinate ascent over every parameter, starting
from the playbook's own choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from hub.sandbox import ground_truth as gt
from hub.sandbox.catalog import ACTION_INDEX, CATALOG
from hub.sandbox.market import Market
from hub.sandbox.playbook import Playbook
from hub.sandbox.simulate import coordinate_ascent, mean_reward

A = len(CATALOG)
WAIT = ACTION_INDEX["wait"]
SALES = ACTION_INDEX["sales_outreach"]
ROLES = ("technical", "business", "executive")
STAGES = ("unaware", "aware", "consideration", "decision", "customer")
_NT, _NB = ACTION_INDEX["email_nurture_technical"], ACTION_INDEX["email_nurture_business"]


def _legacy_table() -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(_NT if r == 0 else _NB for _ in STAGES[:4]) + (WAIT,) for r in range(3))


@dataclass(frozen=True)
class RuleSet:
    """Every knob an ops team sets; ``table[role][stage]`` is a catalog index."""

    cadence_days: int = 7
    hours: tuple[int, int, int] = (10, 10, 10)
    table: tuple[tuple[int, ...], ...] = field(default_factory=_legacy_table)
    mql_threshold: float = 60.0
    opted_out_action: int = WAIT

    def describe(self) -> str:
        rows = "; ".join(
            f"{ROLES[r]}: " + ", ".join(f"{STAGES[s]}->{CATALOG[self.table[r][s]].id}" for s in range(5))
            for r in range(3)
        )
        hours = ", ".join(f"{ROLES[r]} {h}:00" for r, h in enumerate(self.hours))
        mql = "never" if self.mql_threshold == np.inf else f"score >= {self.mql_threshold:g}"
        return (
            f"every {self.cadence_days} days at local {hours}; sales when {mql} (on due days); "
            f"opted out -> {CATALOG[self.opted_out_action].id}; table {rows}"
        )


class RulesPolicy:
    """``decide(market)`` for today under a :class:`RuleSet`."""

    def __init__(self, rules: RuleSet) -> None:
        self.r = rules
        self.table = np.asarray(rules.table)

    def __call__(self, market: Market) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pop, r = market.pop, self.r
        n = pop.n
        due = (np.arange(n) % r.cadence_days) == (market.day % r.cadence_days)
        action = self.table[pop.role, market.stage]
        score = Playbook().lead_score(market)
        action = np.where((score >= r.mql_threshold) & (market.stage < 4), SALES, action)
        opted = market.unsubscribed | ~pop.email_consent
        mail = np.isin(gt.KIND[action], (gt.K_EMAIL, gt.K_OFFER))
        action = np.where(opted & mail, r.opted_out_action, action)
        action = np.where((action == SALES) & pop.do_not_call, WAIT, action)
        action = np.where(due, action, WAIT).astype(np.int64)
        hour = np.asarray(r.hours)[pop.role].astype(np.int64)
        return action, hour, gt.CHANNEL[action]


def _moves():  # noqa: ANN202
    """(name, change) pairs: each changes one parameter of a rule set."""

    def cell(role: int, stage: int, a: int):  # noqa: ANN202
        def f(r: RuleSet) -> RuleSet:
            t = [list(row) for row in r.table]
            t[role][stage] = a
            return replace(r, table=tuple(tuple(row) for row in t))

        return f

    def hour(role: int, h: int):  # noqa: ANN202
        def f(r: RuleSet) -> RuleSet:
            hs = list(r.hours)
            hs[role] = h
            return replace(r, hours=tuple(hs))

        return f

    for c in (1, 2, 3, 4, 5, 7, 10, 14):
        yield "cadence_days", lambda r, c=c: replace(r, cadence_days=c)
    for role in range(3):
        for h in range(7, 18):
            yield "hours", hour(role, h)
    for role in range(3):
        for stage in range(5):
            for a in range(A):
                yield "table", cell(role, stage, a)
    for thr in (20.0, 40.0, 60.0, 100.0, 150.0, np.inf):
        yield "mql_threshold", lambda r, t=thr: replace(r, mql_threshold=t)
    for a in (WAIT, ACTION_INDEX["ad_retarget"]):
        yield "opted_out_action", lambda r, a=a: replace(r, opted_out_action=a)


def search(
    n: int, days: int, seeds: tuple[int, ...], shift_day: int | None, passes: int = 2, log=None
) -> tuple[RuleSet, float, float]:
    """Coordinate ascent from the playbook-like rule set; returns the best rules, their mean
    reward and the starting point's, on ``seeds``."""

    def value(rules: RuleSet) -> float:
        return mean_reward(lambda: RulesPolicy(rules), n, days, seeds, shift_day)

    return coordinate_ascent(RuleSet(), _moves, value, passes, log, "rules")
