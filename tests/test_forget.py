"""`hub forget`: the person leaves the store entirely, and with --clear-crm the hub's fields
leave the CRM first; if the CRM cannot be reached, nothing is deleted until it can."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.forget import forget
from hub.pipeline.run import run_once
from hub.store.schema import activities, contact_emails, contacts, decisions, identities, outcomes, pushes
from tests.plugins.memory_crm import MemoryCRM
from tests.test_config import run_hub
from tests.test_pipeline import make_ctx, seed

TABLES = (contacts, contact_emails, identities, decisions, pushes, activities)


@pytest.fixture
def crm(redis_url):
    c = MemoryCRM(redis_url, "memcrm")
    c.clear()
    yield c
    c.clear()


def rows_of(ctx, contact_id: int) -> dict[str, int]:
    out = {}
    with ctx.store.connect() as conn:
        for t in TABLES:
            col = t.c.id if t is contacts else t.c.contact_id
            out[t.name] = conn.execute(select(func.count()).where(col == contact_id)).scalar()
        out["outcomes"] = conn.execute(
            select(func.count()).where(
                outcomes.c.decision_id.in_(select(decisions.c.id).where(decisions.c.contact_id == contact_id))
            )
        ).scalar()
    return out


def contact_id_of(ctx, email: str) -> int:
    with ctx.store.connect() as conn:
        return conn.execute(select(contact_emails.c.contact_id).where(contact_emails.c.email == email)).scalar()


def test_forget_with_clear_crm_empties_the_hub_fields_then_removes_every_row(tmp_path, store_url, redis_url, crm):
    seed(crm, n=5, hot=2)  # person 0 is hot: page views (activities) and a list
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    assert crm.contact("0")["next_best_action"] == "sales_outreach"
    cid = contact_id_of(ctx, "p0@example.com")
    before = rows_of(ctx, cid)
    assert before["activities"] == 3 and before["decisions"] == 1 and before["pushes"] >= 2
    other = rows_of(ctx, contact_id_of(ctx, "p1@example.com"))

    report = forget(ctx, "  P0@Example.com ", clear_crm=True)

    assert report.done and report.cleared == {"crm": {"done": 1}}
    assert crm.contact("0")["next_best_action"] == "" and crm.contact("0")["reason"] == ""
    assert crm.contact("1")["next_best_action"] == "sales_outreach", "nobody else is touched"
    assert set(rows_of(ctx, cid).values()) == {0}
    assert report.deleted["activities"] == 3 and report.deleted["decisions"] == 2  # the rule's and the clear
    assert rows_of(ctx, contact_id_of(ctx, "p1@example.com")) == other
    assert not forget(ctx, "p0@example.com").found
    ctx.close()


def test_forget_waits_while_the_crm_is_down_and_finishes_on_a_rerun(tmp_path, store_url, redis_url, crm):
    seed(crm, n=3, hot=0)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    cid = contact_id_of(ctx, "p2@example.com")
    crm.r.set(crm.k("flaky_left"), 100)  # every push call fails as retryable
    report = forget(ctx, "p2@example.com", clear_crm=True)
    assert not report.done and report.waiting
    assert rows_of(ctx, cid)["contacts"] == 1, "nothing is deleted before the CRM is cleared"
    assert crm.contact("2")["next_best_action"] == "email_nurture"
    crm.r.delete(crm.k("flaky_left"))
    report = forget(ctx, "p2@example.com", clear_crm=True)
    assert report.done, report.waiting
    assert crm.contact("2")["next_best_action"] == ""
    assert set(rows_of(ctx, cid).values()) == {0}
    ctx.close()


def test_forget_cli_without_clear_crm_leaves_the_crm_alone(tmp_path, redis_url, crm):
    seed(crm, n=2, hot=0)
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    ctx.close()
    cfg = str(tmp_path / "hub.yaml")
    out = run_hub("forget", "p1@example.com", "-c", cfg)
    assert out.returncode == 0, out.stderr
    assert "Forgotten contact" in out.stdout
    assert crm.contact("1")["next_best_action"] == "email_nurture"
    missing = run_hub("forget", "p1@example.com", "-c", cfg)
    assert missing.returncode == 1 and "No contact" in missing.stderr


PERSON = {"email": "zq@example.com", "first_name": "Zebulon", "last_name": "Quixworth"}
RECORD = "rec-zq-4471"
TRACES = ("zq@example.com", "zq+news@example.com", "zebulon", "quixworth", RECORD)


def dump_every_table(ctx) -> str:
    """Every row of every table in the store, as text (what a database dump would show)."""
    from sqlalchemy import MetaData

    md = MetaData()
    with ctx.store.connect() as conn:
        md.reflect(conn)
        return "\n".join(str(tuple(r)) for t in md.sorted_tables for r in conn.execute(t.select())).lower()


def test_forget_leaves_no_trace_in_any_table(tmp_path, store_url, redis_url, crm):
    import json

    from hub.governance import audit
    from hub.models import Activity, ActivityType, utcnow
    from hub.store import anonymous, sync_state
    from hub.store.schema import audit_log

    seed(crm, n=3, hot=1)
    crm.put_contact(RECORD, stage="lead", **PERSON)
    crm.add_activity("pv-zq", RECORD, "page_view", utcnow())
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    now = utcnow()
    with ctx.store.begin() as conn:
        audit.record(
            conn,
            now,
            "ops",
            "reject",
            "approval 7",
            "Zebulon Quixworth (ZQ@example.com) asked us to stop; record rec-zq-4471",
            {"email": "zq@example.com", "record": RECORD, "who": "Quixworth"},
        )
        audit.record(conn, now, "ops", "approve", "approval 8", "fine for p1@example.com")
        sync_state.advance_cursor(conn, "crm", "contacts_by_id", json.dumps({"after": RECORD}), 0, 0)
        held = Activity(
            type=ActivityType.FORM_SUBMIT,
            channel="web",
            occurred_at=now,
            properties={"full_name": "Zebulon Quixworth"},
            source=anonymous.SOURCE,
            external_id="evt-alias-1",
        )
        anonymous.hold(conn, held, "anon-9", "zq+news@example.com", now)
    before = dump_every_table(ctx)
    assert all(t in before for t in TRACES), [t for t in TRACES if t not in before]
    with ctx.store.connect() as conn:
        audit_rows = conn.execute(select(func.count()).select_from(audit_log)).scalar()

    report = forget(ctx, "zq@example.com")

    assert report.done
    after = dump_every_table(ctx)
    left = [t for t in TRACES if t in after]
    assert not left, f"still in the store: {left}"
    with ctx.store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar() == audit_rows  # kept, redacted
        notes = [r.reason for r in audit.entries(conn)]
        assert sync_state.get_cursor(conn, "crm", "contacts_by_id") is None
    assert any("[forgotten]" in (n or "") for n in notes)
    assert "fine for p1@example.com" in notes  # nobody else is redacted
    assert "p1@example.com" in after and contact_id_of(ctx, "p1@example.com") is not None
    ctx.close()


def test_forget_of_an_address_with_no_contact_drops_events_held_under_an_alias(tmp_path, store_url, redis_url, crm):
    from hub.models import Activity, ActivityType, utcnow
    from hub.store import anonymous

    ctx = make_ctx(tmp_path, store_url, redis_url)
    now = utcnow()
    with ctx.store.begin() as conn:
        for i, addr in enumerate(("zq+news@example.com", "ZQ@example.com", "other+zq@example.com")):
            act = Activity(
                type=ActivityType.PAGE_VIEW,
                channel="web",
                occurred_at=now,
                properties={},
                source="api",
                external_id=f"e{i}",
            )
            anonymous.hold(conn, act, None, addr, now)
    report = forget(ctx, "zq@example.com")
    assert not report.found and report.swept == {"anonymous_events": 2}
    after = dump_every_table(ctx)
    assert "zq+news@example.com" not in after and "other+zq@example.com" in after
    ctx.close()


def test_sweep_finds_a_name_with_non_ascii_capitals_in_any_case(store_url):
    """SQLite's own lower() folds only ASCII: "ÉLODIE" must still be found and redacted."""
    from hub.forget_sweep import sweep, traces_of
    from hub.governance import audit
    from hub.models import Contact, Identity, utcnow
    from hub.store import Store
    from hub.store.contacts import upsert_contacts
    from hub.store.schema import audit_log

    store = Store(store_url, auto_migrate=True)
    notes = ("Élodie Özdemir called: stop all e-mail", "approved for ÉLODIE ÖZDEMIR", "ask éLODIE about it")
    try:
        with store.begin() as conn:
            (cid,) = upsert_contacts(
                conn,
                [
                    Contact(
                        identities=[Identity(connector="hs", external_id="901")],
                        emails=["elodie@example.fr"],
                        first_name="Élodie",
                        last_name="Özdemir",
                    )
                ],
            ).changed
            for note in notes:
                audit.record(conn, utcnow(), "ops", "note", "contact", note, {"who": note.upper()})
            audit.record(conn, utcnow(), "ops", "note", "contact", "Elodie Ozdemir is someone else")
            changed = sweep(conn, traces_of(conn, "elodie@example.fr", cid))
            rows = conn.execute(select(audit_log.c.reason, audit_log.c.details).order_by(audit_log.c.id)).all()
    finally:
        store.dispose()
    assert changed == {"audit_log": 3}
    assert [r.reason for r in rows] == [
        "[forgotten] called: stop all e-mail",
        "approved for [forgotten]",
        "ask [forgotten] about it",
        "Elodie Ozdemir is someone else",
    ]
    assert [r.details for r in rows[:3]] == [
        {"who": "[forgotten] CALLED: STOP ALL E-MAIL"},
        {"who": "APPROVED FOR [forgotten]"},
        {"who": "ASK [forgotten] ABOUT IT"},
    ]


