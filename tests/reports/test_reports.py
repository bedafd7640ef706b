"""Reports from a real (SQLite) store: lift with intervals and sample size, reach, the folder."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli.reports import reports_app
from hub.models import Action, ActionKind, Activity, Consent, Contact, Decision, Identity
from hub.reports import lift_rows, reach_report, write_report
from hub.reports.data import load_arm_frame
from hub.reports.lift import Z_ALPHA, Z_POWER, arm_metrics, compare
from hub.store import Store
from hub.store.activities import insert_activities
from hub.store.contacts import upsert_contacts
from hub.store.decisions import insert_decisions
from hub.store.schema import contacts as contacts_table

T0 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
N_ARM = 200


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """200 holdout contacts (10 % convert), 200 engine (30 %), 5 never decided, 20 no-action."""
    path = tmp_path_factory.mktemp("reports") / "hub.db"
    s = Store(f"sqlite:///{path}")
    people = [
        Contact(
            identities=[Identity(connector="crm", external_id=str(i))],
            emails=[f"p{i}@example.com"],
            consent=Consent(email_opt_out=i % 50 == 0),
        )
        for i in range(2 * N_ARM + 5)
    ]
    with s.begin() as conn:
        upsert_contacts(conn, people, T0)
        ids = sorted(conn.execute(select(contacts_table.c.id)).scalars())
    act = Action(kind=ActionKind.SET_FIELDS, payload={"fields": {"next_best_action": "email_nurture_technical"}})
    decisions, activities = [], []
    for k, cid in enumerate(ids[: 2 * N_ARM]):
        arm = "holdout" if k < N_ARM else "engine"
        j = k % N_ARM
        quiet = arm == "holdout" and j >= N_ARM - 20
        at = T0 + timedelta(days=j % 14)
        decisions.append(
            Decision(
                contact_id=cid,
                actions=[] if quiet else [act],
                policy="p",
                policy_version="1",
                arm=arm,
                explanation="No rule matched" if quiet else "nurture",
                created_at=at,
            )
        )
        converts = j < (20 if arm == "holdout" else 60)
        if converts:
            activities.append(_act(cid, "opportunity_created", at + timedelta(days=3 + j % 5), f"o{cid}", amount=1000))
            if j % 2 == 0:
                activities.append(_act(cid, "opportunity_won", at + timedelta(days=30), f"w{cid}", amount=1000))
        # Before the decision: must not count for any arm.
        activities.append(_act(cid, "opportunity_created", at - timedelta(days=1), f"pre{cid}", amount=50_000))
        if arm == "engine" and j < 4:
            activities.append(_act(cid, "unsubscribe", at + timedelta(days=1), f"u{cid}"))
    with s.begin() as conn:
        insert_decisions(conn, decisions, "req-1")
        insert_activities(conn, activities)
    yield s
    s.dispose()


def _act(cid: int, kind: str, at: datetime, key: str, **props) -> Activity:
    return Activity(contact_id=cid, type=kind, occurred_at=at, properties=props, source="t", external_id=key)


def _decided(conn, arms: list[str]) -> list[int]:  # noqa: ANN001 - a Connection
    """One new contact per arm, each decided once at T0 in that arm; their ids in that order."""
    upsert_contacts(
        conn, [Contact(identities=[Identity(connector="crm", external_id=str(i))]) for i in range(len(arms))], T0
    )
    ids = sorted(conn.execute(select(contacts_table.c.id)).scalars())
    decided = [
        Decision(contact_id=c, actions=[], policy="p", policy_version="1", arm=arm, explanation="x", created_at=T0)
        for c, arm in zip(ids, arms, strict=True)
    ]
    insert_decisions(conn, decided, "req-1")
    return ids


def test_lift_per_arm_has_the_planted_differences_with_intervals(store):
    with store.connect() as conn:
        frame = load_arm_frame(conn)
    rows = {r.metric: r for r in lift_rows(frame)}
    conv = rows["conversion"]
    assert (conv.arm, conv.baseline, conv.n_arm, conv.n_base) == ("engine", "holdout", N_ARM, N_ARM)
    assert conv.diff == pytest.approx(0.2)
    assert conv.low > 0 and conv.significant and conv.n_more == 0
    assert conv.relative == pytest.approx(2.0)
    assert rows["pipeline"].diff == pytest.approx(200.0)  # pre-decision opportunities excluded
    assert rows["won_revenue"].diff == pytest.approx(100.0)
    assert rows["opportunities"].diff == pytest.approx(0.2)
    assert rows["win_rate"].n_arm == 60 and rows["win_rate"].diff == pytest.approx(0.0)
    assert rows["unsubscribes"].diff == pytest.approx(4 / N_ARM)
    # the objective's defaults: 50 per opportunity, 0.001 per won dollar, -30 per unsubscribe
    assert rows["reward"].diff == pytest.approx(50 * 0.2 + 0.001 * 100.0 - 30 * 4 / N_ARM)
    velocity = {m.arm: m.mean for m in arm_metrics(frame) if m.metric == "deal_velocity_days"}
    assert velocity == {"engine": pytest.approx(5.0), "holdout": pytest.approx(5.0)}  # 3 + j % 5 days


def test_deal_velocity_leaves_out_deals_whose_opening_is_only_implied(tmp_path):
    """A won deal that arrives with no opening (a file or table of closed deals) gets an opening
    at its close (hub/opportunities.py): it is an opportunity, but when it opened is not known,
    only that it was by the close. Velocity counted the close as the opening: 20 days for a
    deal that may have opened the day after the decision. It counts for conversion, not velocity."""
    s = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    with s.begin() as conn:
        a, b, c = _decided(conn, ["engine"] * 3)
        made = insert_activities(
            conn,
            [
                _act(a, "opportunity_created", T0 + timedelta(days=3), "o-a", amount=100),
                _act(b, "opportunity_won", T0 + timedelta(days=20), "w-b", amount=100),  # no opening: implied
                _act(c, "opportunity_won", T0 + timedelta(days=9), "w-c", amount=100),  # implied, before c's own
                _act(c, "opportunity_created", T0 + timedelta(days=12), "o-c", amount=100),
            ],
        )
        assert made.implied == 2
    with s.connect() as conn:
        frame = load_arm_frame(conn)
    got = {m.metric: m for m in arm_metrics(frame)}
    assert (got["conversion"].n, got["conversion"].mean, got["opportunities"].total) == (3, 1.0, 4)
    # c's first opening was by day 9, not day 12: unknown too
    assert (got["deal_velocity_days"].n, got["deal_velocity_days"].mean) == (1, pytest.approx(3.0))
    s.dispose()


def test_sample_size_needed_follows_the_power_formula():
    rng = np.random.default_rng(0)
    a, b = (rng.random(300) < 0.12).astype(float), (rng.random(300) < 0.10).astype(float)
    r = compare("conversion", "engine", "holdout", a, b)
    va, vb = a.var(ddof=1), b.var(ddof=1)
    pooled = (va + vb) / 2  # each arm's variance floored at the pooled one, as the interval uses
    # equal arms: both together need twice the classic per-arm number
    expected = 2 * (Z_ALPHA + Z_POWER) ** 2 * (max(va, pooled) + max(vb, pooled)) / (a.mean() - b.mean()) ** 2
    assert r.n_needed == pytest.approx(expected)
    assert r.n_more == math.ceil(expected) - 600 > 0
    assert not r.significant and r.low < 0 < r.high


def test_reach_groups_no_action_contacts_by_reason(store):
    with store.connect() as conn:
        rep = reach_report(conn)
    assert (rep.total, rep.with_action) == (2 * N_ARM + 5, 2 * N_ARM - 20)
    rows = {r.reason: r for r in rep.rows}
    assert rows["No rule matched"].contacts == 20
    assert rows["never decided"].contacts == 5
    assert rep.rows[0].reason == "No rule matched"


def test_write_report_and_cli(store, tmp_path):
    res = write_report(store, tmp_path / "out")
    names = {f.name for f in res.files}
    assert {"lift.csv", "reach.csv", "weekly.csv", "report.md", "opportunity_rate.svg", "summary.json"} <= names
    for svg in tmp_path.glob("out/*.svg"):
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg")
    rate = ET.parse(tmp_path / "out" / "opportunity_rate.svg").getroot()
    assert len(rate.findall("{http://www.w3.org/2000/svg}polyline")) == 2  # one line per arm
    lift_lines = [ln for ln in (tmp_path / "out" / "report.md").read_text().splitlines() if ln.startswith("| engine")]
    counts = [cell.strip() for ln in lift_lines for cell in ln.split("|")[9:11]]  # n needed, n more
    assert counts and all(re.fullmatch(r"\d{1,3}(,\d{3})*|∞", c) for c in counts), counts  # people, not 339.2
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["arms"] == {"engine": N_ARM, "holdout": N_ARM}
    assert "engine:conversion" in summary["significant"]
    runner = CliRunner()
    url = str(store.engine.url)
    ok = runner.invoke(reports_app, ["lift", "--store-url", url])
    assert ok.exit_code == 0 and "conversion" in ok.output
    ok = runner.invoke(reports_app, ["write", "--store-url", url, "--out", str(tmp_path / "cli")])
    assert ok.exit_code == 0 and (tmp_path / "cli" / "lift.csv").exists()
    ok = runner.invoke(reports_app, ["reach", "--store-url", url])
    assert ok.exit_code == 0 and "No rule matched" in ok.output
    bad = runner.invoke(reports_app, ["lift", "--store-url", url, "--since", "yesterday"])
    assert bad.exit_code == 2
    typo = runner.invoke(reports_app, ["lift", "--store-url", url, "--baseline", "holdotu"])
    assert typo.exit_code == 2 and "no decisions in arm 'holdotu'" in typo.output.lower(), typo.output
    assert "engine, holdout" in typo.output


def test_models_command_lists_versions_and_the_live_one(tmp_path):
    from decision.scoring import LeadScorer
    from decision.scoring.registry import ModelRegistry

    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 2))
    y = (rng.random(1000) < 1 / (1 + np.exp(-(X[:, 0] - 1)))).astype(int)
    ModelRegistry(store).consider(LeadScorer(estimator="logistic").fit(X, y, feature_names=("a", "b")), X, y)
    res = CliRunner().invoke(reports_app, ["models", "--store-url", str(store.engine.url)])
    assert res.exit_code == 0 and "live version 1" in res.output and "promoted (live)" in res.output
    res = CliRunner().invoke(reports_app, ["models", "--store-url", str(store.engine.url), "--json"])
    doc = json.loads(res.stdout)
    assert doc["live"] == 1 and [(v["version"], v["status"]) for v in doc["versions"]] == [(1, "promoted")]
    assert 0.5 < doc["versions"][0]["metrics"]["roc_auc"] <= 1
    store.dispose()


def test_lift_views_say_when_an_arm_is_too_small_for_an_interval(tmp_path):
    """Five engine contacts against one holdout contact: `hub report lift` and report.md name
    the reason instead of an interval, and nothing is called significant."""
    s = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        with s.begin() as conn:
            ids = _decided(conn, ["holdout"] + ["engine"] * 5)
            insert_activities(
                conn,
                [
                    _act(c, "opportunity_created", T0 + timedelta(days=1), f"o{c}", amount=100 * k)
                    for k, c in enumerate(ids[1:])
                ],
            )
        with s.connect() as conn:
            rows = lift_rows(load_arm_frame(conn))
        assert rows and all(r.note == "too few contacts" and not r.significant for r in rows if r.n_base)
        shown = CliRunner().invoke(reports_app, ["lift", "--store-url", str(s.engine.url)])
        assert shown.exit_code == 0 and "too few contacts" in shown.output and "nan" not in shown.output
        # the holdout contact has no deal, so no win rate: said as the console says it, not "[-, -]"
        empty = [r for r in rows if not r.n_base]
        assert empty and all(r.note == "no contacts it applies to" for r in empty), empty
        assert "no contacts it applies to" in shown.output and "[-, -]" not in shown.output, shown.output
        write_report(s, tmp_path / "out")
        assert "| too few contacts |" in (tmp_path / "out" / "report.md").read_text()
    finally:
        s.dispose()


def test_report_exit_codes_tell_bad_input_from_a_store_that_is_not_there(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(reports_app, ["lift", "--store-url", f"sqlite:///{tmp_path / 'dmeo.db'}"])
    assert missing.exit_code == 1 and "no store at" in missing.output
    assert not (tmp_path / "dmeo.db").exists()
    down = runner.invoke(reports_app, ["lift", "--store-url", "postgresql://hub@127.0.0.1:1/none"])
    assert down.exit_code == 1 and "cannot reach the store" in down.output
    bad = tmp_path / "hub.yaml"
    bad.write_text("store_url: sqlite:///x.db\nnot_a_key: 1\n")
    invalid = runner.invoke(reports_app, ["lift", "-c", str(bad)])
    assert invalid.exit_code == 2 and "not_a_key" in invalid.output


def test_lift_shows_each_arms_mean_and_n_beside_the_difference(store, tmp_path):
    """A lift table with only the (CUPED-adjusted) difference cannot be read: "+0.2" of what? Each
    row carries what the arm and the baseline did per contact, as observed, with their n, in
    `hub report lift` (table and --json) and report.md alike."""
    with store.connect() as conn:
        conv = {r.metric: r for r in lift_rows(load_arm_frame(conn))}["conversion"]
    assert (conv.arm_mean, conv.base_mean) == (pytest.approx(0.3), pytest.approx(0.1))
    runner = CliRunner()
    url = str(store.engine.url)
    shown = runner.invoke(reports_app, ["lift", "--store-url", url], terminal_width=250)
    assert shown.exit_code == 0, shown.output
    header = next(ln for ln in shown.output.splitlines() if "metric" in ln)
    cells = [c.strip() for c in header.split("┃")[1:-1]]
    assert cells[:6] == ["arm", "metric", "n", "mean", "n base", "base mean"], cells
    row = next(ln for ln in shown.output.splitlines() if " conversion " in ln)
    assert [c.strip() for c in row.split("│")[1:-1]][2:6] == ["200", "0.3", "200", "0.1"], row
    as_json = json.loads(runner.invoke(reports_app, ["lift", "--store-url", url, "--json"]).output)
    first = next(r for r in as_json["rows"] if r["metric"] == "conversion")
    assert (first["arm_mean"], first["base_mean"]) == (pytest.approx(0.3), pytest.approx(0.1))
    write_report(store, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| arm | metric | mean (n) | base mean (n) | diff |" in md
    assert "| engine | conversion | 0.3 (200) | 0.1 (200) |" in md


def test_sample_sizes_print_as_counts_of_people(store, tmp_path):
    """ "n more" printed 27027 in `hub report lift` where the console shows 27,027, and a float
    count past 9,999 came out as 2.703e+04: counts of people are whole numbers with separators."""
    from hub.reports.numbers import people as _count

    assert [_count(v) for v in (0, 999, 2197, 27027.0, 1234567, math.inf)] == [
        "0",
        "999",
        "2,197",
        "27,027",
        "1,234,567",
        "∞",
    ]
    shown = CliRunner().invoke(reports_app, ["lift", "--store-url", str(store.engine.url)], terminal_width=250)
    rows = [ln for ln in shown.output.splitlines() if ln.startswith("│ engine")]
    more = [[c.strip() for c in ln.split("│")[1:-1]][-1] for ln in rows]
    assert more and all(re.fullmatch(r"\d{1,3}(,\d{3})*|∞", c) for c in more), more


def test_events_come_in_one_order_whatever_order_the_store_returns(store_url):
    """PostgreSQL and SQLite return a join's rows in different orders, and a sum of floats
    depends on its order: the same demo gave reward 0.3422222222222222 on one and
    0.342222222222222 on the other. The frame puts events in one order (contact, time, ...)."""
    s = Store(store_url, auto_migrate=True)
    try:
        with s.begin() as conn:
            ids = _decided(conn, ["engine"] * 3)
            later = [  # written newest first, the last contact first
                _act(c, "opportunity_created", T0 + timedelta(days=d), f"o{c}-{d}", amount=0.1 * d)
                for c in reversed(ids)
                for d in (5, 3, 1)
            ]
            insert_activities(conn, later)
        with s.connect() as conn:
            frame = load_arm_frame(conn)
    finally:
        s.dispose()
    keys = list(zip(frame.ev_row.tolist(), frame.ev_at.tolist(), strict=True))
    assert len(keys) == 9 and keys == sorted(keys), keys


def test_a_difference_is_signed_in_hub_report_lift_impact_and_report_md_as_on_the_console(store, tmp_path):
    """The Experiments page wrote +0.2 and [+0.1, +0.3]; `hub report lift` and `hub report impact`
    wrote 0.2, and report.md 0.2 and [0.1, 0.3]."""
    from hub.reports.numbers import estimate

    with store.connect() as conn:
        conv = {r.metric: r for r in lift_rows(load_arm_frame(conn))}["conversion"]
    shown = estimate(conv.diff, conv.low, conv.high)
    assert shown.startswith("+0.2"), shown
    url = str(store.engine.url)
    lift = CliRunner().invoke(reports_app, ["lift", "--store-url", url], terminal_width=250).output
    row = [c.strip() for c in next(ln for ln in lift.splitlines() if " conversion " in ln).split("│")[1:-1]]
    assert " ".join(row[6:8]) == shown, row
    impact = CliRunner().invoke(reports_app, ["impact", "-m", "conversion", "--store-url", url], terminal_width=250)
    row = [c.strip() for c in next(ln for ln in impact.output.splitlines() if " conversion " in ln).split("│")[1:-1]]
    assert row[5].startswith("+"), row
    write_report(store, tmp_path / "out")
    md = (tmp_path / "out" / "report.md").read_text()
    assert f"| {shown.replace(' ', ' | ', 1)} |" in md, md
