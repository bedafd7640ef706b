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
