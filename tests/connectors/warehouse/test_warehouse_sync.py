"""The warehouse connector against real SQLite and PostgreSQL sources, through the real sync."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import Column, MetaData, String, Table, func, select, text

from hub.errors import FatalConnectorError
from hub.pipeline.sync import sync_connector
from hub.store.schema import activities, contacts, identities
from tests.connectors.warehouse.conftest import T0, make_ctx, people_table, person, wh_entry
from tests.plugins.memory_crm import MemoryCRM


def fill(engine, rows, name="people"):
    md = MetaData()
    table = people_table(md, name)
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    return table


def stored(ctx):
    with ctx.store.connect() as conn:
        n_contacts = conn.execute(select(func.count()).select_from(contacts)).scalar_one()
        idents = conn.execute(
            select(identities.c.external_id, contacts.c.first_name, contacts.c.lifecycle_stage, contacts.c.properties)
            .join(contacts, contacts.c.id == identities.c.contact_id)
            .where(identities.c.connector == "wh")
        ).all()
    return n_contacts, {r.external_id: r for r in idents}


def test_full_then_incremental_picks_up_updates_and_late_rows_inside_the_lookback(tmp_path, redis_url, source):
    table = fill(source, [person(i, minutes=i) for i in range(1, 6)])
    ctx = make_ctx(tmp_path, redis_url, wh_entry(str(source.url.render_as_string(hide_password=False))))
    first = sync_connector(ctx, "wh")
    n, rows = stored(ctx)
    assert (first.records, first.created, n) == (5, 5, 5)
    assert rows["3"].first_name == "P3" and rows["3"].lifecycle_stage == "lead"
    assert rows["3"].properties == {"plan": "pro"}

    with source.begin() as conn:
        conn.execute(table.update().where(table.c.id == 2).values(stage="customer", updated_at=T0 + timedelta(hours=1)))
        # committed late: stamped 10 minutes before the newest row already read (inside the 1 h lookback)
        conn.execute(table.insert(), [person(6, minutes=-10)])
        # stamped two hours before the bookmark: outside the lookback, so never read
        conn.execute(table.insert(), [person(7, minutes=-120)])
    second = sync_connector(ctx, "wh")
    n, rows = stored(ctx)
    assert second.created == 1
    assert n == 6 and set(rows) == {"1", "2", "3", "4", "5", "6"}
    assert rows["2"].lifecycle_stage == "customer"

    third = sync_connector(ctx, "wh")  # re-reads the lookback window: nothing doubled, nothing changed
    assert third.created == 0 and not third.changed
    assert stored(ctx)[0] == 6
    ctx.close()


def test_keyset_pages_through_rows_sharing_one_stamp(tmp_path, redis_url, source):
    # 7 rows at one time and 3 later, pages of 3: a page boundary falls inside the tie
    fill(source, [person(i) for i in range(1, 8)] + [person(i, minutes=5) for i in range(8, 11)])
    entry = wh_entry(source.url.render_as_string(hide_password=False), contacts={"page_size": 3})
    ctx = make_ctx(tmp_path, redis_url, entry)
    result = sync_connector(ctx, "wh")
    assert result.records == 10 and result.pages == 4
    assert set(stored(ctx)[1]) == {str(i) for i in range(1, 11)}
    ctx.close()


def test_a_query_source_and_mapped_columns(tmp_path, redis_url, source):
    fill(source, [person(i, minutes=i) for i in range(1, 4)])
    query = (
        "SELECT id AS person_id, email AS mail, first_name, industry, updated_at AS modified FROM people WHERE id <> 2"
    )
    entry = wh_entry(
        source.url.render_as_string(hide_password=False),
        contacts={
            "table": None,
            "query": query,
            "id_column": "person_id",
            "email_column": "mail",
            "updated_at_column": "modified",
            "fields": {},
            "properties": [],
        },
    )
    ctx = make_ctx(tmp_path, redis_url, entry)
    sync_connector(ctx, "wh")
    with ctx.store.connect() as conn:
        got = conn.execute(select(contacts.c.primary_email, contacts.c.industry).order_by(contacts.c.id)).all()
    assert [tuple(r) for r in got] == [("p1@example.com", "Software"), ("p3@example.com", "Software")]
    ctx.close()


def test_a_warehouse_row_and_a_crm_record_of_one_person_are_one_contact(tmp_path, redis_url, source):
    crm = MemoryCRM(redis_url, "memcrm")
    crm.put_contact("crm-1", email="P1@Example.com", first_name="Pat", stage="lead")
    fill(source, [person(1), person(2)])
    ctx = make_ctx(tmp_path, redis_url, wh_entry(source.url.render_as_string(hide_password=False)))
    sync_connector(ctx, "crm")
    result = sync_connector(ctx, "wh")
    assert result.created == 1  # p2 only; p1 resolved to the CRM's contact by email
    with ctx.store.connect() as conn:
        owners = conn.execute(
            select(identities.c.connector, identities.c.contact_id).where(identities.c.external_id.in_(["crm-1", "1"]))
        ).all()
        assert conn.execute(select(func.count()).select_from(contacts)).scalar_one() == 2
    assert {c for c, _ in owners} == {"crm", "wh"} and len({cid for _, cid in owners}) == 1
    crm.clear()
    ctx.close()


def test_bad_rows_are_logged_with_id_and_reason_and_the_rest_is_stored(tmp_path, redis_url, source, caplog):
    md = MetaData()
    table = Table(
        "people_text",
        md,
        Column("id", String(20)),
        Column("email", String(200)),
        Column("first_name", String(100)),
        Column("updated_at", String(40)),  # text stamps, as loaded from a CSV
    )
    md.create_all(source)
    with source.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {"id": "a", "email": "a@example.com", "first_name": "A", "updated_at": "2026-03-01T10:00:00Z"},
                {"id": None, "email": "ghost@example.com", "first_name": "G", "updated_at": "2026-03-01T10:01:00Z"},
                {"id": "b", "email": "b@example.com", "first_name": "B", "updated_at": "2026-03-01T10:02:00Z"},
                {"id": "c", "email": "c@example.com", "first_name": "C", "updated_at": "not a date"},
                {"id": "d", "email": None, "first_name": "D", "updated_at": "2026-03-01T10:03:00Z"},
                {"id": "e", "email": "bad", "first_name": "E", "updated_at": "2026-03-01T10:04:00Z"},
            ],
        )
    entry = wh_entry(
        source.url.render_as_string(hide_password=False),
        contacts={"table": "people_text", "fields": {}, "properties": []},
    )
    ctx = make_ctx(tmp_path, redis_url, entry)
    with caplog.at_level(logging.WARNING, logger="hub.pipeline.sync"):
        result = sync_connector(ctx, "wh")
    assert set(stored(ctx)[1]) == {"a", "b", "d"}  # d has an id: kept without an email
    warnings = [r.getMessage() for r in caplog.records]
    assert any("skipped record c" in w and "'not a date' is not a date" in w for w in warnings), warnings
    assert any("no id" in w and "ghost" not in w and "10:01:00" in w for w in warnings), warnings
    assert any("skipped record e" in w and "'bad' is not an email" in w for w in warnings), warnings  # as CSV import
    assert result.rejects == 3
    ctx.close()


def test_a_source_without_its_cursor_column_is_a_clear_fatal_error(tmp_path, redis_url, source):
    fill(source, [person(1)])
    entry = wh_entry(source.url.render_as_string(hide_password=False), contacts={"updated_at_column": "modified_at"})
    ctx = make_ctx(tmp_path, redis_url, entry)
    with pytest.raises(
        FatalConnectorError, match=r"table 'people' has no column 'modified_at' \(settings updated_at_column\)"
    ):
        sync_connector(ctx, "wh")
    report = ctx.connector("wh").check()
    assert not report.ok
    assert any("'modified_at'" in p and "people" in p for p in report.problems)
    ctx.close()


def test_check_passes_on_a_good_source_and_counts_rows_never_read(tmp_path, redis_url, source):
    fill(source, [person(1), person(2, updated_at=None)])
    ctx = make_ctx(tmp_path, redis_url, wh_entry(source.url.render_as_string(hide_password=False)))
    report = ctx.connector("wh").check()
    assert report.ok, report.problems
    assert report.problems == [
        "contacts: 1 rows of table 'people' have no 'updated_at' and are never read; give them a value"
    ]
    ctx.close()


def test_events_become_activities_once(tmp_path, redis_url, source):
    fill(source, [person(1), person(2)])
    md = MetaData()
    events = Table(
        "events",
        md,
        Column("event_id", String(20)),
        Column("who", String(200)),
        Column("name", String(40)),
        Column("at", String(40)),
        Column("page", String(100)),
    )
    md.create_all(source)
    with source.begin() as conn:
        conn.execute(
            events.insert(),
            [
                {
                    "event_id": "e1",
                    "who": "p1@example.com",
                    "name": "page_view",
                    "at": "2026-03-01T09:00:00Z",
                    "page": "/pricing",
                },
                {
                    "event_id": "e2",
                    "who": "P2@example.com",
                    "name": "signup",
                    "at": "2026-03-01T09:05:00Z",
                    "page": "/",
                },
                {
                    "event_id": "e3",
                    "who": "p1@example.com",
                    "name": "trial_started",
                    "at": "2026-03-01T09:06:00Z",
                    "page": None,
                },
                {
                    "event_id": "e4",
                    "who": "nobody@example.com",
                    "name": "page_view",
                    "at": "2026-03-01T09:07:00Z",
                    "page": "/",
                },
            ],
        )
    entry = wh_entry(
        source.url.render_as_string(hide_password=False),
        events={
            "table": "events",
            "id_column": "event_id",
            "contact_column": "who",
            "type_column": "name",
            "occurred_at_column": "at",
            "properties": ["page"],
            "type_map": {"signup": "form_submit"},
        },
    )
    ctx = make_ctx(tmp_path, redis_url, entry)
    first = sync_connector(ctx, "wh")
    with source.begin() as conn:  # a late event, stamped before the bookmark
        conn.execute(
            events.insert(),
            [
                {
                    "event_id": "e5",
                    "who": "p2@example.com",
                    "name": "page_view",
                    "at": "2026-03-01T08:30:00Z",
                    "page": "/late",
                }
            ],
        )
    sync_connector(ctx, "wh")
    with ctx.store.connect() as conn:
        got = conn.execute(
            select(activities.c.external_id, activities.c.type, activities.c.channel, activities.c.properties)
            .where(activities.c.source == "wh")
            .order_by(activities.c.external_id)
        ).all()
    assert [(r.external_id, r.type) for r in got] == [
        ("e1", "page_view"),
        ("e2", "form_submit"),
        ("e3", "custom"),
        ("e5", "page_view"),
    ]
    assert got[0].properties == {"page": "/pricing"} and got[0].channel == "web"
    assert got[2].properties == {"name": "trial_started"}  # what a declared event outcome reads
    assert (first.rejects, first.held) == (0, 1)  # e4: nobody has that email yet; held until someone does
    ctx.close()


def test_events_keyed_by_contact_id(tmp_path, redis_url, source):
    fill(source, [person(1)])
    with source.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE calls (id INTEGER, person INTEGER, kind VARCHAR(20), occurred_at VARCHAR(40), props TEXT)"
            )
        )
        conn.execute(
            text("""INSERT INTO calls VALUES (1, 1, 'call', '2026-03-01T09:00:00+00:00', '{"minutes": 12}')""")
        )
        conn.execute(text("INSERT INTO calls VALUES (2, 1, 'call', '2026-03-01T09:30:00+00:00', 'not json')"))
    entry = wh_entry(
        source.url.render_as_string(hide_password=False),
        events={
            "table": "calls",
            "contact_column": "person",
            "contact_key": "id",
            "type_column": "kind",
            "properties_json_column": "props",
        },
    )
    ctx = make_ctx(tmp_path, redis_url, entry)
    sync_connector(ctx, "wh")
    with ctx.store.connect() as conn:
        rows = conn.execute(select(activities.c.type, activities.c.channel, activities.c.properties)).all()
    assert [tuple(r) for r in rows] == [("call", "sales", {"minutes": 12})]  # call 2: props not JSON, rejected
    ctx.close()


def test_stamps_written_by_another_tool_page_without_loss(tmp_path, redis_url, source):
    # stamps without fractions, as most loaders write them; SQLite keeps DATETIME as that text
    with source.begin() as conn:
        conn.execute(text("CREATE TABLE loaded (id INTEGER, email VARCHAR(100), updated_at TIMESTAMP)"))
        for i in range(1, 8):
            at = "2026-03-01 10:00:00" if i <= 5 else f"2026-03-01 10:0{i}:00"
            conn.execute(text(f"INSERT INTO loaded VALUES ({i}, 'l{i}@example.com', '{at}')"))
    entry = wh_entry(
        source.url.render_as_string(hide_password=False),
        contacts={"table": "loaded", "page_size": 2, "fields": {}, "properties": []},
    )
    ctx = make_ctx(tmp_path, redis_url, entry)
    result = sync_connector(ctx, "wh")
    assert result.records == 7 and set(stored(ctx)[1]) == {str(i) for i in range(1, 8)}
    with source.begin() as conn:
        conn.execute(text("INSERT INTO loaded VALUES (8, 'l8@example.com', '2026-03-01 10:06:30')"))  # late
    again = sync_connector(ctx, "wh")
    assert again.created == 1 and len(stored(ctx)[1]) == 8
    ctx.close()


def test_a_missing_table_is_named(tmp_path, redis_url, source):
    entry = wh_entry(source.url.render_as_string(hide_password=False), contacts={"table": "peeple"})
    ctx = make_ctx(tmp_path, redis_url, entry)
    report = ctx.connector("wh").check()
    assert not report.ok and "peeple" in report.problems[0]
    with pytest.raises(FatalConnectorError, match="peeple"):
        sync_connector(ctx, "wh")
    ctx.close()
