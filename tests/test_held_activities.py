"""An activity read before its contact is held, not rejected, and stored once its contact is
(hub/store/held.py), on SQLite and PostgreSQL through the memory CRM.

The race: a sync reads contacts, then activities; a contact and its first activity created in
the CRM between the two streams (a form fill creating the contact) used to be rejected as a bad
record, its cursor moved past, and the next sync never read the activity again."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from hub.forget import forget
from hub.models import Activity, ActivityType, Identity
from hub.pipeline.run import run_once
from hub.pipeline.sync import sync_connector
from hub.store.activities import insert_activities
from hub.store.schema import activities, contact_emails, held_activities, outcomes
from tests.plugins import memory_crm as mc
from tests.test_config import run_hub
from tests.test_pipeline import make_ctx


@pytest.fixture
def crm(redis_url):
    c = mc.MemoryCRM(redis_url, "memcrm")
    c.clear()
    yield c
    c.clear()


def between_streams(monkeypatch, crm: mc.MemoryCRM, change) -> None:
    """Make the CRM run ``change`` once, after the next sync read contacts and before it reads
    activities (the test plugin's reader is wrapped; the hub's code is not touched)."""
    orig = mc.MemoryCRMConnector.pull_activities
    pending = [change]

    def pull_activities(self, cursor):
        while pending:
            pending.pop()()
        yield from orig(self, cursor)

    monkeypatch.setattr(mc.MemoryCRMConnector, "pull_activities", pull_activities)


def count(ctx, table, *where) -> int:
    with ctx.store.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


def new_contact_with_a_form_fill(crm: mc.MemoryCRM, by: str, ext: str = "form-9"):
    def change():
        crm.put_contact("9", email="new@example.com", stage="lead")
        if by == "email":  # a HubSpot form or e-mail event finds its contact by address
            crm.add_activity(ext, None, "form_submit", datetime.now(UTC), email="New@Example.com")
        else:
            crm.add_activity(ext, "9", "form_submit", datetime.now(UTC))

    return change


@pytest.mark.parametrize("by", ["identity", "email"])
def test_an_activity_read_before_its_contact_is_stored_by_the_next_sync(
    tmp_path, store_url, redis_url, crm, monkeypatch, by, caplog
):
    for i in range(3):
        crm.put_contact(str(i), email=f"p{i}@example.com", stage="lead")
    ctx = make_ctx(tmp_path, store_url, redis_url)
    between_streams(monkeypatch, crm, new_contact_with_a_form_fill(crm, by))
    with caplog.at_level(logging.INFO):
        first = sync_connector(ctx, "crm")
    assert first.rejects == 0 and first.held == 1 and first.new_activity_ids == []
    assert count(ctx, held_activities) == 1
    held_logs = [r for r in caplog.records if "form-9" in r.getMessage()]
    assert held_logs and all(r.levelno == logging.INFO for r in held_logs)  # not a bad record

    second = sync_connector(ctx, "crm")  # reads contact 9; the activities stream has nothing new
    with ctx.store.connect() as conn:
        cid = conn.execute(
            select(contact_emails.c.contact_id).where(contact_emails.c.email == "new@example.com")
        ).scalar()
        stored = conn.execute(
            select(activities.c.id, activities.c.contact_id).where(activities.c.external_id == "form-9")
        ).all()
    assert [r.contact_id for r in stored] == [cid]
    assert second.new_activity_ids == [stored[0].id]  # handed to learning like any new activity
    assert cid in second.changed
    assert count(ctx, held_activities) == 0
    third = sync_connector(ctx, "crm")
    assert third.new_activity_ids == [] and count(ctx, activities) == 1
    ctx.close()


def test_a_released_activity_is_credited_to_the_decision_before_it(tmp_path, store_url, redis_url, crm, monkeypatch):
    """The CRM makes a second record for a person the hub has decided (a form fill with their
    address); its activity, held for the new record, counts for that person's decision."""
    for i in range(3):
        crm.put_contact(str(i), email=f"p{i}@example.com", stage="lead")
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)  # decides p1 (and the others)

    def change():
        crm.put_contact("9", email="p1@example.com", stage="lead")
        crm.add_activity("form-9", "9", "form_submit", datetime.now(UTC))

    between_streams(monkeypatch, crm, change)
    run_once(ctx)
    assert count(ctx, held_activities) == 1 and count(ctx, activities) == 0
    report = run_once(ctx)
    with ctx.store.connect() as conn:
        act_id = conn.execute(select(activities.c.id).where(activities.c.external_id == "form-9")).scalar()
    assert act_id is not None and count(ctx, held_activities) == 0
    assert report.outcomes >= 1 and count(ctx, outcomes, outcomes.c.activity_id == act_id) == 1
    ctx.close()


