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


def test_contacts_still_needed_are_whole_and_unbounded_where_no_lift_is_seen():
    from hub.reports.numbers import people

    assert people(1385.2) == "1,386" and people(0) == "0"
    assert people(math.inf) == "∞" and people(math.nan) == "-" and people(None) == "-"


def test_the_console_writes_contacts_still_needed_as_hub_report_lift_does():
    """`hub report lift` wrote ∞ where no lift is seen (won revenue at zero in both arms) and
    rounded up; the Experiments page wrote ``-`` and rounded to the nearest."""
    rows = [
        SimpleNamespace(
            arm="engine",
            metric=m,
            diff=0.0,
            note=None,
            low=-1.0,
            high=1.0,
            arm_mean=0.0,
            base_mean=0.0,
            n_arm=361,
            n_base=42,
            relative=None,
            significant=False,
            n_more=n_more,
            variance_reduction=0.0,
        )
        for m, n_more in (("won_revenue", math.inf), ("pipeline", 21364.2))
    ]
    html = _env.get_template("experiments.html").render(arms={"engine": 361}, baseline="holdout", lifts=rows, nav=[])
    cells = {
        m: html.split(f'data-metric="{m}"', 1)[1].split("</tr>", 1)[0].rsplit("<td>", 1)[1]
        for m in ("won_revenue", "pipeline")
    }
    assert cells == {"won_revenue": "∞</td>", "pipeline": "21,365</td>"}, cells


def test_times_are_written_in_utc_whatever_zone_the_store_hands_back():
    """PostgreSQL hands back times in the session's zone and SQLite naive UTC ones; pages said
    neither which zone they showed nor converted."""
    from datetime import UTC, datetime, timedelta, timezone

    from hub.reports.numbers import utc_time

    paris = datetime(2026, 1, 19, 1, 30, 5, tzinfo=timezone(timedelta(hours=1)))
    assert utc_time(paris) == "2026-01-19 00:30"
    assert utc_time(paris, seconds=True) == "2026-01-19 00:30:05"
    assert utc_time(datetime(2026, 1, 19, 0, 30)) == utc_time(datetime(2026, 1, 19, 0, 30, tzinfo=UTC))
    assert utc_time(None) == "-"


def test_a_lift_and_its_interval_are_written_one_way_everywhere():
    """The same interval read [-0.732, +5.53] on the Overview, [-0.7321, +5.532] on Experiments,
    [-0.7321, 5.532] in `hub report lift` and [-0.732, +5.532] in the demo."""
    from hub.console.charts import interval_chart
    from hub.console.render import _env
    from hub.reports.numbers import estimate, interval

    assert interval(-0.73214, 5.5318) == "[-0.7321, +5.532]"
    assert estimate(2.4002, -0.73214, 5.5318) == "+2.4 [-0.7321, +5.532]"
    assert estimate(0.0, None, None, note="too few events") == "+0 (too few events)"
    assert "[-0.7321, +5.532]" in interval_chart([("engine", 2.4002, -0.73214, 5.5318)], title="t")
    rows = [
        SimpleNamespace(
            arm="engine",
            metric="reward",
            diff=2.4002,
            low=-0.73214,
            high=5.5318,
            note=None,
            arm_mean=1.0,
            base_mean=0.0,
            n_arm=361,
            n_base=42,
            relative=None,
            significant=False,
            n_more=10.0,
            variance_reduction=0.0,
        )
    ]
    html = _env.get_template("experiments.html").render(arms={"engine": 361}, baseline="holdout", lifts=rows, nav=[])
    assert "[-0.7321, +5.532]" in html


def test_the_overview_tile_writes_the_lift_as_experiments_and_hub_report_lift_do():
    """The tile read ``+2.41 95% [-0.732, +5.53]`` (three significant digits) where every other
    view writes ``+2.406 [-0.7321, +5.532]``."""
    row = SimpleNamespace(
        arm="engine",
        baseline="holdout",
        diff=2.40567,
        low=-0.73214,
        high=5.5318,
        note=None,
        significant=False,
        n_arm=361,
        n_base=42,
    )
    status = SimpleNamespace(mode="embedded", policy="engine", policy_version="v1", connectors=[])
    governance = SimpleNamespace(alerts=[], switches=[], waiting=0)
    html = _env.get_template("overview.html").render(
        status=status,
        trends={"decided": 0, "success": None, "finished": 0},
        lift={"headline": [row]},
        governance=governance,
        checks={},
        nav=[],
    )
    tile = html.split('data-lift="engine"', 1)[1].split("</a>", 1)[0]
    assert '<div class="v ">+2.406</div>' in tile and "95% [-0.7321, +5.532]" in tile, tile


def test_a_relative_lift_is_written_one_way_and_none_as_a_dash():
    """report.md left a relative lift without a baseline mean blank where `hub report lift` and
    the Experiments page write ``-``; the three formatted it each on their own."""
    from hub.reports.build import _lift_lines
    from hub.reports.numbers import relative

    assert relative(-0.4074) == "-40.7%" and relative(0.0) == "+0.0%" and relative(None) == "-"
    row = SimpleNamespace(
        arm="engine",
        metric="reward",
        diff=0.5,
        low=0.1,
        high=0.9,
        note=None,
        arm_mean=0.5,
        base_mean=0.0,
        n_arm=10,
        n_base=10,
        relative=None,
        significant=True,
        n_needed=40.0,
        n_more=20.0,
        variance_reduction=0.0,
    )
    html = _env.get_template("experiments.html").render(arms={"engine": 10}, baseline="holdout", lifts=[row], nav=[])
    cells = html.split('data-metric="reward"', 1)[1].split("</tr>", 1)[0]
    assert f"<td>{relative(None)}</td>" in cells
    assert f"| {relative(None)} | yes |" in "\n".join(_lift_lines("holdout", [row]))


def test_the_cuped_note_reads_the_same_in_hub_report_lift_and_on_experiments():
    """`hub report lift` said "Adjusted for each contact's 28 days ... on reward, unsubscribes" and
    the Experiments page "Adjusted for what each contact did in the 28 days ... on unsubscribes,
    reward" (row order), each from its own copy of the sentence."""
    import html

    from hub.reports.lift import cuped_note

    rows = [
        SimpleNamespace(
            arm="engine",
            metric=m,
            diff=0.5,
            low=0.1,
            high=0.9,
            note=None,
            arm_mean=0.5,
            base_mean=1.0,
            n_arm=10,
            n_base=10,
            relative=-0.5,
            significant=True,
            n_needed=40.0,
            n_more=20.0,
            variance_reduction=v,
        )
        for m, v in (("unsubscribes", 0.1234), ("reward", 0.02))
    ]
    page = _env.get_template("experiments.html").render(arms={"engine": 10}, baseline="holdout", lifts=rows, nav=[])
    said = cuped_note([(r.metric, r.variance_reduction) for r in rows], means_shown=True)
    assert "on reward, unsubscribes: up to 12.3% of the variance removed" in said, said
    shown = html.unescape(page.split('id="cuped">', 1)[1].split("</p>", 1)[0])
    assert shown == said, (shown, said)


def test_counts_agree_with_their_number():
    """One contact is singular and its verb agrees; the worker's failed-push line says so too."""
    from hub.reports.numbers import counted, reach_title

    assert reach_title(1, 1) == "1 of 1 contact gets an action"
    assert reach_title(0, 1200) == "0 of 1,200 contacts get an action"
    assert counted(1, "push", "pushes") == "1 push" and counted(3, "push", "pushes") == "3 pushes"
