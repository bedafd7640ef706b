"""When consent or the contact policy holds the legacy rules' action, the reason says which.

A cap of one e-mail a week turned most of a two-week demo's engine rows into "wait (Following
the legacy rules while the engine gathers evidence)", and the holdout's into "not allowed by
consent or contact policy": a marketer could not tell the cap from an opt-out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from decision.engine import EnginePolicy
from decision.interface import ContactView
from hub.config import DecisionSettings
from hub.models import Company, Consent, Contact

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RULES = [
    {
        "name": "everyone",
        "when": "True",
        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "email_nurture_business"}}],
    }
]


def decide(n: int, **engine) -> list:
    settings = DecisionSettings.model_validate(
        {
            "rules": RULES,
            "engine": {"explore_share": 0.0, "holdout_share": 0.5, "max_marketing_touches_7d": 1, **engine},
        }
    )
    policy = EnginePolicy(settings)
    batch = []
    for i in range(n):
        opted = i % 3 == 0
        decided = [] if opted else [(NOW - timedelta(days=2), "email_nurture_business")]
        contact = Contact(id=i + 1, consent=Consent(email_opt_out=opted), company=Company(name="Co", employees=50))
        batch.append((opted, ContactView(contact=contact, profile={"days": {}}, decided=decided)))
    return [(opted, d) for (opted, _), d in zip(batch, policy.decide([v for _, v in batch], NOW), strict=True)]


def test_the_held_rule_action_and_its_cause_are_named_in_both_arms():
    rows = decide(40)
    seen = set()
    for opted, d in rows:
        assert d.action == "wait"
        cause = "opted out of e-mail" if opted else "touch cap: 1 e-mail in 7 days"
        assert "email_nurture_business" in d.explanation and cause in d.explanation, d.explanation
        assert "gathers evidence" not in d.explanation and "consent or contact policy" not in d.explanation
        seen.add((d.arm, opted))
    assert seen == {("engine", True), ("engine", False), ("holdout", True), ("holdout", False)}


def test_a_real_time_row_says_the_same():
    rows = decide(1)
    (opted, d) = rows[0]
    assert "opted out of e-mail" in d.explanation and "email_nurture_business" in d.explanation
