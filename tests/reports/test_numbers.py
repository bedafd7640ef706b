"""Figures as people read them: the CLI's tables and the console's pages write them one way."""

from __future__ import annotations

import math
from types import SimpleNamespace

from hub.console.render import _env
from hub.reports.numbers import figure


def test_amounts_are_written_whole_with_separators_never_in_scientific_notation():
    # format(72187.0, ",.4g") is "7.219e+04": the console's per-arm pipeline total read so
    assert figure(72187.0) == "72,187"
    assert figure(12_345_678.9) == "12,345,679"
    assert figure(1357.06) == "1,357"
    assert figure(27168) == "27,168"


def test_small_figures_keep_four_significant_digits_and_signs_where_asked():
    assert figure(0.00277) == "0.00277"
    assert figure(-1.341) == "-1.341"
    assert figure(1.712, sign=True) == "+1.712"
    assert figure(-957.133, sign=True) == "-957.1"


def test_missing_and_unbounded_figures():
    assert figure(None) == "-" and figure(math.nan) == "-"
    assert figure(math.inf) == "∞" and figure(-math.inf) == "-∞"


def test_the_console_writes_an_arm_total_as_the_cli_does():
    metric = SimpleNamespace(arm="engine", metric="pipeline", n=361, mean=199.96, total=72187.0)
    html = _env.get_template("experiments.html").render(arms={"engine": 361}, metrics=[metric], nav=[])
    row = html.split('data-metric="pipeline"', 1)[1].split("</tr>", 1)[0]
    assert "<td>72,187</td>" in row and "<td>200</td>" in row
    assert "e+04" not in html