def test_holding_the_same_activity_twice_is_one_row(tmp_path, store_url, redis_url, crm):
    ctx = make_ctx(tmp_path, store_url, redis_url)
    act = Activity(
        contact_ref=Identity(connector="crm", external_id="77"),
        type=ActivityType.PAGE_VIEW,
        occurred_at=datetime.now(UTC),
        source="crm",
        external_id="pv-77",
    )
    with ctx.store.begin() as conn:
        first = insert_activities(conn, [act], hold=True)
    with ctx.store.connect() as conn:
        held_at = conn.execute(select(held_activities.c.held_at)).scalar()
    with ctx.store.begin() as conn:
        again = insert_activities(conn, [act, act], hold=True)  # a page read again, a repeat in it
    assert first.held == again.held == [("crm", "pv-77")] and not first.rejects and not again.rejects
    with ctx.store.connect() as conn:
        assert conn.execute(select(held_activities.c.held_at)).scalars().all() == [held_at]  # kept, not renewed
    # without hold (an import), a contact no one knows stays a reject with its reason
    with ctx.store.begin() as conn:
        plain = insert_activities(conn, [act.model_copy(update={"external_id": "pv-78"})])
    assert [r.reason for r in plain.rejects] == ["no contact known for '77'"] and count(ctx, held_activities) == 1
    ctx.close()


