"""The real-time store path returns exactly what the batch pipeline's functions return."""

from __future__ import annotations

from datetime import timedelta

from hub.models import Identity, utcnow
from hub.pipeline.context import HubContext
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store import decisions as decision_store
from hub.store import lookup
from hub.store import realtime as rt_store
from tests.api.conftest import seed


def test_single_contact_reads_match_the_batch_reads(settings, crm):
    ctx = HubContext.build(settings, embedded=True)
    seed(ctx, crm)
    since = utcnow() - timedelta(days=90)
    with ctx.store.connect() as conn:
        for cid in (1, 2, 3):
            assert rt_store.load_contact(conn, cid) == contact_store.load_contacts(conn, [cid])[0]
            assert (
                rt_store.activities_since(conn, cid, since) == activity_store.recent_activities(conn, [cid], since)[cid]
            )
        assert rt_store.load_contact(conn, 999) is None
        assert lookup.contact_by_email(conn, " PERSON1@example.com ") == 2
        assert lookup.contact_by_identity(conn, Identity(connector="crm", external_id="c2")) == 3
        assert lookup.contact_by_identity(conn, Identity(connector="other", external_id="c2")) is None
        decision = decision_store.recent_decisions(conn, limit=1)[0]
    decision.id = None
    with ctx.store.begin() as conn:
        new_id = rt_store.insert_decision(conn, decision, "rt-test")
    with ctx.store.connect() as conn:
        stored = decision_store.recent_decisions(conn, limit=1)[0]
    assert stored.id == new_id and stored.model_dump(exclude={"id"}) == decision.model_dump(exclude={"id"})
    ctx.close()
