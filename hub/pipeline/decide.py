"""Decide for a chunk of contacts and queue the resulting pushes.

Idempotent by ``request_key``: a redelivered task finds its decisions written and does
nothing. Each action becomes one push per target record: the contact's identity in every
enabled connector that receives that action kind (or the one the action names).
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Connection
from threadpoolctl import ThreadpoolController

from decision.experiment import ENGINE_ARMS
from decision.interface import ContactView
from hub.governance import plan as governance
from hub.models import ActionKind, Contact, Decision
from hub.outcomes_spec import longest_window
from hub.pipeline.context import HubContext
from hub.pipeline.features import ensure_features
from hub.pipeline.targets import day_start, push_targets
from hub.profile import empty_profile
from hub.store import contacts as contact_store
from hub.store import decisions as decision_store
from hub.store import profiles as profile_store


def handoffs_today(ctx: HubContext, conn: Connection, now: datetime) -> dict[str, int]:
    """The engine's sales handoffs since the start of ``now``'s day, per owner: what its budgets
    have spent (a decide batch and the real-time API read them alike)."""
    return decision_store.handoffs_since(conn, ctx.policy.sales, day_start(now), ENGINE_ARMS)


@dataclass
class DecideResult:
    decided: int = 0
    already: int = 0
    pushes: int = 0  # queued or held for approval
    held: int = 0  # of ``pushes``, held for a person's approval (governance.autonomy): no worker sends them
    connectors: set[str] = field(default_factory=set)


def push_rows(ctx: HubContext, contact: Contact, decision: Decision, decision_id: int) -> list[dict]:
    """Field writes carry the decision id and arm: a new decision is a new instruction to the
    MAP (re-run the send), and the CRM can report by arm."""
    rows = []
    for action in decision.actions:
        payload = action.payload
        if action.kind is ActionKind.SET_FIELDS:
            payload = {
                "fields": {**payload.get("fields", {}), "decision_id": str(decision_id), "experiment_arm": decision.arm}
            }
        for ident in push_targets(ctx, contact, action.connector, action.kind):
            rows.append(
                {
                    "decision_id": decision_id,
                    "contact_id": contact.id,
                    "connector": ident.connector,
                    "object_type": ident.object_type,
                    "external_id": ident.external_id,
                    "kind": action.kind.value,
                    "payload": payload,
                }
            )
    return rows


def decide_contacts(
    ctx: HubContext,
    contact_ids: Sequence[int],
    request_key: str,
    owed_only: bool = False,
    decided_before: datetime | None = None,
) -> DecideResult:
    """Decide for these contacts once per request key.

    ``owed_only`` (the worker's decide task): skip contacts decided since their last change. A
    change can have two decide tasks in the queue, the sync's and the sweep's (the sweep cannot
    tell a lost task from a queued one), and whichever runs second finds the change decided.
    It compares the store's change time with the decision time, so it needs the wall clock.
    ``decided_before`` (a periodic re-decide): skip contacts decided at or after it, e.g. by a
    sync's decide task that ran while the re-decide waited in the queue."""
    ensure_features(ctx)  # declared features: fitted state loaded (or fitted once) before reading
    # one math thread: decide scales by processes, one per core, and a BLAS or OpenMP pool
    # spins on the cores the other processes decide on (2 processes decided fewer contacts a
    # second than 1 on 2 cores, with 2.5x the CPU per contact)
    with _math_pools().limit(limits=1):
        result = _decide(ctx, contact_ids, request_key, owed_only, decided_before)
    freeze_heap()
    return result


@cache
def freeze_heap() -> None:
    """Move what this process holds after its first batch (imports, the policy and its models,
    connections) out of the garbage collector's reach, once. Every full collection traversed
    all of it: 13-22% of a decide worker's CPU (0.04-0.07 ms per contact at 20,000 contacts),
    0.015 ms frozen; in ``hub serve`` each one stalled every request for 135 ms (275,000 objects;
    a p99 of 242 ms at 500 req/s). Frozen objects are still freed by reference counting; only a
    cycle among them (the policy this batch used, if a new model later replaces it) is never
    collected."""
    gc.collect()
    gc.freeze()


@cache
def _math_pools() -> ThreadpoolController:
    """The BLAS and OpenMP pools this process has loaded (the policy's imports load them)."""
    return ThreadpoolController()


def _decide(
    ctx: HubContext, contact_ids: Sequence[int], request_key: str, owed_only: bool, decided_before: datetime | None
) -> DecideResult:
    result = DecideResult()
    now = ctx.clock()
    with ctx.store.connect() as conn:
        gov = governance.policy_for(ctx, conn)  # the legacy rules while the kill switch is on
        engine = getattr(gov.policy, "needs_profiles", False)
        done = decision_store.existing_requests(conn, contact_ids, request_key)
        if owed_only:
            done |= decision_store.decided_since_change(conn, contact_ids)
        if decided_before is not None:
            done |= decision_store.decided_since(conn, contact_ids, decided_before)
        todo = [i for i in dict.fromkeys(contact_ids) if i not in done]
        contacts = contact_store.load_contacts(conn, todo)
        ids = [c.id for c in contacts]
        # aggregates, not a rescan of history: the engine and the legacy rules (its kill switch)
        # read a contact as the real-time API does (hub/api/realtime.py)
        profiles = profile_store.load_profiles(conn, ids)
        decided: dict[int, list] = {}
        if engine:  # the newest model; today's budget use
            from hub.pipeline.learn import ensure_current

            ensure_current(ctx, conn)
            used = handoffs_today(ctx, conn, now)
        if engine or getattr(gov.policy, "needs_recent", False):  # the kill switch's guard counts them too
            decided = decision_store.recent_actions(conn, ids, now - timedelta(days=decision_store.DECIDED_DAYS))
        views = [
            ContactView(contact=c, profile=profiles.get(c.id, empty_profile()), decided=decided.get(c.id, []))
            for c in contacts
        ]
    result.already = len(done)
    if not contacts:
        return result
    decisions = gov.policy.decide(views, now, budget_used=used) if engine else gov.policy.decide(views, now)
    decisions = governance.after_policy(ctx, gov, contacts, decisions, now)  # lead scores, owner routing
    with ctx.store.begin() as conn:
        ids = decision_store.insert_decisions(
            conn, decisions, request_key, longest_window(ctx.settings.decision.outcomes)
        )
        rows = [row for c, d, i in zip(contacts, decisions, ids, strict=True) for row in push_rows(ctx, c, d, i)]
        result.pushes = governance.enqueue(ctx, conn, gov, contacts, decisions, ids, rows, now)  # autonomy
        result.held = gov.held
    result.decided = len(decisions)
    ctx.decide_growth.added(result.decided + result.pushes)  # after the commit: ANALYZE in its own transaction
    result.connectors = {r["connector"] for r in rows}
    return result
