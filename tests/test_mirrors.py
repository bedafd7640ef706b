"""One event seen through two systems is one event (hub/mirrors.py), on SQLite and PostgreSQL:
the second record is kept but marked, and profiles, rule counts and outcome rewards count it once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from decision.context import window_counts
from decision.interface import ContactView
from hub.mirrors import MIRROR_KEY
from hub.models import Activity, ActivityType, Contact, Identity
from hub.store import Store
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store.profiles import load_profiles
from hub.store.schema import activities, contacts

T0 = datetime(2026, 1, 5, 15, tzinfo=UTC)


@pytest.fixture
def store(store_url):
    s = Store(store_url, auto_migrate=True)
    yield s
    s.dispose()


def act(cid: int, kind: ActivityType, source: str, ext: str, at: datetime) -> Activity:
    return Activity(contact_id=cid, type=kind, occurred_at=at, source=source, external_id=ext)


def test_an_email_logged_in_both_crms_counts_once_and_two_emails_from_one_count_twice(store):
    with store.begin() as conn:
        [cid] = contact_store.upsert_contacts(
            conn, [Contact(identities=[Identity(connector="hubspot", external_id="1")], emails=["a@example.com"])]
        ).changed
        activity_store.insert_activities(conn, [act(cid, ActivityType.EMAIL_SENT, "hubspot", "e1", T0)])
        # the Salesforce Task the HubSpot sync logged a few minutes later, in its own sync batch
        activity_store.insert_activities(
            conn, [act(cid, ActivityType.EMAIL_SENT, "salesforce", "Task:1", T0 + timedelta(minutes=4))]
        )
        # a second e-mail from HubSpot 50 minutes later is a second touch, and so is its Task
        activity_store.insert_activities(
            conn,
            [
                act(cid, ActivityType.EMAIL_SENT, "hubspot", "e2", T0 + timedelta(minutes=50)),
                act(cid, ActivityType.EMAIL_SENT, "salesforce", "Task:2", T0 + timedelta(hours=3)),
            ],
        )
    with store.connect() as conn:
        rows = {r.external_id: r.properties for r in conn.execute(select(activities))}
        profile = load_profiles(conn, [cid])[cid]
    assert rows["Task:1"] == {MIRROR_KEY: "hubspot:e1"}
    assert MIRROR_KEY not in rows["e2"] and MIRROR_KEY not in rows["Task:2"]  # same source; 2 h 10 min off
    assert profile["total"]["email_sent"] == 3
    with store.connect() as conn:
        acts = activity_store.recent_activities(conn, [cid], T0 - timedelta(days=1))[cid]
    view = ContactView(contact=Contact(id=cid), activities=acts)
    assert window_counts(view, T0 + timedelta(days=1))[7]["email_sent"] == 3


def test_an_unsubscribe_from_the_flag_and_from_the_vendor_costs_the_decision_once(
    store, tmp_path, store_url, redis_url
):
    from hub.config import load_settings
    from hub.pipeline.context import HubContext
    from hub.pipeline.outcomes import record_outcomes
    from hub.store import decisions as decision_store
    from tests.conftest import hub_config

    settings = load_settings(hub_config(tmp_path, store_url, redis_url))
    ctx = HubContext.build(settings, embedded=True)
    try:
        with ctx.store.begin() as conn:
            [cid] = contact_store.upsert_contacts(
                conn, [Contact(identities=[Identity(connector="hubspot", external_id="1")], emails=["a@example.com"])]
            ).changed
            decision_store.insert_decisions(conn, _decision(cid), "run-1")
            hub_flag = activity_store.insert_activities(
                conn, [act(cid, ActivityType.UNSUBSCRIBE, "hub", "optout:1", T0 + timedelta(hours=9))]
            )
            vendor = activity_store.insert_activities(
                conn, [act(cid, ActivityType.UNSUBSCRIBE, "hubspot", "email:u1", T0 + timedelta(hours=1))]
            )
        assert record_outcomes(ctx, hub_flag.new_ids + vendor.new_ids) == 1
    finally:
        ctx.close()


def _decision(cid: int):
    from hub.models import Decision

    return [Decision(contact_id=cid, policy="rules", policy_version="test", actions=[], created_at=T0)]


def test_a_merge_brings_the_two_crms_records_of_one_email_together_and_counts_it_once(store):
    from hub.store.merge import merge_contacts

    with store.begin() as conn:
        [hs] = contact_store.upsert_contacts(
            conn, [Contact(identities=[Identity(connector="hubspot", external_id="1")], emails=["a@example.com"])]
        ).changed
        [sf] = contact_store.upsert_contacts(
            conn, [Contact(identities=[Identity(connector="salesforce", external_id="003A")], emails=["b@example.com"])]
        ).changed
        activity_store.insert_activities(conn, [act(hs, ActivityType.EMAIL_SENT, "hubspot", "e1", T0)])
        activity_store.insert_activities(
            conn, [act(sf, ActivityType.EMAIL_SENT, "salesforce", "Task:1", T0 + timedelta(minutes=2))]
        )
        assert load_profiles(conn, [sf])[sf]["total"]["email_sent"] == 1  # two people so far
        merge_contacts(conn, hs, sf, T0 + timedelta(days=1))
    with store.connect() as conn:
        rows = {r.external_id: r.properties for r in conn.execute(select(activities))}
        profile = load_profiles(conn, [hs])[hs]
    assert rows["Task:1"] == {MIRROR_KEY: "hubspot:e1"} and rows["e1"] == {}
    assert profile["total"]["email_sent"] == 1


def test_migration_0012_marks_the_mirrors_a_store_already_holds(store_url):
    from sqlalchemy import create_engine, insert

    from hub.models import Decision
    from hub.store import decisions as decision_store
    from hub.store.db import migrate
    from hub.store.schema import outcomes

    engine = create_engine(store_url)
    migrate(engine, "0011_decision_trace")
    with engine.begin() as conn:  # rows as that schema holds them (today's code writes newer columns)
        cid = conn.execute(
            insert(contacts).values(
                primary_email="a@example.com",
                email_opt_out=False,
                do_not_contact=False,
                properties={},
                created_at=T0,
                changed_at=T0,
            )
        ).inserted_primary_key[0]
        [did] = decision_store.insert_decisions(
            conn, [Decision(contact_id=cid, policy="rules", policy_version="t", actions=[], created_at=T0)], "run-1"
        )
        for ext, source, minutes in (("e1", "hubspot", 0), ("Task:1", "salesforce", 3)):  # stored by older code
            conn.execute(
                insert(activities).values(
                    contact_id=cid,
                    type="unsubscribe",
                    occurred_at=T0 + timedelta(minutes=minutes),
                    properties={},
                    source=source,
                    external_id=ext,
                )
            )
        ids = list(conn.execute(select(activities.c.id).order_by(activities.c.id)).scalars())
        conn.execute(
            insert(outcomes),
            [{"decision_id": did, "activity_id": a, "reward": {"unsubscribe": 1.0}, "created_at": T0} for a in ids],
        )
    migrate(engine)
    with engine.connect() as conn:
        rows = {r.external_id: r.properties for r in conn.execute(select(activities))}
        profile = load_profiles(conn, [cid])[cid]
        kept = list(conn.execute(select(outcomes.c.activity_id)).scalars())
    engine.dispose()
    assert rows["Task:1"] == {MIRROR_KEY: "hubspot:e1"}
    assert profile["total"]["unsubscribe"] == 1
    assert kept == ids[:1]


def test_a_merge_that_makes_an_outcome_a_mirror_takes_back_its_open_credit(store):
    """One person as two contacts (a HubSpot contact, a Salesforce lead, two e-mails), each
    decided; one unsubscribe arrives through both CRMs and is credited to both decisions. The
    merge shows it was one event: the mirror's credit goes, so it is not learned as two."""
    from hub.models import Decision, IdentityMove
    from hub.store import decisions as decision_store
    from hub.store.merge import move_identities
    from hub.store.schema import outcomes

    hs, sf = Identity(connector="hubspot", external_id="1"), Identity(connector="salesforce", external_id="00Q1")
    with store.begin() as conn:
        [x] = contact_store.upsert_contacts(conn, [Contact(identities=[hs], emails=["ann@work.example"])]).changed
        [y] = contact_store.upsert_contacts(conn, [Contact(identities=[sf], emails=["ann@mail.example"])]).changed
        dx, dy = decision_store.insert_decisions(
            conn,
            [Decision(contact_id=c, policy="rules", policy_version="t", actions=[], created_at=T0) for c in (x, y)],
            "r1",
        )
        [ax] = activity_store.insert_activities(
            conn, [act(x, ActivityType.UNSUBSCRIBE, "hubspot", "u1", T0 + timedelta(hours=1))]
        ).new_ids
        [ay] = activity_store.insert_activities(
            conn, [act(y, ActivityType.UNSUBSCRIBE, "salesforce", "Task:9", T0 + timedelta(hours=2))]
        ).new_ids
        decision_store.insert_outcomes(
            conn,
            [
                {"decision_id": d, "activity_id": a, "reward": {"unsubscribe": 1.0}, "created_at": T0}
                for d, a in ((dx, ax), (dy, ay))
            ],
        )
        move_identities(conn, [IdentityMove(source=sf, target=hs)], T0 + timedelta(hours=3))
    with store.connect() as conn:
        credited = sorted(conn.execute(select(outcomes.c.activity_id)).scalars())
        mirror = conn.execute(select(activities.c.properties).where(activities.c.id == ay)).scalar()
    assert mirror == {MIRROR_KEY: "hubspot:u1"}
    assert credited == [ax]
