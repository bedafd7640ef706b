"""The reports' ``reward`` weights declared outcomes (``decision.outcomes``) as the learner does.

A user who declares their business outcome (a trial started, with its weight) must see it in
the lift, the impact analyzer and /metrics: before, the reports read only the built-in activity
types, so the engine learned from an outcome no report counted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from decision.objective import components, total
from hub.config import ObjectiveWeights
from hub.models import Action, ActionKind, Activity, Contact, Decision, Identity
from hub.outcomes_spec import DeclaredOutcome
from hub.pipeline.outcomes import attributed_reward
from hub.reports.data import load_arm_frame
from hub.reports.impact import impact_table
from hub.reports.lift import arm_metrics, lift_rows
from hub.store import Store
from hub.store.activities import insert_activities
from hub.store.contacts import upsert_contacts
from hub.store.decisions import insert_decisions
from hub.store.schema import contacts as contacts_table

T0 = datetime(2025, 3, 3, tzinfo=UTC)
DECLARED = [DeclaredOutcome(name="trial_started", event="Trial Started", value="properties['seats']")]
WEIGHTS = ObjectiveWeights(trial_started=25.0)
ACT = Action(kind=ActionKind.SET_FIELDS, payload={"fields": {"next_best_action": "x"}})


def _event(cid: int, name: str, days: float, seats: int) -> Activity:
    return Activity(
        contact_id=cid,
        type="custom",
        occurred_at=T0 + timedelta(days=days),
        properties={"name": name, "seats": seats},
        source="t",
        external_id=f"{name}-{cid}-{days}",
    )


@pytest.fixture()
def store(tmp_path):
    """100 holdout and 100 engine contacts; half the engine arm starts a 2-seat trial after its
    decision; everyone shares a page (an event no outcome declares); 10 holdout contacts had
    started a trial before their decision (their pre-period)."""
    s = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    people = [Contact(identities=[Identity(connector="crm", external_id=str(i))]) for i in range(200)]
    with s.begin() as conn:
        upsert_contacts(conn, people, T0 - timedelta(days=40))
        ids = sorted(conn.execute(select(contacts_table.c.id)).scalars())
    decs, acts = [], []
    for k, cid in enumerate(ids):
        arm = "holdout" if k < 100 else "engine"
        decs.append(Decision(contact_id=cid, actions=[ACT], policy="p", policy_version="1", arm=arm, created_at=T0))
        acts.append(_event(cid, "Page Shared", 1, 9))
        if arm == "engine" and k % 2 == 0:
            acts.append(_event(cid, "Trial Started", 2, 2))
        if arm == "holdout" and k < 10:
            acts.append(_event(cid, "Trial Started", -5, 1))
    with s.begin() as conn:
        insert_decisions(conn, decs, "req-1")
        insert_activities(conn, acts)
    yield s
    s.engine.dispose()


def test_lift_reward_counts_a_declared_outcome_at_the_learners_value(store):
    trial = _event(1, "Trial Started", 2, 2)
    credited = attributed_reward(DECLARED, trial, T0, T0 + timedelta(days=7))
    learned = total(components([credited], {"trial_started"}), WEIGHTS)
    assert learned == 50.0  # 25 a seat, two seats: what the learner is rewarded

    with store.connect() as conn:
        frame = load_arm_frame(conn, declared=DECLARED)
        plain = load_arm_frame(conn)
    means = {m.arm: m.mean for m in arm_metrics(frame, WEIGHTS) if m.metric == "reward"}
    assert means == {"engine": pytest.approx(learned * 0.5), "holdout": 0.0}  # half the engine arm
    reward = {r.metric: r for r in lift_rows(frame, weights=WEIGHTS)}["reward"]
    assert reward.significant and reward.low > 15  # CUPED-adjusted by the pre-period trials
    assert {r.metric: r for r in lift_rows(plain, weights=WEIGHTS)}["reward"].diff == 0.0  # undeclared: not read
    # the trials before the decision are the CUPED covariate, valued the same way
    assert sorted(frame.pre_declared["trial_started"].tolist()).count(1.0) == 10


def test_impact_analyzer_reads_the_declared_outcomes(store):
    rows = impact_table(store, WEIGHTS, declared=DECLARED)
    engine = next(r for r in rows if r["arm"] == "engine")
    assert engine["diff"] > 15
    assert next(r for r in impact_table(store, WEIGHTS) if r["arm"] == "engine")["diff"] == 0.0
