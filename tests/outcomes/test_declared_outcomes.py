"""Declared outcomes through the real attribution path (record_outcomes -> learn_step), on
SQLite and PostgreSQL: a declared event weighted in the objective changes the learned reward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from decision.objective import components, total
from hub.config import ObjectiveWeights, parse_settings
from hub.models import Activity, ActivityType, Contact, Identity
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.pipeline.learn import learn_step
from hub.pipeline.outcomes import attributed_reward, record_outcomes, reward_of
from hub.store import Store
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store.schema import decision_features, decisions

T0 = datetime(2026, 2, 2, 9, tzinfo=UTC)
ACTIONS = [
    {"id": "email_nurture_business", "kind": "email", "channel": "email", "attribution_days": 3},
    {"id": "wait", "kind": "wait"},
]
RULES = [
    {
        "name": "nurture",
        "when": "True",
        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "email_nurture_business"}}],
    }
]


def make_ctx(store_url: str, outcomes: list | None = None, objective: dict | None = None) -> HubContext:
    decision = {
        "actions": ACTIONS,
        "rules": RULES,
        "engine": {"holdout_share": 0.0, "explore_share": 0.0, "apprentice_min_observations": 1},
    }
    if outcomes is not None:
        decision["outcomes"] = outcomes
    if objective is not None:
        decision["objective"] = objective
    settings = parse_settings({"store_url": store_url, "decision": decision})
    ctx = HubContext.build(settings, embedded=True, store=Store(store_url, auto_migrate=True))
    ctx.clock = lambda: T0
    return ctx


def one_contact(ctx: HubContext, key: str = "1") -> int:
    person = Contact(identities=[Identity(connector="crm", external_id=key)], emails=[f"p{key}@x.example"])
    with ctx.store.begin() as conn:
        (cid,) = contact_store.upsert_contacts(conn, [person]).changed
    decide_contacts(ctx, [cid], f"r{key}")  # a cold engine follows the rule: the 3-day email
    return cid


def add(ctx: HubContext, cid: int, kind: ActivityType, at: datetime, key: str, **props) -> list[int]:
    a = Activity(contact_id=cid, type=kind, occurred_at=at, properties=props, source="crm", external_id=key)
    with ctx.store.begin() as conn:
        return activity_store.insert_activities(conn, [a]).new_ids


def learned(ctx: HubContext, cid: int) -> tuple[dict, float]:
    with ctx.store.connect() as conn:
        row = conn.execute(select(decision_features).join(decisions).where(decisions.c.contact_id == cid)).one()
    return row.reward, row.reward_total


TRIAL = [{"name": "trial_started", "event": "Trial Started"}]


def test_a_declared_event_weighted_in_the_objective_changes_the_learned_reward(store_url):
    rewards = {}
    for label, outcomes, objective in (
        ("plain", None, None),
        ("declared", TRIAL, {"trial_started": 40.0}),
    ):
        ctx = make_ctx(store_url, outcomes, objective)  # the same store, another contact per round
        try:
            cid = one_contact(ctx, label)
            ids = add(ctx, cid, ActivityType.CUSTOM, T0 + timedelta(days=1), f"t-{label}", name="Trial Started")
            ids += add(ctx, cid, ActivityType.EMAIL_CLICK, T0 + timedelta(days=1), f"c-{label}")
            assert record_outcomes(ctx, ids) == 2
            assert learn_step(ctx, T0 + timedelta(days=3, minutes=1)).finalized == 1
            rewards[label] = learned(ctx, cid)
        finally:
            ctx.close()
    assert rewards["plain"] == ({"click": 1.0}, 1.0)  # a custom event alone is worth nothing
    assert rewards["declared"] == ({"click": 1.0, "trial_started": 40.0}, 41.0)


def test_a_value_expression_and_a_longer_outcome_window(store_url):
    ctx = make_ctx(
        store_url,
        [
            {
                "name": "deal_value",
                "activity": "opportunity_won",
                "value": "properties['amount']",
                "attribution_days": 10,
            }
        ],
        {"deal_value": 0.01},
    )
    try:
        cid = one_contact(ctx)
        # day 6: past the email's 3-day window, inside the outcome's 10 days
        ids = add(ctx, cid, ActivityType.OPPORTUNITY_WON, T0 + timedelta(days=6), "won", amount=1200)
        assert record_outcomes(ctx, ids) == 1
        assert learn_step(ctx, T0 + timedelta(days=4)).finalized == 0  # the outcome's window is still open
        assert learn_step(ctx, T0 + timedelta(days=10, minutes=1)).finalized == 1
        # only the declared part: the built-in revenue counts within the action's window alone
        assert learned(ctx, cid) == ({"deal_value": 12.0}, 12.0)
    finally:
        ctx.close()


def test_without_declared_outcomes_rewards_are_as_before():
    """The default objective on a fixed outcome set: the same numbers as the built-in mapping."""
    acts = [
        ("email_open", {}),
        ("email_click", {}),
        ("form_submit", {}),
        ("meeting", {}),
        ("opportunity_created", {}),
        ("opportunity_won", {"amount": 900}),
        ("unsubscribe", {}),
        ("custom", {"name": "Trial Started"}),
        ("page_view", {}),
    ]
    w = ObjectiveWeights()
    rows = [reward_of(t, p) for t, p in acts]
    expected = w.open + w.click + w.form + w.meeting + w.opportunity + 900 * w.revenue + w.unsubscribe
    assert total(components(rows), w) == pytest.approx(expected)

    class Act:  # a row as record_outcomes reads it
        def __init__(self, t, p):
            self.type, self.properties, self.channel, self.occurred_at = t, p, None, T0

    end = T0 + timedelta(days=1)
    assert [attributed_reward((), Act(t, p), T0, end) for t, p in acts] == rows
    closed = T0 - timedelta(hours=1)  # the window closed before the activity: nothing counts
    assert all(attributed_reward((), Act(t, p), T0 - timedelta(days=3), closed) == {} for t, p in acts)


def test_a_deal_amount_that_is_no_number_costs_its_revenue_not_every_window(store_url):
    """An opportunity won with amount "NaN" (a Segment event, a CSV cell) was stored as a null
    revenue, and closing windows raised on it at every learn step, so no one's reward closed."""
    assert reward_of("opportunity_won", {"amount": "NaN"}) == {"opportunity_won": 1.0, "revenue": 0.0}
    assert reward_of("opportunity_won", {"amount": "1e400"})["revenue"] == 0.0
    assert components([{"meeting": 1.0, "revenue": None}]) == {"meeting": 1.0}  # a row stored before
    ctx = make_ctx(store_url)
    try:
        won, clicked = one_contact(ctx, "won"), one_contact(ctx, "clicked")
        ids = add(ctx, won, ActivityType.OPPORTUNITY_WON, T0 + timedelta(days=1), "w1", amount="NaN")
        ids += add(ctx, clicked, ActivityType.EMAIL_CLICK, T0 + timedelta(days=1), "c1")
        assert record_outcomes(ctx, ids) == 3  # the won deal, its opening (hub/opportunities.py), the click
        assert learn_step(ctx, T0 + timedelta(days=3, minutes=1)).finalized == 2
        assert learned(ctx, clicked) == ({"click": 1.0}, 1.0)
        assert learned(ctx, won)[0] == {"opportunity": 50.0, "revenue": 0.0}  # a won deal is an opportunity
    finally:
        ctx.close()