def test_forget_record_removes_a_person_found_by_record_id_with_or_without_an_address(
    tmp_path, store_url, redis_url, crm
):
    """A CRM's privacy deletion names a record id, not an address (HubSpot's
    contact.privacyDeletion): the person goes as with `hub forget`, and a person the store
    knows only by that id is removed and suppressed too."""
    from hub.forget import forget_record
    from hub.models import Contact, Identity
    from hub.store import contacts as contact_store
    from hub.store.suppressions import digests_of, suppressed

    seed(crm, n=3, hot=1)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    cid = contact_id_of(ctx, "p0@example.com")
    with ctx.store.connect() as conn:
        ident = conn.execute(select(identities).where(identities.c.contact_id == cid)).first()
    report = forget_record(ctx, Identity(connector="crm", object_type=ident.object_type, external_id=ident.external_id))
    assert report.done and report.email == "p0@example.com"
    assert set(rows_of(ctx, cid).values()) == {0}
    assert contact_id_of(ctx, "p1@example.com") is not None, "nobody else is touched"

    nameless = Contact(identities=[Identity(connector="crm", object_type="contact", external_id="rec-9001")])
    with ctx.store.begin() as conn:
        contact_store.upsert_contacts(conn, [nameless])
        kept = conn.execute(select(identities.c.contact_id).where(identities.c.external_id == "rec-9001")).scalar()
    assert kept is not None
    report = forget_record(ctx, nameless.identities[0])
    assert report.done and report.suppressed == 1
    assert set(rows_of(ctx, kept).values()) == {0}
    with ctx.store.begin() as conn:
        assert suppressed(conn, digests_of(nameless)), "the record id is on the suppression list"
        again = contact_store.upsert_contacts(conn, [nameless])  # the next sync pulls it again
        assert conn.execute(select(func.count()).where(identities.c.external_id == "rec-9001")).scalar() == 0
    assert again.suppressed == 1

    unknown = Identity(connector="crm", object_type="contact", external_id="rec-never-seen")
    report = forget_record(ctx, unknown)
    assert not report.found and report.suppressed == 1  # a record deleted before its first sync
    ctx.close()


