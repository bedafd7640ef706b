"""decision.outcomes and declared weights in hub.yaml: every problem named by its key path."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from decision.objective import components, total
from hub.config import parse_settings
from hub.errors import ConfigError
from tests.test_config import run_hub

GOOD = {
    "outcomes": [
        {"name": "trial_started", "event": "Trial Started"},
        {"name": "became_customer", "field": "lifecycle_stage", "to": "customer", "attribution_days": 30},
        {"name": "deal_value", "activity": "opportunity_won", "value": "properties['amount'] / 1000"},
    ],
    "objective": {"trial_started": 25, "became_customer": 80, "deal_value": 1.5, "meeting": 10},
}


def problems(decision: dict) -> dict[str, str]:
    try:
        parse_settings({"decision": decision})
    except ConfigError as exc:
        return dict(exc.problems)
    return {}


def test_declared_outcomes_are_weight_keys_and_weigh_in_the_objective():
    s = parse_settings({"decision": GOOD})
    w = s.decision.objective
    assert w.model_extra == {"trial_started": 25.0, "became_customer": 80.0, "deal_value": 1.5}
    declared = {o.name for o in s.decision.outcomes}
    parts = components([{"custom": 1.0, "trial_started": 1.0}, {"meeting": 1.0}], declared)
    assert parts == {"trial_started": 1.0, "meeting": 1.0}
    assert total(parts, w) == 35.0


def test_each_bad_outcome_or_weight_is_named_by_its_key_path():
    bad = {
        "outcomes": [
            {"name": "trial_started", "event": "Trial Started"},
            {"name": "trial_started", "event": "Other"},  # a duplicate
            {"name": "meeting", "activity": "meeting"},  # a built-in name
            {"name": "both", "event": "x", "activity": "meeting"},
            {"name": "none"},
            {"name": "bad_value", "event": "y", "value": "__import__('os')"},
            {"name": "unknown_name", "event": "y", "value": "contact['x']"},
            {"name": "bad_field", "field": "password"},
            {"name": "to_alone", "event": "z", "to": "customer"},
            {"name": "Bad-Name", "event": "z"},
        ],
        "objective": {"trial_started": 1, "undeclared": 5, "click": "many"},
    }
    found = problems(bad)
    for path in (
        "decision.outcomes[1].name",
        "decision.outcomes[2].name",
        "decision.outcomes[3]",
        "decision.outcomes[4]",
        "decision.outcomes[5].value",
        "decision.outcomes[6].value",
        "decision.outcomes[7].field",
        "decision.outcomes[8]",
        "decision.outcomes[9].name",
        "decision.objective.click",
    ):
        assert path in found, (path, found)
    assert "declared twice" in found["decision.outcomes[1].name"]
    # the undeclared weight is found once the outcomes themselves validate
    assert "decision.objective.undeclared" in problems({"objective": {"undeclared": 5}})
    msg = problems({"outcomes": GOOD["outcomes"], "objective": {"trail_started": 5}})[
        "decision.objective.trail_started"
    ]
    assert "trial_started" in msg and "declare it under decision.outcomes" in msg


def test_hub_config_validate_exits_2_naming_the_weight(tmp_path):
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({"decision": {"outcomes": GOOD["outcomes"], "objective": {"signups": 3}}}))
    out = run_hub("config", "validate", "-c", str(path))
    assert out.returncode == 2
    assert "decision.objective.signups" in out.stderr + out.stdout
    path.write_text(yaml.safe_dump({"decision": GOOD}))
    ok = run_hub("config", "validate", "-c", str(path))
    assert ok.returncode == 0, ok.stderr


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.one_of(st.floats(allow_nan=False), st.text(max_size=5), st.none(), st.integers()),
        max_size=4,
    ),
    st.lists(
        st.dictionaries(st.sampled_from(["name", "event", "field", "to", "value", "activity"]), st.text(max_size=12))
    ),
)
def test_any_outcome_section_validates_or_is_a_config_error(objective, outcomes):
    try:
        s = parse_settings({"decision": {"objective": objective, "outcomes": outcomes}})
    except ConfigError as exc:
        assert exc.problems and all(p.startswith("decision.") for p, _ in exc.problems)
        return
    names = {o.name for o in s.decision.outcomes}
    assert set(s.decision.objective.model_extra or {}) <= names
