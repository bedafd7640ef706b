"""A converted lead or a merged record with another email folds into the surviving contact,
history and all, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from hub.models import Activity, Contact, Decision, Identity, IdentityMove
from hub.store import Store
from hub.store.activities import insert_activities
from hub.store.contacts import load_contacts, upsert_contacts
from hub.store.decisions import insert_decisions
from hub.store.merge import move_identities
from hub.store.profiles import load_profiles
from hub.store.schema import activities, contacts, decisions

NOW = datetime(2026, 5, 1, tzinfo=UTC)
LEAD = Identity(connector="sf", object_type="lead", external_id="00Q1")
CONTACT = Identity(connector="sf", object_type="contact", external_id="003C")


def _id_of(conn, ident: Identity) -> int:
    from hub.store.schema import identities

    return conn.execute(select(identities.c.contact_id).where(identities.c.external_id == ident.external_id)).scalar()


def test_a_converted_lead_with_another_email_folds_into_its_contact(store_url):
    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn:
        upsert_contacts(conn, [Contact(identities=[LEAD], emails=["Lead@Old.example"], updated_at=NOW)], NOW)
        upsert_contacts(conn, [Contact(identities=[CONTACT], emails=["new@corp.example"], updated_at=NOW)], NOW)
        lead, person = _id_of(conn, LEAD), _id_of(conn, CONTACT)
        assert lead != person
        acts = [
            Activity(
                contact_id=lead, type="page_view", occurred_at=NOW - timedelta(days=d), source="sf", external_id=f"v{d}"
            )
            for d in (1, 2)
        ] + [Activity(contact_id=person, type="form_submit", occurred_at=NOW, source="sf", external_id="f1")]
        insert_activities(conn, acts)
        for cid in (lead, person):  # decided in the same batch: the same request key on both
            insert_decisions(
                conn, [Decision(contact_id=cid, actions=[], policy="p", policy_version="1", created_at=NOW)], "batch-1"
            )

    with store.begin() as conn:
        res = move_identities(conn, [IdentityMove(source=LEAD, target=CONTACT)], NOW)
    assert res.changed == {person} and res.updated == 1 and res.deleted == 0
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contacts)).scalar() == 1
        [merged] = load_contacts(conn, [person])
        assert sorted(merged.emails) == ["lead@old.example", "new@corp.example"]
        assert [i.key() for i in merged.identities] == [CONTACT.key()]
        assert conn.execute(select(func.count()).where(activities.c.contact_id == person)).scalar() == 3
        keys = sorted(conn.execute(select(decisions.c.request_key).where(decisions.c.contact_id == person)).scalars())
        assert len(keys) == 2 and keys[0] == "batch-1" and keys[1].startswith("batch-1~merged-")
        profile = load_profiles(conn, [person])[person]
    assert sum(profile["days"]["page_view"].values()) == 2 and sum(profile["days"]["form_submit"].values()) == 1

    with store.begin() as conn:  # the same page read again: nothing left to move
        again = move_identities(conn, [IdentityMove(source=LEAD, target=CONTACT)], NOW)
    assert again.changed == set() and again.updated == 0
    store.dispose()


def test_a_move_to_a_record_the_store_does_not_hold_is_a_deletion(store_url):
    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn:
        upsert_contacts(conn, [Contact(identities=[LEAD], emails=["a@b.example"], updated_at=NOW)], NOW)
        res = move_identities(conn, [IdentityMove(source=LEAD, target=CONTACT)], NOW)
    assert res.deleted == 1
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contacts)).scalar() == 0
    store.dispose()


def test_an_opt_out_said_through_the_record_merged_away_stays(store_url):
    """The lead that opted out is merged into a contact that did not (a Salesforce merge keeps
    the master's values): the person's "no" must survive the fold and every later sync of the
    survivor, also when the two records were one contact already (same e-mail)."""
    from hub.models import Consent

    store = Store(store_url, auto_migrate=True)
    other = Identity(connector="hs", object_type="contact", external_id="7")
    with store.begin() as conn:
        upsert_contacts(
            conn,
            [
                Contact(
                    identities=[LEAD], emails=["ann@old.example"], consent=Consent(do_not_contact=True), updated_at=NOW
                )
            ],
            NOW,
        )
        upsert_contacts(conn, [Contact(identities=[CONTACT], emails=["ann@corp.example"], updated_at=NOW)], NOW)
        upsert_contacts(  # one person, one contact, two records: only the one that goes opted out
            conn,
            [
                Contact(
                    identities=[other], emails=["bo@x.example"], consent=Consent(email_opt_out=True), updated_at=NOW
                ),
                Contact(
                    identities=[Identity(connector="hs", object_type="contact", external_id="8")],
                    emails=["bo@x.example"],
                    updated_at=NOW,
                ),
            ],
            NOW,
        )
    with store.begin() as conn:
        res = move_identities(
            conn,
            [
                IdentityMove(source=LEAD, target=CONTACT),
                IdentityMove(source=other, target=Identity(connector="hs", object_type="contact", external_id="8")),
            ],
            NOW,
        )
    later = NOW + timedelta(days=1)
    with store.begin() as conn:  # the survivors synced again, their own flags still clear
        upsert_contacts(conn, [Contact(identities=[CONTACT], emails=["ann@corp.example"], updated_at=later)], later)
        upsert_contacts(
            conn,
            [
                Contact(
                    identities=[Identity(connector="hs", object_type="contact", external_id="8")],
                    emails=["bo@x.example"],
                    updated_at=later,
                )
            ],
            later,
        )
        merged = {c.primary_email: c.consent for c in load_contacts(conn, res.changed)}
    assert merged["ann@corp.example"].do_not_contact and not merged["ann@corp.example"].email_opt_out
    assert merged["bo@x.example"].email_opt_out
    store.dispose()


def test_a_merge_into_a_record_refused_on_the_same_page_waits_for_it(store_url):
    """The CRM merged the lead into a contact whose record the store refuses (a NUL in a name).
    The move was applied anyway: its target not stored, it read as the lead's deletion, and the
    person's history went with it. It now waits; the survivor names the merge on every read."""
    from hub.models import Page, RecordError
    from hub.pipeline.sync import SyncResult, _store_page

    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn:
        upsert_contacts(conn, [Contact(identities=[LEAD], emails=["ann@old.example"], updated_at=NOW)], NOW)
        lead = _id_of(conn, LEAD)
        insert_activities(
            conn, [Activity(contact_id=lead, type="page_view", occurred_at=NOW, source="sf", external_id="v1")]
        )
    page = Page[Contact](
        rejects=[RecordError(external_id=CONTACT.external_id, reason="first_name contains a NUL character")],
        moved=[IdentityMove(source=LEAD, target=CONTACT)],
    )
    with store.begin() as conn:
        _store_page(conn, "contacts", page, SyncResult(connector="sf"))
    with store.connect() as conn:
        assert _id_of(conn, LEAD) == lead
        assert conn.execute(select(func.count()).select_from(activities)).scalar() == 1
    fixed = Page[Contact](
        items=[Contact(identities=[CONTACT], emails=["ann@corp.example"], updated_at=NOW)],
        moved=[IdentityMove(source=LEAD, target=CONTACT)],
    )
    with store.begin() as conn:
        _store_page(conn, "contacts", fixed, SyncResult(connector="sf"))
    with store.connect() as conn:
        person = _id_of(conn, CONTACT)
        assert _id_of(conn, LEAD) is None
        assert conn.execute(select(activities.c.contact_id)).scalars().all() == [person]  # the history followed
    store.dispose()
