"""Salesforce opportunities reach the store as outcomes: created, then won with its amount,
for the opportunity's primary contact, and the business metrics count them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.pipeline.decide import decide_contacts
from hub.pipeline.sync import sync_connector
from hub.reports.data import load_arm_frame
from hub.reports.metrics import per_contact
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from hub.store.schema import activities, identities
from tests.connectors.salesforce.test_sandbox_e2e import NAME, make_ctx


def test_an_opportunity_becomes_created_and_won_outcomes_of_its_contact(tmp_path, redis_url):
    world = World(n_contacts=400, seed=21)  # the Salesforce side has Contacts at this size
    with start_sandbox(world) as sb:
        ctx = make_ctx(tmp_path, redis_url, sb, world.salesforce.users[0])
        ctx.clock = world.now  # decisions in the market's time, like the opportunity after them
        sync_connector(ctx, NAME)
        with ctx.store.connect() as conn:
            known = dict(
                conn.execute(
                    select(identities.c.external_id, identities.c.contact_id).where(
                        identities.c.object_type == "contact"
                    )
                ).all()
            )
        sf_id, contact_id = sorted(known.items())[0]
        decide_contacts(ctx, [contact_id], "first")  # so the contact has an arm and a first decision
        world.advance_days(1)
        sf = world.salesforce
        opp = sf.create(
            "Opportunity",
            {
                "Name": "New Business",
                "AccountId": sf.objects["Contact"][sf_id]["AccountId"],
                "Amount": 5000.0,
                "StageName": "Qualification",
                "CloseDate": (world.now() + timedelta(days=30)).date().isoformat(),
                "ContactId": sf_id,
            },
        )
        sync_connector(ctx, NAME)
        world.advance_days(1)
        sf.update(
            "Opportunity",
            opp,
            {"StageName": "Closed Won", "IsClosed": True, "IsWon": True, "CloseDate": world.now().date().isoformat()},
            "market",
            source="market",
        )
        sync_connector(ctx, NAME)
        sync_connector(ctx, NAME)  # a re-read of the same opportunity adds nothing
        with ctx.store.connect() as conn:
            rows = conn.execute(
                select(activities.c.type, activities.c.properties).where(
                    activities.c.contact_id == contact_id, activities.c.type.like("opportunity%")
                )
            ).all()
            frame = load_arm_frame(conn)
        ctx.close()
    assert sorted(t for t, _ in rows) == ["opportunity_created", "opportunity_won"]
    assert all(p["amount"] == 5000.0 for _, p in rows)
    metrics = per_contact(frame)
    row = list(frame.contact_id).index(contact_id)
    assert metrics["opportunities"][row] == 1 and metrics["won_revenue"][row] == 5000.0
    assert metrics["reward"][row] >= 50 + 0.001 * 5000  # the objective's opportunity and revenue weights
