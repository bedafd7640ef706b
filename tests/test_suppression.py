"""`hub forget` keeps the person out: the suppression list (hashes only) is checked by sync and
by the events API; `--list` shows counts only; `--unsuppress` lets a person who consents again
come back. On SQLite and PostgreSQL (``store_url``)."""

from __future__ import annotations

import hashlib
import logging

import pytest
from sqlalchemy import func, select

from hub.forget import forget, suppression_counts, unsuppress
from hub.pipeline.run import run_once
from hub.pipeline.sync import sync_connector
from hub.store import suppressions as suppression_store
from hub.store.schema import anonymous_events, contact_emails, identities, suppressions
from tests.plugins.memory_crm import MemoryCRM
from tests.test_config import run_hub
from tests.test_pipeline import make_ctx, seed


@pytest.fixture
def crm(redis_url):
    c = MemoryCRM(redis_url, "memcrm")
    c.clear()
    yield c
    c.clear()


def emails_in_store(ctx) -> set[str]:
    with ctx.store.connect() as conn:
        return set(conn.execute(select(contact_emails.c.email)).scalars())


def test_a_forgotten_person_stays_out_of_syncs_until_unsuppressed(tmp_path, store_url, redis_url, crm, caplog):
    seed(crm, n=4, hot=0)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    report = forget(ctx, "P1@Example.com ")
    assert report.done and report.suppressed == 2  # their email and their one CRM record id
    # the CRM changes the record (and its email casing): a sync reads it again
    crm.put_contact("1", email="P1@EXAMPLE.COM", first_name="P1", stage="customer")
    crm.put_contact("9", email="p1@example.com", first_name="Same person, new record")
    crm.put_contact("2", email="p2@example.com", first_name="P2 renamed", stage="lead")
    with caplog.at_level(logging.INFO, logger="hub.pipeline.sync"):
        res = sync_connector(ctx, "crm")
    assert res.suppressed == 2
    assert "p1@example.com" not in emails_in_store(ctx)
    assert "p2@example.com" in emails_in_store(ctx), "nobody else is skipped"
    assert "2 records of forgotten people not stored" in caplog.text
    assert "p1@" not in caplog.text.lower() and "P1" not in caplog.text  # counted, never named
    assert suppression_counts(ctx) == {"people": 1, "emails": 1, "record_ids": 1}

    assert unsuppress(ctx, "p1@example.com") == 2
    assert suppression_counts(ctx) == {"people": 0, "emails": 0, "record_ids": 0}
    crm.put_contact("1", email="p1@example.com", first_name="P1", stage="customer")  # consented again
    res = sync_connector(ctx, "crm")
    assert res.suppressed == 0 and "p1@example.com" in emails_in_store(ctx)
    ctx.close()


def test_only_hashes_are_kept(tmp_path, store_url, redis_url, crm):
    seed(crm, n=2, hot=0)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    forget(ctx, "p0@example.com")
    with ctx.store.connect() as conn:
        rows = conn.execute(select(suppressions)).all()
    stored = " ".join(str(v) for r in rows for v in r)
    assert "p0" not in stored and "example.com" not in stored and "memcrm" not in stored
    expect = hashlib.sha256(b"hub-suppression:v1:email:p0@example.com").hexdigest()
    assert expect in {r.digest for r in rows}
    assert {len(r.digest) for r in rows} == {64}
    ctx.close()


def test_an_address_never_synced_is_suppressed_before_its_first_sync(tmp_path, store_url, redis_url, crm):
    ctx = make_ctx(tmp_path, store_url, redis_url)
    report = forget(ctx, "early@example.com")
    assert not report.found and report.suppressed == 1
    assert forget(ctx, "early@example.com").suppressed == 0  # idempotent
    crm.put_contact("5", email="early@example.com", first_name="E")
    seed(crm, n=1, hot=0)
    res = sync_connector(ctx, "crm")
    assert res.suppressed == 1 and emails_in_store(ctx) == {"p0@example.com"}
    assert not forget(ctx, "not an email").suppressed
    ctx.close()


