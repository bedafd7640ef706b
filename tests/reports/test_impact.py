"""`hub report impact`: the engine's lift over each ablation arm and the reference arms, with the
planted differences recovered, intervals, and the sample size still needed; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli.reports import reports_app
from hub.models import Action, ActionKind, Activity, Contact, Decision, Identity
from hub.reports.impact import impact_table
from hub.reports.numbers import people
from hub.store import Store
from hub.store.activities import insert_activities
from hub.store.contacts import upsert_contacts
from hub.store.decisions import insert_decisions
from hub.store.schema import contacts as contacts_table

T0 = datetime(2025, 3, 3, tzinfo=UTC)
N = 150
#: planted conversion rate per arm
RATES = {"engine": 0.4, "no_long_term_value": 0.2, "no_send_time": 0.4, "random": 0.1, "holdout": 0.2}


def _fill(store: Store) -> None:
    people = [Contact(identities=[Identity(connector="crm", external_id=str(i))]) for i in range(N * len(RATES))]
    with store.begin() as conn:
        upsert_contacts(conn, people, T0)
        ids = sorted(conn.execute(select(contacts_table.c.id)).scalars())
    act = Action(kind=ActionKind.SET_FIELDS, payload={"fields": {"next_best_action": "email_nurture_technical"}})
    decisions, activities = [], []
    for k, cid in enumerate(ids):
        arm = list(RATES)[k // N]
        j = k % N
        decisions.append(
            Decision(contact_id=cid, actions=[act], policy="p", policy_version="1", arm=arm, created_at=T0)
        )
        if j < RATES[arm] * N:
            activities.append(
                Activity(
                    contact_id=cid,
                    type="opportunity_created",
                    occurred_at=T0 + timedelta(days=2),
                    properties={"amount": 1000},
                    source="t",
                    external_id=f"o{cid}",
                )
            )
    with store.begin() as conn:
        insert_decisions(conn, decisions, "req-1")
        insert_activities(conn, activities)


def test_impact_rows_recover_each_planted_lift(store_url):
    store = Store(store_url, auto_migrate=True)
    try:
        _fill(store)
        rows = {r["baseline"]: r for r in impact_table(store, metrics=("conversion",))}
    finally:
        store.dispose()
    assert list(rows) == ["no_long_term_value", "no_send_time", "random", "holdout"]  # components first
    lt = rows["no_long_term_value"]
    assert (lt["component"], lt["kind"], lt["n_arm"], lt["n_base"]) == ("long_term_value", "component", N, N)
    assert lt["diff"] == pytest.approx(0.2) and lt["low"] > 0 and lt["significant"]
    # two-sided 5 %, power 0.8 at the observed 0.2: (1.96 + 0.84)^2 (0.24 + 0.2) / 0.04, ~ 87 per arm,
    # 174 in both equal arms together
    # (the arm with the smaller variance is floored at the pooled one, as the interval does)
    var = (0.4 * 0.6 + 0.2) * N / (N - 1)
    assert lt["n_needed"] == pytest.approx(2 * 7.849 * var / 0.04, rel=1e-3)
    assert lt["n_more"] == 0  # 300 already
    st = rows["no_send_time"]
    assert st["diff"] == 0 and not st["significant"] and st["n_needed"] is None  # nothing to detect
    assert rows["random"]["diff"] == pytest.approx(0.3) and rows["random"]["kind"] == "reference"
    assert rows["holdout"]["diff"] == pytest.approx(0.2)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('impact') / 'hub.db'}")
    _fill(store)
    yield store
    store.dispose()


def test_cli_prints_the_table_and_json_and_refuses_an_unknown_metric(filled):
    url = str(filled.engine.url)
    runner = CliRunner()
    table = runner.invoke(reports_app, ["impact", "--store-url", url])
    assert table.exit_code == 0, table.output
    assert "long_term_value" in table.output and "no_send_time" in table.output and "reward" in table.output
    js = runner.invoke(reports_app, ["impact", "--store-url", url, "--json", "-m", "conversion", "-m", "won_revenue"])
    assert js.exit_code == 0
    rows = json.loads(js.output)
    assert {r["metric"] for r in rows} == {"conversion", "won_revenue"}
    assert len(rows) == 8
    bad = runner.invoke(reports_app, ["impact", "--store-url", url, "-m", "happiness"])
    assert bad.exit_code == 2 and "happiness" in bad.output


def test_console_experiments_page_shows_the_impact_rows(filled):
    """The console's Experiments template renders the same rows (hub/console/insights.py)."""
    from hub.console.render import _env

    rows = impact_table(filled)
    html = _env.get_template("experiments.html").render(arms={"engine": N}, metrics=[], baseline=None, impact=rows)
    assert 'id="impact"' in html and 'data-arm="no_long_term_value"' in html
    impact = html.split('id="impact"', 1)[1]
    cli = [people(math.inf if r["n_more"] is None else r["n_more"]) for r in rows]  # as `hub report impact` writes it
    assert "∞" in cli and all(f"<td>{c}</td></tr>" in impact for c in cli)