def test_an_activity_held_30_days_is_dropped_with_a_warning(tmp_path, store_url, redis_url, crm, caplog):
    crm.put_contact("1", email="p1@example.com", stage="lead")
    crm.add_activity("pv-gone", "404", "page_view", datetime.now(UTC))  # its record is never synced
    crm.add_activity("pv-new", "405", "page_view", datetime.now(UTC))
    ctx = make_ctx(tmp_path, store_url, redis_url)
    assert sync_connector(ctx, "crm").held == 2
    shown = run_hub("status", "-c", str(tmp_path / "hub.yaml"), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["held_activities"] == 2
    table = run_hub("status", "-c", str(tmp_path / "hub.yaml"))  # the table says what --json says
    assert "Activities held for a contact not synced yet: 2" in table.stdout, table.stdout
    with ctx.store.begin() as conn:
        conn.execute(
            update(held_activities)
            .where(held_activities.c.external_id == "pv-gone")
            .values(held_at=datetime.now(UTC) - timedelta(days=30, minutes=1))
        )
    with caplog.at_level(logging.WARNING):
        sync_connector(ctx, "crm")
    with ctx.store.connect() as conn:
        assert conn.execute(select(held_activities.c.external_id)).scalars().all() == ["pv-new"]
    [warning] = [r for r in caplog.records if "pv-gone" in r.getMessage()]
    assert warning.levelno == logging.WARNING and "its contact never arrived" in warning.getMessage()
    ctx.close()


def test_forget_removes_what_is_held_for_the_person(tmp_path, store_url, redis_url, crm, monkeypatch):
    """Forgotten before their contact was stored: the activity held under their address goes at
    once; the one held under their CRM record goes when that record is read (and not stored)."""
    crm.put_contact("1", email="p1@example.com", stage="lead")
    ctx = make_ctx(tmp_path, store_url, redis_url)

    def change():
        new_contact_with_a_form_fill(crm, "email", "form-9")()
        crm.add_activity("pv-9", "9", "page_view", datetime.now(UTC))

    between_streams(monkeypatch, crm, change)
    sync_connector(ctx, "crm")
    assert count(ctx, held_activities) == 2
    report = forget(ctx, "new@example.com")
    assert not report.found and report.swept.get("held_activities") == 1
    with ctx.store.connect() as conn:
        assert conn.execute(select(held_activities.c.external_id)).scalars().all() == ["pv-9"]
    again = sync_connector(ctx, "crm")  # reads record 9: a forgotten person's, so not stored
    assert again.suppressed >= 1 and again.new_activity_ids == []
    assert count(ctx, held_activities) == 0 and count(ctx, activities) == 0
    ctx.close()


def test_forget_of_a_stored_contact_deletes_activities_held_under_its_addresses(tmp_path, store_url, redis_url, crm):
    crm.put_contact("1", email="p1@example.com", stage="lead")
    ctx = make_ctx(tmp_path, store_url, redis_url)
    sync_connector(ctx, "crm")
    # held under an address of theirs the store had not resolved (e.g. written while it was held)
    with ctx.store.begin() as conn:
        conn.execute(
            held_activities.insert().values(
                source="crm",
                external_id="ev-1",
                email="p1@example.com",
                activity={"type": "email_open", "channel": None, "occurred_at": "2026-01-01T00:00:00+00:00"},
                held_at=datetime.now(UTC),
            )
        )
    report = forget(ctx, "p1@example.com")
    assert report.done and report.deleted["held_activities"] == 1
    assert count(ctx, held_activities) == 0
    ctx.close()


def _visit(ext: str, ref: str | None = "78", **kw) -> Activity:
    return Activity(
        contact_ref=Identity(connector="crm", external_id=ref) if ref is not None else None,
        type=ActivityType.PAGE_VIEW,
        occurred_at=datetime.now(UTC),
        source="crm",
        external_id=ext,
        **kw,
    )


HOSTILE_ACTIVITIES = {
    "long-ref": (_visit("long-ref", "x" * 500), "contact_ref.external_id"),
    "nul-property": (_visit("nul-property", properties={"page": "/a\x00b"}), "properties.page"),
    "nan-property": (_visit("nan-property", properties={"score": float("nan")}), "properties.score"),
    "long-channel": (_visit("long-channel", channel="c" * 41), "channel"),
    "long-email": (_visit("long-email", None, contact_email="a" * 400 + "@example.com"), "contact_email"),
    "e" * 161: (_visit("e" * 161), "external_id"),
}


@pytest.mark.parametrize("hold", [True, False], ids=["held", "stored"])
def test_each_hostile_activity_is_rejected_by_name_and_field_and_the_rest_goes_on(
    tmp_path, store_url, redis_url, crm, hold
):
    """One value the store cannot hold (PostgreSQL refuses a NUL, an over-long string) used to
    fail the whole page's insert, and with it the page's cursor: now it is that record's reject,
    naming the field, and the page's good activities are held or stored."""
    ctx = make_ctx(tmp_path, store_url, redis_url)
    if not hold:  # a stored contact for the activities to name
        crm.put_contact("78", email="known@example.com", stage="lead")
        sync_connector(ctx, "crm")
    good = _visit("pv-ok")
    with ctx.store.begin() as conn:
        res = insert_activities(conn, [a for a, _ in HOSTILE_ACTIVITIES.values()] + [good], hold=hold)
    reasons = {r.external_id: r.reason for r in res.rejects}
    for ext, (_, field) in HOSTILE_ACTIVITIES.items():
        assert ext in reasons, f"{ext[:20]} was not rejected"
        assert field in reasons[ext], reasons[ext]
    assert (res.held, res.inserted) == (([("crm", "pv-ok")], 0) if hold else ([], 1))
    ctx.close()
