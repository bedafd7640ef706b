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
        blob = json.dumps([r.model_dump(mode="json") for r in rules], sort_keys=True)
        self.version = hashlib.sha256(blob.encode()).hexdigest()[:12]

    def decide(
        self, batch: list[ContactView], now: datetime, envs: Sequence[dict[str, Any]] | None = None
    ) -> list[Decision]:
        """``envs``: the rows' expression environments when the caller already built them."""
        out = []
        for i, view in enumerate(batch):
            env = envs[i] if envs is not None else expression_env(view, now)
            rule = next(
                (r for r, e in zip(self.rules, self._compiled, strict=True) if e.holds(env, view.contact.id)), None
            )
            actions = (
                [Action(kind=a.kind, connector=a.connector, payload=a.payload()) for a in rule.actions] if rule else []
            )
            reason = (rule.reason or f"Matched rule {rule.name!r}") if rule else "No rule matched"
            out.append(
                Decision(
                    contact_id=view.contact.id,
                    actions=actions,
                    policy=self.name,
                    policy_version=self.version,
                    propensity=1.0,
                    arm="rules",
                    explanation=reason,
                    created_at=now,
                )
            )
        return out
