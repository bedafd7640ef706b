"""Builds the configured policy: the learning engine by default, the legacy rules on request."""

from __future__ import annotations

from decision.interface import Policy
from decision.rules import RulesPolicy
from hub.config import DecisionSettings


def build_policy(settings: DecisionSettings) -> Policy:
    if settings.policy == "rules":
        return RulesPolicy(settings.rules)
    if settings.policy == "engine":
        from decision.engine import EnginePolicy

        return EnginePolicy(settings)
    raise ValueError(f"unknown policy {settings.policy!r}")  # Literal in config makes this unreachable