LONG_ID = "rec-" + "9" * 116  # the longest record id /v1/events takes: its hold key is hashed


def held_events(ctx) -> set[str]:
    from hub.store.schema import anonymous_events

    with ctx.store.connect() as conn:
        return set(conn.execute(select(anonymous_events.c.event_id)).scalars())


@pytest.mark.parametrize("record_id", [LONG_ID, "c42"], ids=["hashed-key", "short-id"])
def test_forget_record_deletes_events_held_under_its_id_however_the_key_is_made(
    tmp_path, store_url, redis_url, crm, record_id
):
    """An event naming a record the hub has not synced yet is held under a key made from the
    record (hashed when too long for the column; hub/store/anonymous.py ``identity_key``). A
    privacy deletion of that record must find it by the same key: the id is not in the row."""
    from hub.api.dispatch import InlineDispatcher
    from hub.api.events import ingest
    from hub.api.schemas import EventIn
    from hub.forget import forget_record
    from hub.models import Identity

    ctx = make_ctx(tmp_path, store_url, redis_url)
    dispatch = InlineDispatcher(ctx)
    for event_id, ext in (("theirs", record_id), ("bystander", "c43")):
        named = EventIn(event_id=event_id, type="page_view", identity={"external": {"connector": "crm", "id": ext}})
        assert ingest(ctx, dispatch, named).status == "held"
    assert held_events(ctx) == {"theirs", "bystander"}

    report = forget_record(ctx, Identity(connector="crm", object_type="contact", external_id=record_id))

    assert not report.found and report.suppressed == 1
    assert held_events(ctx) == {"bystander"}, "the forgotten record's held event is gone, no one else's"
    ctx.close()


def test_forget_deletes_events_held_under_a_long_record_id_of_a_known_contact(tmp_path, store_url, redis_url, crm):
    """Held under the record's hashed key and not claimed yet (the contact was stored by a path
    that releases nothing): `hub forget` by address still finds it through the person's records."""
    from hub.api.dispatch import InlineDispatcher
    from hub.api.events import ingest
    from hub.api.schemas import EventIn
    from hub.models import Contact, Identity
    from hub.store import contacts as contact_store

    ctx = make_ctx(tmp_path, store_url, redis_url)
    named = EventIn(event_id="theirs", type="page_view", identity={"external": {"connector": "crm", "id": LONG_ID}})
    assert ingest(ctx, InlineDispatcher(ctx), named).status == "held"
    person = Contact(identities=[Identity(connector="crm", external_id=LONG_ID)], emails=["lr@example.com"])
    with ctx.store.begin() as conn:
        contact_store.upsert_contacts(conn, [person])

    report = forget(ctx, "lr@example.com")

    assert held_events(ctx) == set()
    assert report.done and report.deleted["anonymous_events"] == 1
    ctx.close()
