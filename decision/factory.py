"""Builds the configured policy."""

from __future__ import annotations

from decision.interface import Policy
from decision.rules import RulesPolicy
from hub.config import DecisionSettings


def build_policy(settings: DecisionSettings) -> Policy:
    if settings.policy == "rules":
        return RulesPolicy(settings.rules)
    raise ValueError(f"unknown policy {settings.policy!r}")  # Literal in config makes this unreachable
