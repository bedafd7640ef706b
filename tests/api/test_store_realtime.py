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
        # by email and by identity: the contact row comes in the lookup's own statement
        assert rt_store.load_contact_by_email(conn, " PERSON1@example.com ") == rt_store.load_contact(conn, 2)
        assert rt_store.load_contact_by_identity(conn, Identity(connector="crm", external_id="c2")) == (
            rt_store.load_contact(conn, 3)
        )
        assert rt_store.load_contact_by_email(conn, "nobody@example.com") is None
        assert rt_store.load_contact_by_identity(conn, Identity(connector="other", external_id="c2")) is None
        assert len(rt_store.load_contact(conn, 2).emails) >= 1
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


def test_a_contact_with_several_identities_and_emails_reads_as_the_batch_reads_it(settings):
    """The one-statement read of identities and emails keeps the batch read's order: identities
    as stored, the primary email first, then the others sorted."""
    from hub.models import Contact

    ctx = HubContext.build(settings, embedded=True)
    with ctx.store.begin() as conn:  # the second record joins the first by their shared email
        for ident, emails in (("z9", ["zed@example.com", "amy@example.com"]), ("a1", ["amy@example.com", "bob@x.io"])):
            person = Contact(
                identities=[Identity(connector="crm" if ident == "z9" else "web", external_id=ident)],
                emails=emails,
                first_name="Zed",
                updated_at=utcnow(),
            )
            contact_store.upsert_contacts(conn, [person])
    with ctx.store.connect() as conn:
        cid = lookup.contact_by_email(conn, "bob@x.io")
        batch = contact_store.load_contacts(conn, [cid])[0]
        assert rt_store.load_contact(conn, cid) == batch
        assert rt_store.load_contact_by_email(conn, "amy@example.com") == batch
        assert rt_store.load_contact_by_identity(conn, Identity(connector="web", external_id="a1")) == batch
    assert len(batch.identities) == 2 and batch.emails[0] == "zed@example.com" and len(batch.emails) == 3
    ctx.close()