def test_unsuppress_with_any_of_the_persons_emails_lifts_every_hash(tmp_path, store_url, redis_url, crm):
    crm.put_contact("1", email="a@example.com", first_name="A")
    crm.put_contact("2", email="a@example.com", first_name="A, second record")
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    with ctx.store.begin() as conn:  # a second address for the same person, as a merge would give
        cid = conn.execute(select(contact_emails.c.contact_id)).scalar()
        conn.execute(contact_emails.insert().values(contact_id=cid, email="a.other@example.com"))
    assert forget(ctx, "a@example.com").done
    assert suppression_counts(ctx) == {"people": 1, "emails": 2, "record_ids": 2}
    assert unsuppress(ctx, "A.Other@example.com") == 4
    assert unsuppress(ctx, "a@example.com") == 0
    ctx.close()


def test_forget_also_drops_the_visitor_map_and_held_events(tmp_path, store_url, redis_url, crm):
    from hub.api.events import ingest
    from hub.api.schemas import EventIn

    seed(crm, n=2, hot=0)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)

    class NoDispatch:  # the events path without a broker; deciding is not what is tested here
        mode = "embedded"

        def learn(self, ids):
            return None

        def decide(self, contact_id, key):
            return "not_needed"

    def post(event_id: str, **identity):
        return ingest(ctx, NoDispatch(), EventIn(event_id=event_id, type="custom", identity=identity)).status

    assert post("e1", email="p0@example.com", anonymous_id="visitor-0") == "stored"
    forget(ctx, "p0@example.com")
    with ctx.store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(anonymous_events)).scalar() == 0
    assert post("e2", anonymous_id="visitor-0") == "held", "the visitor id no longer leads to a deleted contact"
    assert post("e3", email="P0@example.com") == "suppressed"
    assert post("e4", external={"connector": "crm", "id": "0"}) == "suppressed"
    with ctx.store.connect() as conn:
        held = conn.execute(select(anonymous_events.c.email)).scalars().all()
        assert held == [None]  # e2 only: nothing keeps the forgotten address
        assert conn.execute(select(func.count()).select_from(identities)).scalar() == 1
    ctx.close()


def test_forget_cli_list_and_unsuppress(tmp_path, redis_url, crm):
    seed(crm, n=2, hot=0)
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    ctx.close()
    cfg = str(tmp_path / "hub.yaml")
    assert run_hub("forget", "p1@example.com", "-c", cfg).returncode == 0
    listed = run_hub("forget", "--list", "-c", cfg)
    assert listed.returncode == 0, listed.stderr
    assert "Suppressed: 1 person (1 email hash, 1 CRM record id hash)" in listed.stdout
    assert "p1" not in listed.stdout
    status = run_hub("status", "-c", cfg)
    assert "Suppressed (forgotten) people: 1 (hub forget --list)" in status.stdout, status.stdout + status.stderr
    lifted = run_hub("forget", "--unsuppress", "p1@example.com", "-c", cfg)
    assert lifted.returncode == 0 and "Suppression lifted" in lifted.stdout
    again = run_hub("forget", "--unsuppress", "p1@example.com", "-c", cfg)
    assert again.returncode == 1 and "not on the suppression list" in again.stderr
    assert "Suppressed (forgotten) people: 0" in run_hub("status", "-c", cfg).stdout
    assert run_hub("forget", "-c", cfg).returncode == 2
    assert run_hub("forget", "--list", "p1@example.com", "-c", cfg).returncode == 2


def test_digests_match_how_the_hub_matches_people():
    from hub.models import Identity

    assert suppression_store.email_digest(" A@B.com") == suppression_store.email_digest("a@b.com")
    assert suppression_store.email_digest("no-at-sign") is None
    one = Identity(connector="hubspot", object_type="contact", external_id="12")
    other = Identity(connector="salesforce", object_type="contact", external_id="12")
    assert suppression_store.identity_digest(one) != suppression_store.identity_digest(other)
