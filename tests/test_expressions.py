from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.expressions import Expression, ExpressionError


def test_comparisons_with_missing_values_are_false_not_errors():
    e = Expression("employees >= 200 and industry in ['Retail', 'Software']")
    assert e.evaluate({"employees": 500, "industry": "Retail"})
    assert not e.evaluate({"employees": None, "industry": "Retail"})
    assert not e.evaluate({"employees": 500, "industry": None})


def test_lookups_and_arithmetic():
    e = Expression("activities_7d['page_view'] * 2 + 1 > 6 or not email_opt_out")
    assert e.evaluate({"activities_7d": {"page_view": 3}, "email_opt_out": True})
    assert not e.evaluate({"activities_7d": {"page_view": 1}, "email_opt_out": True})


@pytest.mark.parametrize("src", ["__import__('os')", "x.__class__", "(lambda: 1)()", "[i for i in x]", "open('f')"])
def test_code_is_refused(src):
    with pytest.raises(ExpressionError):
        Expression(src)


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ExpressionError, match="unknown name 'pagevews'"):
        Expression("pagevews > 1").evaluate({"page_views": 1})


@given(st.integers(), st.integers() | st.none())
def test_matches_python_where_defined(a, b):
    got = Expression("a < b").evaluate({"a": a, "b": b})
    assert got == (b is not None and a < b)


@pytest.mark.parametrize(
    ("src", "why"),
    [
        ("properties[[1]] == 1", "look-up key"),
        ("employees" + " + 1" * 1500 + " > 0", "characters"),
        ("employees" + " + 1" * 5000 + " > 0", "characters"),
        ("employees" + " + 1" * 30 + " > 0", "nests more than"),
        ("'a' * 20000000000 == 'b'", "can only be added"),
        ("[1] * employees == []", "can only be added"),
        ("employees in [" + ",".join(["1"] * 1200) + "]", "parts"),
    ],
)
def test_expressions_that_would_crash_or_explode_are_refused_at_validation(src, why):
    with pytest.raises(ExpressionError, match=why):
        Expression(src)


def test_config_names_the_key_path_of_an_unbounded_expression():
    from hub.config import parse_settings
    from hub.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        parse_settings({"decision": {"rules": [{"name": "r", "when": "employees" + " + 1" * 5000 + " > 0"}]}})
    assert exc.value.problems[0][0] == "decision.rules[0].when"


def test_growth_at_evaluation_is_bounded_and_one_bad_contact_does_not_stop_the_batch(caplog):
    e = Expression("job_title * employees == 'b'")  # valid: the types are only known per contact
    with pytest.raises(ExpressionError, match="limit"):
        e.evaluate({"job_title": "a", "employees": 20_000_000_000})
    assert not e.holds({"job_title": "a", "employees": 20_000_000_000}, who=42)
    assert "contact 42" in caplog.text
    assert Expression("job_title * employees == 'aa'").holds({"job_title": "a", "employees": 2})
    lookup = Expression("properties[job_title] == 1")
    assert not lookup.holds({"properties": {"x": 1}, "job_title": ["unhashable"]}, who=7)


def test_rules_policy_decides_the_batch_when_one_contact_breaks_an_expression():
    from datetime import UTC, datetime

    from decision.context import expression_env
    from decision.interface import ContactView
    from decision.rules import RulesPolicy
    from hub.config import Rule
    from hub.models import Contact

    now = datetime.now(UTC)
    rules = [Rule(name="big", when="job_title * employees == 'aa'", reason="two a's")]
    views = [
        ContactView(contact=Contact(id=1, job_title="a", company={"employees": 2}), activities=[]),
        ContactView(contact=Contact(id=2, job_title="a", company={"employees": 20_000_000_000}), activities=[]),
    ]
    assert expression_env(views[0], now)["employees"] == 2
    out = RulesPolicy(rules).decide(views, now)
    assert [d.explanation for d in out] == ["two a's", "No rule matched"]


@given(st.text(max_size=300))
def test_any_text_compiles_or_is_an_expression_error(src):
    # anything else (RecursionError, TypeError, ...) fails the test
    try:
        Expression(src)
    except ExpressionError as exc:
        assert str(exc).strip()  # a refusal says what is wrong
