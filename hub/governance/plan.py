"""What ``decide`` calls around the policy: kill switch fallback, scores, routing, autonomy.

Three calls, each additive to the decide step so the policy itself (decision/engine.py) knows
nothing of governance:

1. :func:`policy_for` before deciding: the configured policy, or the legacy rules when the
   ``next_best_action`` kill switch is on.
2. :func:`after_policy` once it has decided: lead scores (if configured) and owner routing of
   sales hand-offs, each falling back to its legacy behaviour under its own kill switch.
3. :func:`enqueue` with the push rows: scores ride on the contact's field write, then
   autonomy splits the rows into sent now, held for approval, or dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from decision.interface import Policy
from decision.rules import RulesPolicy
from hub.governance import approvals, autonomy, killswitch
from hub.models import ActionKind, Contact, Decision
from hub.pipeline.context import HubContext
from hub.pipeline.routing import chosen_action, route_handoffs
from hub.pipeline.targets import day_start, push_targets
from hub.store import pushes as push_store

FALLBACK_NOTE = "Kill switch on: legacy rules"


class FallbackRules:
    """The legacy rules for every contact, each decision saying the kill switch made it.

    A decision keeps the contact's experiment arm (``arms``: the engine's stable hash,
    decision/experiment.py), as an experiment keeps its buckets through an incident: the
    reports take a contact's arm from its first decision, so stamping the rules' own arm would
    move everyone first decided while the switch was on out of the experiment for good. The
    episode is then part of each arm's treatment (intention to treat)."""

    needs_profiles = False

    def __init__(
        self,
        rules: RulesPolicy,
        arms: Callable[[Sequence[int]], Any] | None = None,
        guarded: Callable[[list[Any], datetime], list[Decision]] | None = None,
    ):
        self.rules = rules
        self.arms = arms
        #: the engine's guarded rules (``EnginePolicy.legacy``): the switch turns the engine off,
        #: not consent, the touch cap or the sales quiet period
        self.guarded = guarded
        #: the guard counts the hub's recent orders as touches (the decide step loads them)
        self.needs_recent = guarded is not None
        self.name = "rules"
        self.version = f"{rules.version}+killswitch"

    def decide(self, batch: list[Any], now: datetime) -> list[Decision]:
        made = self.guarded(batch, now) if self.guarded is not None else self.rules.decide(batch, now)
        arms = [str(a) for a in self.arms([d.contact_id for d in made])] if self.arms and made else None
        return [
            d.model_copy(
                update={
                    "explanation": f"{FALLBACK_NOTE}. {d.explanation}",
                    "policy_version": self.version,
                    **({"arm": arms[i]} if arms is not None else {}),
                }
            )
            for i, d in enumerate(made)
        ]


@dataclass
class Governed:
    policy: Policy
    switches: frozenset[str] = frozenset()
    scores: dict[int, dict[str, Any]] = field(default_factory=dict)
    held: int = 0
    off: int = 0


def policy_for(ctx: HubContext, conn: Connection) -> Governed:
    switches = killswitch.active(conn, ctx.settings.governance)
    policy: Policy = ctx.policy
    if "next_best_action" in switches:
        rules = getattr(policy, "rules", None)
        policy = FallbackRules(
            rules if isinstance(rules, RulesPolicy) else RulesPolicy(ctx.settings.decision.rules),
            getattr(policy, "arms", None),  # a rules-only hub has no experiment: its decisions stay "rules"
            getattr(policy, "legacy", None),  # the engine's guard; a rules-only hub's rules are its guard
        )
    return Governed(policy=policy, switches=switches)


def after_policy(
    ctx: HubContext, gov: Governed, contacts: Sequence[Contact], decisions: list[Decision], now: datetime
) -> list[Decision]:
    from hub.pipeline.lead_scores import score_fields

    s = ctx.settings.decision.scoring
    with ctx.store.connect() as conn:
        if s is not None and s.enabled:
            gov.scores = score_fields(ctx.store, conn, contacts, now, s, legacy="scoring" in gov.switches)
        if "routing" in gov.switches:
            return decisions
        priority = {cid: float(f["conversion_probability"]) for cid, f in gov.scores.items()}
        return route_handoffs(ctx.settings, conn, contacts, decisions, day_start(now), priority)


def _with_scores(
    ctx: HubContext, contacts: Sequence[Contact], rows: list[dict[str, Any]], ids: Sequence[int], gov: Governed
) -> list[dict[str, Any]]:
    """Scores merged into each contact's field write, or a field write of their own."""
    if not gov.scores:
        return rows
    covered = set()
    for r in rows:
        extra = gov.scores.get(r["contact_id"])
        if extra and r["kind"] == ActionKind.SET_FIELDS.value:
            r["payload"] = {"fields": {**r["payload"].get("fields", {}), **extra}}
            covered.add((r["contact_id"], r["connector"]))
    for c, did in zip(contacts, ids, strict=True):
        extra = gov.scores.get(c.id or -1)
        for ident in push_targets(ctx, c, None, ActionKind.SET_FIELDS) if extra else []:
            if (c.id, ident.connector) not in covered:
                rows.append(
                    {
                        "decision_id": did,
                        "contact_id": c.id,
                        "connector": ident.connector,
                        "object_type": ident.object_type,
                        "external_id": ident.external_id,
                        "kind": ActionKind.SET_FIELDS.value,
                        "payload": {"fields": dict(extra)},
                    }
                )
    return rows


def enqueue(
    ctx: HubContext,
    conn: Connection,
    gov: Governed,
    contacts: Sequence[Contact],
    decisions: Sequence[Decision],
    ids: Sequence[int],
    rows: list[dict[str, Any]],
    now: datetime,
) -> int:
    """Queue the rows autonomy allows now, hold the rest for approval; returns rows queued or held."""
    rows = _with_scores(ctx, contacts, rows, ids, gov)
    action_of = {i: chosen_action(d) for d, i in zip(decisions, ids, strict=True)}
    a = ctx.settings.governance.autonomy
    split = autonomy.split_rows(a, rows, action_of)
    approvals.withdraw_replaced(conn, split.send + split.hold, now)  # older approvals these overtake
    sent = push_store.enqueue(conn, split.send, now)
    gov.held = approvals.hold(conn, split.hold, split.hold_actions, now, a.approval_ttl_hours)
    gov.off = push_store.withhold(conn, split.off, now, push_store.AUTONOMY_OFF)
    return sent + gov.held
