"""The rules policy: the if-X-then-Y playbook ops teams already run, as config.

The first rule whose ``when`` holds gives the contact's actions (like a workflow's first
matching branch); no match means no action. It is the cold-start and holdout baseline the
learning engine is measured against.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from decision.context import expression_env
from decision.interface import ContactView
from hub.config import Rule
from hub.expressions import Expression
from hub.models import Action, Decision


class RulesPolicy:
    name = "rules"

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self._compiled = [Expression(r.when) for r in rules]
        #: the names the rules read (their expression environments need no others)
        self.names = frozenset().union(*(e.names for e in self._compiled))
        blob = json.dumps([r.model_dump(mode="json") for r in rules], sort_keys=True)
        self.version = hashlib.sha256(blob.encode()).hexdigest()[:12]

    def decide(
        self, batch: list[ContactView], now: datetime, envs: Sequence[dict[str, Any]] | None = None
    ) -> list[Decision]:
        """``envs``: the rows' expression environments when the caller already built them."""
        return [self.decision(view, m, now) for view, m in zip(batch, self.match(batch, now, envs), strict=True)]

    def match(
        self, batch: Sequence[ContactView], now: datetime, envs: Sequence[dict[str, Any]] | None = None
    ) -> list[int | None]:
        """Per row, the index of the first rule whose ``when`` holds (None: no rule matched)."""
        out: list[int | None] = []
        for i, view in enumerate(batch):
            env = envs[i] if envs is not None else expression_env(view, now, self.names)
            out.append(self._first(env, view.contact.id))
        return out

    def _first(self, env: dict[str, Any], who: object) -> int | None:
        """The index of the first rule whose ``when`` holds in ``env`` (None: none does)."""
        for r, e in enumerate(self._compiled):
            if e.holds(env, who):
                return r
        return None

    def actions(self, rule: int | None) -> list[Action]:
        """The actions rule number ``rule`` orders (none for None: no rule matched)."""
        if rule is None:
            return []
        return [Action(kind=a.kind, connector=a.connector, payload=a.payload()) for a in self.rules[rule].actions]

    def decision(self, view: ContactView, rule: int | None, now: datetime) -> Decision:
        """The decision for ``view`` when rule number ``rule`` matched (None: no rule did)."""
        matched = self.rules[rule] if rule is not None else None
        reason = (matched.reason or f"Matched rule {matched.name!r}") if matched else "No rule matched"
        return Decision(
            contact_id=view.contact.id,
            actions=self.actions(rule),
            policy=self.name,
            policy_version=self.version,
            propensity=1.0,
            arm="rules",
            explanation=reason,
            created_at=now,
        )
