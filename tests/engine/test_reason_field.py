"""The reason the engine writes to the CRM: within its length, and marked when cut."""

from __future__ import annotations

from decision.engine import EnginePolicy
from hub.config import DecisionSettings
from hub.models import ActionKind

RULES = [{"name": "all", "when": "True", "actions": [{"kind": "set_fields", "fields": {"next_best_action": "wait"}}]}]


def _reason(policy: EnginePolicy, text: str) -> str:
    [fields] = [a for a in policy._push_actions(policy.entries[0], text) if a.kind is ActionKind.SET_FIELDS]
    return fields.payload["fields"]["reason"]


def test_a_long_reason_is_cut_to_500_characters_ending_in_an_ellipsis():
    policy = EnginePolicy(DecisionSettings(rules=RULES))
    cut = _reason(policy, "because " * 100)
    assert len(cut) == 500 and cut.endswith("\u2026") and cut[:-1] == ("because " * 100)[:499]
    assert _reason(policy, "a" * 500) == "a" * 500  # at the limit: written whole
