"""Owner routing for sales hand-offs, after the policy has decided.

Only decisions whose chosen action is a ``sales_outreach`` catalog entry are routed, and
only when ``decision.owners`` is configured and the ``routing`` kill switch is off. The
router's assignment replaces any static ``assign_owner`` the decision carried (the catalog's
``owner``); a lead no owner can take (inactive, outside territory, at capacity) gets no
``assign_owner`` at all, because assigning it anyway is exactly the constraint the router
exists to keep. The routing reason is appended to the decision's explanation. An owner a CRM
reported inactive at its last sync (``Connector.owners``, hub/store/owners.py) takes no leads,
whatever ``active`` says in the config; so does one no CRM reports once some CRM has reported
its owners (a typo or a removed user, whose assignments the CRM would refuse).

Capacity is counted from the store in people, so it holds across batches and workers: open
leads = contacts the owner holds now plus those assigned to them and not yet synced back; new
today = people with an ``assign_owner`` push to that owner created since midnight UTC that was
not rejected (held ones count: approving them must not overfill) (:func:`owner_load`).
The round-robin cursor is the number of hand-offs routed today, so ties spread the same way
in every worker.

Past win rate per segment (industry / country) comes from the store's closed opportunities of
the last year, credited to the contact's current owner, as one grouped query; it is cached per
store for ``WIN_STATS_TTL`` seconds, since it moves by the deal, not by the batch.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from decision.routing import Lead, Owner, Router, TerritoryRule, lead_from_contact
from hub.config import Settings
from hub.models import Action, ActionKind, ActivityType, Contact, Decision
from hub.store import owners as owner_store
from hub.store.contacts import aware
from hub.store.schema import activities as activities_table
from hub.store.schema import contacts as contacts_table
from hub.store.schema import pushes

WIN_STATS_TTL = 900.0
WIN_STATS_WINDOW = timedelta(days=365)
_win_cache: dict[str, tuple[float, dict[tuple[str, str], tuple[int, int]]]] = {}

NOT_COUNTED = ("rejected", "superseded", "failed", "withheld")
#: how long a landed assignment the sync has not shown yet still counts as the owner's open lead
ECHO_DAYS = timedelta(days=7)
LANDED = ("done", "skipped")


def chosen_action(decision: Decision) -> str | None:
    """The catalog id a decision chose: the engine logs it; rules write ``next_best_action``."""
    if decision.action:
        return decision.action
    for a in decision.actions:
        if a.kind is ActionKind.SET_FIELDS:
            nba = a.payload.get("fields", {}).get("next_best_action")
            if nba:
                return str(nba)
    return None


def owner_load(conn: Connection, owner_ids: Sequence[str], since: datetime) -> tuple[Counter, Counter]:
    """(open leads, assigned since ``since``) per owner id, both counted in people: a person in
    two CRMs gets one ``assign_owner`` row per CRM, and counting rows filled an owner at half
    their capacity.

    Open leads are the contacts an owner holds in the store plus those the hub assigned them
    that the sync has not brought back yet (the newest counted assignment of each person, still
    to be sent or held, or landed after the sync last saw the person change, within
    ``ECHO_DAYS``): without them every batch before the echo saw the owner empty."""
    c, p = contacts_table.c, pushes.c
    open_q = select(c.owner, func.count()).where(c.owner.in_(list(owner_ids))).group_by(c.owner)
    open_leads = Counter({o: n for o, n in conn.execute(open_q)})
    assigned_q = (
        select(p.contact_id, p.payload, p.state, p.created_at, p.updated_at, c.owner, c.changed_at)
        .join(contacts_table, c.id == p.contact_id)
        .where(
            p.kind == ActionKind.ASSIGN_OWNER.value,
            p.created_at >= since - ECHO_DAYS,
            p.state.notin_(NOT_COUNTED),
        )
        .order_by(p.id)
    )
    today: set[tuple[int, str]] = set()
    unsynced: dict[int, str | None] = {}  # person -> the owner their newest assignment still waits to show
    for cid, payload, state, created, updated, held_by, changed in conn.execute(assigned_q):
        owner = str((payload or {}).get("owner"))
        if aware(created) >= since:
            today.add((cid, owner))
        landed_unseen = state not in LANDED or changed is None or aware(updated) >= aware(changed)
        unsynced[cid] = owner if owner != held_by and landed_unseen else None
    open_leads.update(o for o in unsynced.values() if o is not None and o in owner_ids)
    return open_leads, Counter(o for _, o in today)


def owner_win_stats(conn: Connection, since: datetime) -> dict[tuple[str, str], tuple[int, int]]:
    """``(segment, owner) -> (won, closed)`` from opportunities closed since ``since``."""
    closed = (ActivityType.OPPORTUNITY_WON.value, ActivityType.OPPORTUNITY_LOST.value)
    c, a = contacts_table.c, activities_table.c
    q = (
        select(c.industry, c.country, c.owner, a.type, func.count())
        .join(activities_table, a.contact_id == c.id)
        .where(c.owner.is_not(None), a.type.in_(closed), a.occurred_at >= since)
        .group_by(c.industry, c.country, c.owner, a.type)
    )
    cells: dict[tuple[str, str], list[int]] = {}
    for industry, country, owner, kind, n in conn.execute(q):
        cell = cells.setdefault((Lead(0, industry, country).segment, owner), [0, 0])
        cell[0] += n if kind == ActivityType.OPPORTUNITY_WON.value else 0
        cell[1] += n
    return {k: (w, d) for k, (w, d) in cells.items()}


def cached_win_stats(conn: Connection, now: datetime) -> dict[tuple[str, str], tuple[int, int]]:
    key = str(conn.engine.url)
    hit = _win_cache.get(key)
    if hit is None or time.monotonic() - hit[0] > WIN_STATS_TTL:
        hit = (time.monotonic(), owner_win_stats(conn, now - WIN_STATS_WINDOW))
        _win_cache[key] = hit
    return hit[1]


def build_owners(
    settings: Settings, open_leads: Counter, today: Counter, inactive: frozenset[str] = frozenset()
) -> tuple[list[Owner], list[TerritoryRule]]:
    """The configured owners with their load; ``inactive``: ids no CRM lets take leads (one
    reports them deactivated, or none knows them: ``owner_store.withheld``), whatever the config
    says."""
    owners = [
        Owner(
            o.id,
            active=o.active and o.id not in inactive,
            industries=frozenset(o.specializations.industries),
            regions=frozenset(o.specializations.regions),
            products=frozenset(o.specializations.products),
            languages=frozenset(o.specializations.languages),
            open_leads=open_leads.get(o.id, 0),
            max_open_leads=o.capacity.max_open_leads,
            assigned_today=today.get(o.id, 0),
            max_new_per_day=o.capacity.max_new_per_day,
        )
        for o in settings.decision.owners
    ]
    regions = sorted({r for o in settings.decision.owners for r in o.territory})
    rules = [
        TerritoryRule(
            f"territory {r}",
            frozenset(o.id for o in settings.decision.owners if r in o.territory),
            regions=frozenset({r}),
        )
        for r in regions
    ]
    return owners, rules


def route_handoffs(
    settings: Settings,
    conn: Connection,
    contacts: Sequence[Contact],
    decisions: list[Decision],
    day_start: datetime,
    priority: dict[int, float] | None = None,
) -> list[Decision]:
    """Decisions with routed ``assign_owner`` actions (a new list; the inputs are not changed)."""
    sales = {a.id for a in settings.decision.actions if a.kind == "sales_outreach"}
    if not sales or not settings.decision.owners:
        return decisions
    todo = [i for i, d in enumerate(decisions) if chosen_action(d) in sales]
    if not todo:
        return decisions
    prio = priority or {}
    todo.sort(key=lambda i: -prio.get(contacts[i].id or -1, 0.0))  # best leads first: they get capacity first
    open_leads, today = owner_load(conn, [o.id for o in settings.decision.owners], day_start)
    withheld = owner_store.withheld(conn, [o.id for o in settings.decision.owners])
    owners, rules = build_owners(settings, open_leads, today, frozenset(withheld))
    router = Router()
    router.cursor_ = sum(today.values())
    leads: list[Lead] = [lead_from_contact(contacts[i]) for i in todo]
    out = list(decisions)
    wins = cached_win_stats(conn, day_start)
    for i, a in zip(todo, router.route_many(leads, owners, rules, wins), strict=True):
        d = decisions[i]
        actions = [x for x in d.actions if x.kind is not ActionKind.ASSIGN_OWNER]
        if a.owner is not None:
            actions.append(Action(kind=ActionKind.ASSIGN_OWNER, payload={"owner": a.owner}))
        out[i] = d.model_copy(update={"actions": actions, "explanation": f"{d.explanation} | routing: {a.reason}"})
    return out
