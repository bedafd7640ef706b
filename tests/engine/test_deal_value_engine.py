"""The product engine prices an opportunity at its account's deal value: the learn step reads
each closed opportunity with its contact's company size from the store, and deciding reads the
size band off the engine's own features."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from decision.interface import ContactView
from hub.models import ActivityType, Company, Contact, Identity
from hub.pipeline.decide import decide_contacts
from hub.pipeline.learn import learn_step
from hub.pipeline.outcomes import record_outcomes
from hub.profile import empty_profile
from hub.store import contacts as contact_store
from tests.engine.test_segment_values_engine import T0, add, make_ctx


def test_closed_deals_are_learned_per_size_band_and_decisions_read_the_band(store_url):
    ctx = make_ctx(store_url)
    try:
        sizes = [4, 300, 3000, None]  # bands 0, 3, 4 and unknown (6)
        people = [
            Contact(
                identities=[Identity(connector="crm", external_id=str(i))],
                emails=[f"p{i}@x.example"],
                lifecycle_stage="lead",
                job_title="Marketing Manager",
                company=Company(name=f"c{i}", employees=e),
            )
            for i, e in enumerate(sizes)
        ]
        with ctx.store.begin() as conn:
            cids = sorted(contact_store.upsert_contacts(conn, people).changed)
        ids = add(ctx, cids[0], ActivityType.OPPORTUNITY_WON, T0 + timedelta(hours=1), "w0", amount=5_000)
        ids += add(ctx, cids[2], ActivityType.OPPORTUNITY_WON, T0 + timedelta(hours=1), "w2", amount=90_000)
        ids += add(ctx, cids[2], ActivityType.OPPORTUNITY_LOST, T0 + timedelta(hours=2), "l2")
        ids += add(ctx, cids[3], ActivityType.OPPORTUNITY_LOST, T0 + timedelta(hours=2), "l3")
        record_outcomes(ctx, ids)
        decide_contacts(ctx, cids, "d1")  # something to learn, so the learn step runs its segment part
        learn_step(ctx, T0 + timedelta(days=4))

        step = ctx.policy.segment_step
        deals = step.outcomes.deals
        assert deals.closed.tolist() == [1, 0, 0, 0, 2, 0, 1]
        assert deals.won.tolist() == [5_000, 0, 0, 0, 90_000, 0, 0]
        assert step.outcomes.closed == 4 and step.outcomes.won == 95_000  # the single price still learns all
        price = step.outcomes.opportunity_points(np.array([0, 4]))
        # each band's mean shrunk toward the pool (23,750) by 10 closures: 1-10 won 5,000 over one,
        # 1,001-5,000 90,000 over two
        np.testing.assert_allclose(price, 50 + 0.001 * np.array([5_000 + 237_500, 90_000 + 237_500]) / [11, 12])

        with ctx.store.connect() as conn:
            contacts = contact_store.load_contacts(conn, cids)
        views = [ContactView(contact=c, profile=empty_profile(), decided=[]) for c in contacts]
        F = ctx.policy.features(views, T0)
        assert step.bands(F.X).tolist() == [0, 3, 4, 6]
    finally:
        ctx.close()
