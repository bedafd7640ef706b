"""Shortcuts of the one-row decision path give exactly what the plain forms give.

A real-time decision pays for every call of its one row; these pin that the cheaper forms
(rounding by formatting, expression environments of the names read, the experiment cuts worked
out once) change no value.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from decision.context import EXPRESSION_NAMES, expression_env
from decision.engine import _round4
from decision.experiment import assign_arms
from decision.interface import ContactView
from hub.errors import DecisionError
from hub.expressions import Expression
from hub.models import Activity, ActivityType, Company, Consent, Contact, Identity

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**6), 10**6).map(lambda k: k / 20000))
def test_rounding_by_formatting_is_round_bit_for_bit(v):
    """k / 20000 hits the exact ties of the fourth decimal (round half to even)."""
    (got,) = _round4([v])
    if math.isnan(v):
        assert got is None
    else:
        assert repr(got) == repr(round(v, 4))


def _view(activities: bool) -> ContactView:
    contact = Contact(
        id=7,
        emails=["A@Example.com"],
        job_title="VP Sales",
        identities=[Identity(connector="hubspot", external_id="1"), Identity(connector="crm", external_id="2")],
        company=Company(name="Co", employees=250, country="DE"),
        consent=Consent(email_opt_out=True),
    )
    acts = [
        Activity(
            contact_id=7,
            type=[ActivityType.PAGE_VIEW, ActivityType.EMAIL_OPEN][k % 2],
            occurred_at=NOW - timedelta(days=k * 4),
            source="test",
            external_id=str(k),
        )
        for k in range(25)
    ]
    if activities:
        return ContactView(contact=contact, activities=acts)
    profile = {"days": {"page_view": {str(int(NOW.timestamp() // 86_400) - d): 2 for d in (0, 3, 20, 60, 95)}}}
    return ContactView(contact=contact, profile=profile)


@pytest.mark.parametrize("activities", [True, False])
@pytest.mark.parametrize(
    "names",
    [
        {"employees", "activities_30d"},
        {"email", "connectors", "do_not_contact"},
        {"activities_7d", "activities_90d", "industry"},
        set(),
        set(EXPRESSION_NAMES),
    ],
)
def test_an_environment_of_some_names_is_the_full_one_cut_to_them(activities, names):
    view = _view(activities)
    full = expression_env(view, NOW)
    assert list(full) == sorted(EXPRESSION_NAMES, key=list(full).index)  # every name, in one order
    assert expression_env(view, NOW, frozenset(names)) == {k: v for k, v in full.items() if k in names}


def test_rules_and_eligibility_read_only_the_names_the_engine_builds():
    from decision.engine import EnginePolicy
    from hub.config import DecisionSettings

    rules = [
        {"name": "hot", "when": "activities_30d['page_view'] >= 3 and employees > 10", "actions": []},
        {"name": "rest", "when": "not email_opt_out", "actions": []},
    ]
    engine = EnginePolicy(DecisionSettings.model_validate({"rules": rules, "engine": {}}))
    assert engine._env_names >= {"activities_30d", "employees", "email_opt_out", "do_not_contact"}
    view = _view(False)
    small = expression_env(view, NOW, engine._env_names)
    for source in [r["when"] for r in rules] + [a.eligible for a in engine.entries]:
        assert Expression(source).evaluate(small) == Expression(source).evaluate(expression_env(view, NOW))


@pytest.mark.parametrize(
    "shares",
    [
        {"holdout_share": 0.1},
        {"holdout_share": 0.2, "control_share": 0.1, "random_share": 0.05},
        {"holdout_share": 0.1, "ablations": {"send_time": 0.1, "content": 0.05}},
        {"holdout_share": 0.0, "control_share": 0.3, "ablations": {"long_term_value": 0.3}},
    ],
)
def test_arms_of_a_few_ids_are_their_arms_in_a_big_batch(shares):
    ids = list(range(1, 400))
    together = assign_arms(ids, "salt-1", **shares)
    alone = np.concatenate([assign_arms(ids[i : i + 3], "salt-1", **shares) for i in range(0, len(ids), 3)])
    np.testing.assert_array_equal(alone, together)
    assert len(set(together.tolist())) > 1


@pytest.mark.parametrize(
    "shares", [{"holdout_share": -0.1}, {"holdout_share": 0.6, "control_share": 0.5}, {"ablations": {"nope": 0.1}}]
)
def test_bad_shares_are_refused_every_time(shares):
    for _ in range(2):  # the checked cuts are kept; a refusal is not
        with pytest.raises(DecisionError):
            assign_arms([1], "s", **shares)
