"""`hub import events`: activities with stable ids, resolved by email or by a source's ids."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.importing import ImportOptions, MappingError, import_contacts, import_events
from hub.models import Activity, Contact, Identity
from hub.store import Store
from hub.store import contacts as contact_store
from hub.store.activities import insert_activities
from hub.store.schema import activities


@pytest.fixture
def store(store_url, tmp_path):
    s = Store(store_url, auto_migrate=True)
    people = tmp_path / "people.csv"
    people.write_text("email\n" + "".join(f"p{i}@example.com\n" for i in range(5)), encoding="utf-8")
    import_contacts(s, people, ImportOptions())
    yield s
    s.dispose()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(text, encoding="utf-8")
    return path


def stored(store):
    with store.connect() as conn:
        return conn.execute(
            select(activities.c.external_id, activities.c.type, activities.c.properties, activities.c.channel)
            .where(activities.c.source == "import")
            .order_by(activities.c.occurred_at)
        ).all()


def test_events_by_email_once_however_often_imported(tmp_path, store):
    path = write(
        tmp_path,
        "event_id,email,type,occurred_at,page\n"
        "e1,p0@example.com,page_view,2026-02-01T10:00:00Z,/pricing\n"
        "e2,P1@EXAMPLE.com,signup,2026-02-01T10:05:00Z,/\n"
        "e3,p2@example.com,Webinar,2026-02-01T10:06:00+01:00,\n"
        "e4,stranger@example.com,page_view,2026-02-01T10:07:00Z,/\n",
    )
    opts = ImportOptions(mapping={"id": "event_id"}, type_map={"signup": "form_submit"}, chunk_rows=2)
    first = import_events(store, path, opts)
    assert (first.read, first.created, first.skipped) == (4, 3, 1)
    assert [(p.row, p.id) for p in first.problems] == [(4, "e4")]
    assert "no contact known for 'stranger@example.com'" in first.problems[0].reason
    rows = stored(store)
    assert [(r.external_id, r.type, r.channel) for r in rows] == [
        ("e3", "webinar", "web"),  # 09:06 UTC
        ("e1", "page_view", "web"),
        ("e2", "form_submit", "web"),
    ]
    assert rows[1].properties == {"page": "/pricing"}
    again = import_events(store, path, opts)
    assert (again.created, again.unchanged) == (0, 3)
    assert len(stored(store)) == 3


def test_without_an_id_column_a_row_hash_is_the_id(tmp_path, store):
    row = "p0@example.com,email_open,2026-02-01T10:00:00Z\n"
    path = write(tmp_path, "email,type,occurred_at\n" + row + row + "p0@example.com,email_click,2026-02-01T10:00:00Z\n")
    first = import_events(store, path, ImportOptions(mapping={}, properties=[]))
    assert (first.created, first.skipped) == (3, 0), first.problems  # the repeated row is a second open
    assert import_events(store, path, ImportOptions(properties=[])).created == 0
    assert all(r.external_id.startswith("ev:") for r in stored(store))


@pytest.mark.parametrize("chunk_rows", [100, 2, 1])
def test_identical_rows_of_a_keyless_file_are_each_an_event_and_a_re_import_adds_none(tmp_path, store, chunk_rows):
    """Two purchases of the same record on the same day at the same price are two rows alike
    (CDNOW's purchase log has 21 such among 6,919). Keyed by what they say they were one event:
    the first import reported the second "already imported" and dropped its revenue. The n-th
    identical row is now its own event, within a chunk and across chunks, and importing the
    file again, or a re-export in another order, still adds nothing."""
    same = "p0@example.com,2026-02-01,29.33\n"
    path = write(tmp_path, "email,occurred_at,amount\n" + same + "p1@example.com,2026-02-01,5\n" + same + same)
    opts = ImportOptions(event_type="purchase", chunk_rows=chunk_rows)
    first = import_events(store, path, opts)
    assert (first.created, first.unchanged, first.skipped) == (4, 0, 0), first.problems
    assert sorted(r.properties["amount"] for r in stored(store)) == [5, 29.33, 29.33, 29.33]
    again = import_events(store, path, opts)
    assert (again.created, again.unchanged) == (0, 4), again.problems
    reordered = tmp_path / "reordered.csv"
    reordered.write_text(
        "amount,email,occurred_at\n29.33,p0@example.com,2026-02-01\n" * 3 + "5,p1@example.com,2026-02-01\n"
    )
    assert import_events(store, reordered, opts).created == 0
    more = tmp_path / "more.csv"  # a later export with a fourth such purchase adds that one
    more.write_text(path.read_text() + same)
    assert import_events(store, more, opts).created == 1


def test_bad_rows_and_duplicate_ids_across_chunks(tmp_path, store):
    path = write(
        tmp_path,
        "id,email,type,occurred_at\n"
        "a,p0@example.com,page_view,2026-02-01T10:00:00Z\n"
        "b,p0@example.com,page_view,yesterday\n"
        "c,not-an-address,page_view,2026-02-01T10:00:00Z\n"
        "a,p1@example.com,page_view,2026-02-01T11:00:00Z\n",
    )
    summary = import_events(store, path, ImportOptions(chunk_rows=3))
    got = {p.row: p.reason for p in summary.problems}
    assert got == {
        2: "occurred_at: 'yesterday' is not a date or time (use ISO 8601)",
        3: "email: 'not-an-address' is not an email",
        4: "duplicate id (an earlier row has it too)",
    }
    assert summary.created == 1


def test_events_keyed_by_a_crm_id(tmp_path, store):
    with store.begin() as conn:
        contact_store.upsert_contacts(conn, [Contact(identities=[Identity(connector="hubspot", external_id="501")])])
    path = write(tmp_path, "id,contact_id,type,occurred_at\nm1,501,meeting,2026-02-01T10:00:00Z\n")
    summary = import_events(store, path, ImportOptions(contact_key="id", contact_source="hubspot"))
    assert summary.created == 1
    assert [(r.type, r.channel) for r in stored(store)] == [("meeting", "sales")]


def test_a_missing_time_column_is_named(tmp_path, store):
    path = write(tmp_path, "email,type,when\np0@example.com,page_view,2026-02-01\n")
    with pytest.raises(MappingError, match="map the occurred_at column"):
        import_events(store, path, ImportOptions())
    r = CliRunner().invoke(app, ["import", "events", str(path), "--map", "occurred_at=wen", "--store-url", store.url])
    assert r.exit_code == 2 and "no column 'wen'" in r.output and "'when'" in r.output
    r = CliRunner().invoke(
        app, ["import", "events", str(path), "--map", "occurred_at=when", "--json", "--store-url", store.url]
    )
    assert r.exit_code == 0 and '"created": 1' in r.output


def test_imported_events_are_credited_to_the_decisions_before_them(tmp_path, store, redis_url):
    """As a sync's, the API's and `hub import segment`'s events are: a custom event goes by its
    name, so the declared `event:` outcome matches it, and a won deal adds its amount. Imported
    events were stored but never attributed, so the learner never saw them."""
    import json
    from datetime import UTC, datetime

    from hub.models import Decision
    from hub.store import decisions as decision_store
    from hub.store.schema import outcomes
    from tests.conftest import hub_config

    cfg = hub_config(
        tmp_path,
        store.url,
        redis_url,
        **{
            "decision.outcomes": [{"name": "trial_started", "event": "Trial Started"}],
            "decision.objective": {"trial_started": 25},
        },
    )
    with store.begin() as conn:
        ids = sorted(contact_store.resolve_emails(conn, ["p0@example.com", "p1@example.com"]).values())
        decision_store.insert_decisions(
            conn,
            [
                Decision(
                    contact_id=c,
                    actions=[],
                    policy="rules",
                    policy_version="1",
                    created_at=datetime(2026, 2, 1, tzinfo=UTC),
                )
                for c in ids
            ],
            "before",
        )
    path = write(
        tmp_path,
        "event_id,email,type,occurred_at,amount\n"
        "t1,p0@example.com,Trial Started,2026-02-02T10:00:00Z,\n"
        "w1,p1@example.com,opportunity_won,2026-02-03T10:00:00Z,25000\n"
        "old,p1@example.com,Trial Started,2026-01-02T10:00:00Z,\n",  # before the decision: nobody's outcome
    )
    args = ["import", "events", str(path), "--map", "id=event_id", "-c", str(cfg), "--json"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["outcomes"] == 3  # the won deal, and its opening (a won deal is an opportunity)
    with store.connect() as conn:
        credited = sorted(json.dumps(x, sort_keys=True) for x in conn.execute(select(outcomes.c.reward)).scalars())
    assert credited == [
        json.dumps({"custom": 1.0, "trial_started": 1.0}, sort_keys=True),
        json.dumps({"opportunity_created": 1.0}, sort_keys=True),
        json.dumps({"opportunity_won": 1.0, "revenue": 25000.0}, sort_keys=True),
    ]
    with store.connect() as conn:
        props = conn.execute(select(activities.c.properties).where(activities.c.external_id == "w1")).scalar_one()
    assert props == {"amount": 25000}  # a number, as an expression such as amount / 1000 needs
    again = CliRunner().invoke(app, args)  # the same file again: nothing new, nothing credited twice
    assert json.loads(again.output)["outcomes"] == 0


def test_events_of_unknown_people_are_counted_under_one_reason(tmp_path, store):
    path = write(
        tmp_path,
        "email,type,occurred_at\n"
        "stranger1@example.com,page_view,2026-02-01T10:00:00Z\n"
        "stranger2@example.com,page_view,2026-02-01T10:00:00Z\n",
    )
    summary = import_events(store, path, ImportOptions(properties=[]))
    assert summary.skipped == 2
    assert list(summary.reasons.values()) == [2], summary.reasons  # the e-mail is the row's, not the reason's
    assert "'stranger1@example.com'" in summary.problems[0].reason


def test_a_column_named_like_its_map_key_maps_by_itself(tmp_path, store):
    path = write(tmp_path, "contact,type,occurred_at\np0@example.com,page_view,2026-02-01T10:00:00Z\n")
    assert import_events(store, path, ImportOptions(properties=[])).created == 1


def test_a_file_of_won_deals_counts_each_as_an_opportunity(tmp_path, store):
    """A won deal is an opportunity (HubSpot and Salesforce open every deal before it closes):
    a file of closed deals alone left every contact with no opportunity, no pipeline and no
    `opportunity` points. A deal whose opening is in the file gets no second one."""
    path = write(
        tmp_path,
        "id,email,type,occurred_at,amount\n"
        "c1,p1@example.com,opportunity_created,2026-02-01T10:00:00Z,300\n"
        "w1,p1@example.com,opportunity_won,2026-02-09T10:00:00Z,300\n"
        "w0,p0@example.com,opportunity_won,2026-02-03T10:00:00Z,25000\n",
    )
    summary = import_events(store, path, ImportOptions(chunk_rows=2))
    assert (summary.created, summary.opportunities_opened) == (3, 1)
    assert sorted((r.external_id, r.type, r.properties.get("amount")) for r in stored(store)) == [
        ("c1", "opportunity_created", 300),
        ("w0", "opportunity_won", 25000),
        ("w0:opened", "opportunity_created", 25000),
        ("w1", "opportunity_won", 300),
    ]
    again = import_events(store, path, ImportOptions())
    assert (again.created, again.opportunities_opened, len(stored(store))) == (0, 0, 4)
    r = CliRunner().invoke(app, ["import", "events", str(path), "--store-url", store.url])
    assert r.exit_code == 0 and "opportunity openings added" not in r.output


def test_a_hub_type_written_as_words_maps_and_custom_names_are_said(tmp_path, store):
    """ "Opportunity Won" (as a CRM report or a person writes it) became a `custom` event without
    a word, so an `activity: opportunity_won` outcome never saw it; case was already forgiven,
    spaces and hyphens were not. The names kept as custom events are now listed with counts."""
    path = write(
        tmp_path,
        "id,email,type,occurred_at\n"
        "a,p0@example.com,Opportunity Won,2026-02-01T10:00:00Z\n"
        "b,p0@example.com,page-view,2026-02-01T10:00:00Z\n"
        "c,p1@example.com,Order Completed,2026-02-01T10:00:00Z\n"
        "d,p2@example.com,Order Completed,2026-02-02T10:00:00Z\n",
    )
    summary = import_events(store, path, ImportOptions(properties=[]))
    assert sorted((r.external_id, r.type) for r in stored(store) if r.external_id != "a:opened") == [
        ("a", "opportunity_won"),
        ("b", "page_view"),
        ("c", "custom"),
        ("d", "custom"),
    ]
    assert any("'Order Completed' × 2" in n for n in summary.notes), summary.notes


def test_the_events_map_help_names_the_event_keys():
    """`hub import events --help` showed the contacts' example (first_name=fname,email=mail),
    keys the events mapping refuses."""
    res = CliRunner().invoke(app, ["import", "events", "--help"], terminal_width=200)
    assert res.exit_code == 0 and "occurred_at" in res.output and "first_name=fname" not in res.output


def test_a_re_export_of_keyless_events_is_recognised_and_distinct_events_stay_distinct(tmp_path, store):
    """Without an id column an event is keyed by what it says, not how its cells are written: a
    re-export (another column order, ``T`` and ``Z`` in its stamps or another offset, ``10.00``
    for ``10``, an address in other case and with spaces, Parquet's typed cells for CSV's text)
    is the same events. Each was imported a second time before."""
    first = write(
        tmp_path,
        "email,type,occurred_at,amount,page\n"
        "p0@example.com,page_view,2024-01-05 10:00:00,,/pricing\n"
        "p1@example.com,opportunity_won,2024-01-05T11:00:00+01:00,10,\n",
    )
    assert import_events(store, first, ImportOptions()).created == 2
    again = tmp_path / "again.csv"
    again.write_text(
        "page,amount,occurred_at,type,email\n"
        "/pricing,,2024-01-05T10:00:00Z,Page View, P0@Example.COM \n"
        ",10.00,2024-01-05T10:00:00.000Z,opportunity_won,P1@EXAMPLE.com\n",
        encoding="utf-8",
    )
    summary = import_events(store, again, ImportOptions())
    assert (summary.created, summary.unchanged) == (0, 2), summary.problems
    parquet = tmp_path / "again.parquet"
    stamp = pa.array([1704448800000000] * 2, pa.timestamp("us", tz="UTC"))  # 2024-01-05 10:00 UTC
    pq.write_table(
        pa.table(
            {
                "email": ["p0@example.com", "p1@example.com"],
                "type": ["page_view", "opportunity_won"],
                "occurred_at": stamp,
                "amount": pa.array([None, 10.0]),
                "page": ["/pricing", None],
            }
        ),
        parquet,
    )
    summary = import_events(store, parquet, ImportOptions())
    assert (summary.created, summary.unchanged) == (0, 2), summary.problems
    assert len(stored(store)) == 3  # two events and the won deal's implied opening
    distinct = tmp_path / "distinct.csv"
    distinct.write_text(
        "email,type,occurred_at,amount,page\n"
        "p0@example.com,page_view,2024-01-05 10:00:01,,/pricing\n"  # a second later
        "p0@example.com,page_view,2024-01-05 10:00:00,,/pricing/\n"  # another page
        "p2@example.com,page_view,2024-01-05 10:00:00,,/pricing\n"  # another person
        "p1@example.com,opportunity_won,2024-01-05 10:00:00,10.01,\n"  # another amount
        "p1@example.com,opportunity_lost,2024-01-05 10:00:00,10,\n",  # another type
        encoding="utf-8",
    )
    assert import_events(store, distinct, ImportOptions(chunk_rows=2)).created == 5


def test_keyless_events_imported_before_keep_their_keys(tmp_path, store):
    """Events imported before keyless ids were read from parsed values kept their old id (a hash
    of the cells as written): importing the same file again adds nothing, and nothing is rekeyed."""
    path = write(tmp_path, "email,type,occurred_at\np0@example.com,email_open,2026-02-01T10:00:00Z\n")
    path_again = tmp_path / "twice.csv"  # a second open alike, written another way
    path_again.write_text(path.read_text() + "P0@example.com,email_open,2026-02-01 10:00:00\n", encoding="utf-8")
    old = "row:6ddc92a1a8120b66817d6f82a44d2c1f"  # what that row was keyed by until December 2026
    with store.begin() as conn:
        made = insert_activities(
            conn,
            [
                Activity(
                    contact_email="p0@example.com",
                    type="email_open",
                    channel="email",
                    occurred_at="2026-02-01T10:00:00Z",
                    source="import",
                    external_id=old,
                )
            ],
        )
        assert made.inserted == 1
    summary = import_events(store, path, ImportOptions(properties=[]))
    assert (summary.created, summary.unchanged) == (0, 1)
    summary = import_events(store, path_again, ImportOptions(properties=[]))  # two rows alike: two opens
    assert (summary.created, summary.unchanged) == (1, 1)
    assert import_events(store, path_again, ImportOptions(properties=[])).created == 0
    ids = sorted(r.external_id for r in stored(store))  # the old key kept, the second open numbered
    assert len(ids) == 2 and ids[1] == old and ids[0].startswith("ev:") and ids[0].endswith(":2"), ids


def test_a_file_of_one_kind_of_event_names_its_type_once(tmp_path, store):
    """A purchases export has no type column: every row is a purchase. `--type purchase` names
    them all (a custom event called "purchase", so an `event: purchase` outcome matches it),
    `--type opportunity_won` makes them a hub type; naming both a type column and `--type` is a
    usage error, and a file with neither says both ways out."""
    path = write(
        tmp_path,
        "customer,ts,amount\np0@example.com,1997-01-01,29.33\np1@example.com,1997-01-18,14.96\n",
    )
    base = ["import", "events", str(path), "--map", "contact=customer,occurred_at=ts", "--store-url", store.url]
    r = CliRunner().invoke(app, base, terminal_width=200)
    assert r.exit_code == 2 and "--type" in r.output, r.output
    r = CliRunner().invoke(app, [*base, "--type", "purchase", "--json"])
    assert r.exit_code == 0 and '"created": 2' in r.output, r.output
    rows = stored(store)
    assert [(x.type, x.properties["name"], x.properties["amount"]) for x in rows] == [
        ("custom", "purchase", 29.33),
        ("custom", "purchase", 14.96),
    ]
    again = CliRunner().invoke(app, [*base, "--type", "purchase", "--json"])
    assert again.exit_code == 0 and '"created": 0' in again.output  # the same events, keyed by what they say
    won = write(tmp_path, "customer,ts\np2@example.com,1997-02-01\n")
    r = CliRunner().invoke(
        app,
        [
            "import",
            "events",
            str(won),
            "--map",
            "contact=customer,occurred_at=ts",
            "--type",
            "Opportunity Won",
            "--store-url",
            store.url,
        ],
    )
    assert r.exit_code == 0 and "opportunity_won" in {x.type for x in stored(store)}, r.output
    typed = write(tmp_path, "email,type,occurred_at\np0@example.com,page_view,2026-02-01\n")
    r = CliRunner().invoke(app, ["import", "events", str(typed), "--type", "purchase", "--store-url", store.url])
    assert r.exit_code == 2 and "type" in r.output and "--type" in r.output, r.output
    with pytest.raises(MappingError, match="--type"):
        import_events(store, typed, ImportOptions(event_type="purchase"))


def test_a_semicolon_files_decimal_comma_amounts_are_numbers_and_a_reimport_adds_nothing(tmp_path, store):
    """CDNOW's purchase log written the European way ("29,33" in a semicolon file) was stored with
    its amount as text, so a declared outcome's `properties['amount']` counted 0 for every
    purchase. The amounts are numbers now, and importing the file again adds nothing."""
    path = write(
        tmp_path,
        "email;occurred_at;amount\np0@example.com;19970101;29,33\np1@example.com;19970118;1.234,50\n",
    )
    opts = ImportOptions(event_type="purchase")
    assert import_events(store, path, opts).created == 2
    assert sorted(r.properties["amount"] for r in stored(store)) == [29.33, 1234.5]
    assert import_events(store, path, opts).created == 0


def test_cli_a_space_aligned_file_exits_2_saying_how_to_make_it_csv(tmp_path, store):
    path = tmp_path / "CDNOW_master.txt"
    path.write_text(" customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n")
    args = ["import", "events", str(path), "--map", "contact=customer_id,occurred_at=date", "--type", "purchase"]
    result = CliRunner().invoke(app, [*args, "--store-url", store.url])
    assert result.exit_code == 2
    assert "separated by spaces" in result.output and "no column" not in result.output


def test_cli_an_empty_events_file_exits_2_and_a_header_alone_imports_0_rows(tmp_path, store):
    path = write(tmp_path, "")
    result = CliRunner().invoke(app, ["import", "events", str(path), "--store-url", store.url])
    assert result.exit_code == 2 and "events.csv is empty" in result.output, result.output
    path = write(tmp_path, "email,type,occurred_at\n")
    result = CliRunner().invoke(app, ["import", "events", str(path), "--store-url", store.url])
    assert result.exit_code == 0 and "0 rows" in result.output, result.output
    path = write(tmp_path, "email,type\n")  # no time column: named, as it is for a file with rows
    result = CliRunner().invoke(app, ["import", "events", str(path), "--store-url", store.url])
    assert result.exit_code == 2 and "occurred_at" in result.output, result.output


def test_rows_the_reader_cannot_split_after_the_last_chunk_are_counted_and_named(tmp_path, store):
    """Rows with the wrong number of fields were left out of rows read and skipped, and named only
    in a note above the table by their line."""
    path = write(
        tmp_path,
        "id,email,type,occurred_at\n"
        "a,p0@example.com,page_view,2026-02-01T10:00:00Z\n"
        "b,p0@example.com,page_view,2026-02-01T11:00:00Z,extra\n"
        "c,p0@example.com,page_view,yesterday\n"
        "d,p0@example.com,page_view,2026-02-01T12:00:00Z\n"
        "e,p0@example.com\n",
    )
    summary = import_events(store, path, ImportOptions(chunk_rows=2))
    assert {p.row: p.reason for p in summary.problems} == {
        2: "5 fields where the header has 4: 'b,p0@example.com,page_view,2026-02-01T11:00:00Z,extra'",
        3: "occurred_at: 'yesterday' is not a date or time (use ISO 8601)",
        5: "2 fields where the header has 4: 'e,p0@example.com'",
    }
    assert summary.created == 2
    assert (summary.read, summary.skipped) == (5, 3) and summary.notes == []


def test_ids_no_stored_person_has_are_explained_by_the_ids_the_source_holds(tmp_path, store):
    """CDNOW's order log writes customer ids as 0001 where its customer summary writes 1: the
    events import skipped 2,883 of 6,919 rows with "no contact known for '0001'" and nothing
    said that the people were there under 1, 2, 3."""
    people = tmp_path / "customers.csv"
    people.write_text("ID,frequency\n" + "".join(f"{i},1\n" for i in range(1, 12)), encoding="utf-8")
    import_contacts(store, people, ImportOptions(mapping={"id": "ID"}))
    path = write(tmp_path, "customer,date\n0001,19970101\n0002,19970102\n0011,19970103\n12,19970104\n")
    opts = ImportOptions(
        mapping={"contact": "customer", "occurred_at": "date"}, contact_key="id", event_type="purchase"
    )
    summary = import_events(store, path, opts)
    assert (summary.created, summary.skipped) == (0, 4)
    said = " ".join(summary.notes)
    assert "'0001'" in said and "'1'" in said and "leading zeros" in said, summary.notes
    assert "4 rows name a contact id" in said, summary.notes


def test_ids_another_source_holds_are_named_with_the_contact_source_to_give(tmp_path, store):
    with store.begin() as conn:
        contact_store.upsert_contacts(conn, [Contact(identities=[Identity(connector="hubspot", external_id="501")])])
    path = write(tmp_path, "contact_id,type,occurred_at\n501,meeting,2026-02-01T10:00:00Z\n")
    summary = import_events(store, path, ImportOptions(contact_key="id"))
    assert summary.skipped == 1
    said = " ".join(summary.notes)
    assert "--contact-source hubspot" in said, summary.notes


@pytest.mark.parametrize("name", ["events.jsonl", "events.ndjson", "events.json", "events.jsonl.gz"])
def test_cli_a_json_lines_file_exits_2_naming_the_command_that_reads_it(tmp_path, store_url, name):
    """`hub import events events.jsonl` said only "unsupported file type; use CSV or Parquet",
    though `hub import segment` reads JSON lines (Segment-spec messages) into the same store."""
    path = tmp_path / name
    path.write_text('{"type": "track", "userId": "u1", "event": "Signed Up"}\n', encoding="utf-8")
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(f"store_url: {store_url}\n")
    for kind in ("events", "contacts"):
        r = CliRunner().invoke(app, ["import", kind, str(path), "-c", str(cfg)], terminal_width=300)
        said = " ".join(r.output.split())
        assert r.exit_code == 2 and f"hub import segment {name.removesuffix('.gz')}" in said, said
        assert "CSV or Parquet" in said or "Parquet" in said, said
