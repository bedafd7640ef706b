"""Hostile records reaching the store: no crash, the bad record named with its field, the rest stored.

Before hub/store/limits.py, one over-long name or NUL byte failed the whole page's INSERT on
PostgreSQL and the sync stopped on that page for good.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hub.models import Company, Contact, Identity
from hub.pipeline.sync import sync_connector
from hub.store import Store
from hub.store import contacts as contact_store
from hub.store.schema import identities
from tests.plugins.memory_crm import MemoryCRM
from tests.test_pipeline import make_ctx


@pytest.fixture
def store(store_url):
    s = Store(store_url, auto_migrate=True)
    yield s
    s.dispose()


def person(ext: str, email: str | None = None, **kw) -> Contact:
    return Contact(identities=[Identity(connector="crm", external_id=ext)], emails=[email] if email else [], **kw)


HOSTILE = {
    "huge-name": (person("huge-name", "h@example.com", first_name="x" * 100_000), "first_name"),
    "nul-title": (person("nul-title", "n@example.com", job_title="CEO\x00"), "job_title"),
    "huge-email": (person("huge-email", "a" * 400 + "@example.com"), "emails[0]"),
    "huge-company": (person("huge-company", company=Company(name="C" * 300)), "company.name"),
    "many-employees": (person("many-employees", company=Company(employees=10**12)), "company.employees"),
    "nan-property": (person("nan-property", properties={"score": float("nan")}), "properties.score"),
    "x" * 500: (person("x" * 500), "identity.external_id"),
}


def stored_ids(store: Store) -> set[str]:
    with store.connect() as conn:
        return set(conn.execute(select(identities.c.external_id)).scalars())


def test_each_hostile_record_is_rejected_by_name_and_field_and_the_rest_is_stored(store):
    good = [
        person("unicode", "zoë@exämple.com", first_name="Zoë 李", last_name="Ōtsuka-Ünal 👩‍💻"),
        person("dup-1", "Same@Example.com", first_name="First"),
        person("dup-2", " same@example.com ", first_name="Second"),
        person("old-date", "old@example.com", updated_at=datetime(1, 1, 1, tzinfo=UTC)),
        person("far-date", "far@example.com", updated_at=datetime(9999, 12, 31, tzinfo=UTC)),
    ]
    page = good[:2] + [c for c, _ in HOSTILE.values()] + good[2:]
    with store.begin() as conn:
        res = contact_store.upsert_contacts(conn, page)
    reasons = {r.external_id: r.reason for r in res.rejects}
    for ext, (_, field) in HOSTILE.items():
        assert ext in reasons, f"{ext[:20]} was not rejected"  # by its whole id, which callers match
        assert field in reasons[ext], reasons[ext]
    assert stored_ids(store) == {c.identities[0].external_id for c in good}
    with store.connect() as conn:
        loaded = {i.external_id: c for c in contact_store.load_contacts(conn, res.changed) for i in c.identities}
    assert loaded["unicode"].name == "Zoë 李 Ōtsuka-Ünal 👩‍💻"
    assert loaded["dup-1"].id == loaded["dup-2"].id, "two records with one email are one person"


_text = st.text(st.characters(codec="utf-8"), max_size=40) | st.text(max_size=2000)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.builds(
            person,
            ext=st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=200),
            email=st.none() | st.emails() | _text,
            first_name=st.none() | _text,
            job_title=st.none() | _text,
            company=st.builds(Company, name=st.none() | _text, employees=st.none() | st.integers()),
            properties=st.dictionaries(st.text(max_size=10), st.none() | _text | st.floats(), max_size=3),
            updated_at=st.none() | st.datetimes(timezones=st.just(UTC)),
        ),
        max_size=8,
    )
)
def test_any_page_of_records_is_stored_or_rejected_never_crashes(store, page):
    with store.begin() as conn:
        res = contact_store.upsert_contacts(conn, page)
        again = contact_store.upsert_contacts(conn, page)
    rejected = {r.external_id for r in res.rejects}
    for r in res.rejects:
        assert r.reason and r.external_id
    wanted = {c.identities[0].external_id for c in page} - rejected
    assert wanted <= stored_ids(store)
    assert not again.changed - res.changed or not wanted, "re-storing the same page changes nothing new"


def test_a_sync_stores_the_good_records_of_a_page_with_a_hostile_one_and_moves_on(
    tmp_path, store_url, redis_url, caplog
):
    crm = MemoryCRM(redis_url, "memcrm")
    crm.clear()
    for i in range(10):
        crm.put_contact(str(i), email=f"p{i}@example.com", first_name=f"P{i}")
    crm.put_contact("bad", email="bad@example.com", first_name="B" * 5000)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    res = sync_connector(ctx, "crm")
    assert res.rejects == 1 and res.records == 11
    with ctx.store.connect() as conn:
        n = conn.execute(select(func.count()).select_from(identities)).scalar()
    assert n == 10
    assert any("bad" in m and "first_name" in m for m in caplog.messages)
    crm.put_contact("bad", email="bad@example.com", first_name="Fixed")  # fixed at the source
    assert sync_connector(ctx, "crm").rejects == 0
    assert "bad" in stored_ids(ctx.store)
    ctx.close()
    crm.clear()


def test_a_crm_record_with_an_e_mail_that_is_not_one_is_kept_and_logged_by_id(tmp_path, store_url, redis_url, caplog):
    """A CRM record is real whatever its e-mail cell holds: it is stored (without that value),
    and the sync logs which record and why, without quoting the value (an address is personal)."""
    crm = MemoryCRM(redis_url, "memcrm")
    crm.clear()
    crm.put_contact("ok", email="ok@example.com")
    crm.put_contact("typo", email="jane.example.com", first_name="Jane")
    ctx = make_ctx(tmp_path, store_url, redis_url)
    res = sync_connector(ctx, "crm")
    assert res.rejects == 0 and {"ok", "typo"} <= stored_ids(ctx.store)
    said = [m for m in caplog.messages if "typo" in m]
    assert said and "not an e-mail address" in said[0] and "jane.example.com" not in said[0], caplog.messages
    assert not [m for m in caplog.messages if "'ok'" in m or " ok:" in m]
    ctx.close()
    crm.clear()
