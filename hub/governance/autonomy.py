"""Autonomy: may the hub send this push alone, only after a person approves, or not at all?

The catalog action's setting wins over the push kind's (``governance.autonomy.actions`` over
``.kinds``), so "owner changes need approval, except for the inbound-demo action" is two lines
of config. Nothing configured means ``automatic``: today's behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.governance.settings import Autonomy, AutonomySettings
from hub.models import ActionKind


def mode_for(settings: AutonomySettings, kind: str | ActionKind, action: str | None) -> Autonomy:
    if action is not None and action in settings.actions:
        return settings.actions[action]
    return settings.kinds.get(ActionKind(kind), "automatic")


@dataclass
class Split:
    """Push rows sorted by what autonomy allows."""

    send: list[dict[str, Any]] = field(default_factory=list)
    hold: list[dict[str, Any]] = field(default_factory=list)
    hold_actions: list[str | None] = field(default_factory=list)
    off: list[dict[str, Any]] = field(default_factory=list)


def split_rows(settings: AutonomySettings, rows: list[dict[str, Any]], action_of: dict[int, str | None]) -> Split:
    """``action_of``: decision id -> the catalog action it chose (None when unknown)."""
    out = Split()
    for row in rows:
        action = action_of.get(row["decision_id"])
        mode = mode_for(settings, row["kind"], action)
        if mode == "automatic":
            out.send.append(row)
        elif mode == "needs_approval":
            out.hold.append(row)
            out.hold_actions.append(action)
        else:
            out.off.append(row)
    return out
