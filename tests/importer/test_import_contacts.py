"""`hub import contacts` into SQLite and PostgreSQL: mapping, identity resolution, bad rows, idempotence."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from hub.cli import app
from hub.importing import ImportOptions, MappingError, chunks, import_contacts
from hub.models import Contact, Identity
from hub.store import Store
from hub.store import contacts as contact_store
from hub.store.schema import contacts, identities

HEADER = "email,first_name,sector,stage,plan,seats\n"


@pytest.fixture
def store(store_url):
    s = Store(store_url, auto_migrate=True)
    yield s
    s.dispose()


def write(tmp_path: Path, text: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def people(n: int, start: int = 0) -> str:
    return HEADER + "".join(f"p{i}@example.com,P{i},Software,lead,pro,{i % 9}\n" for i in range(start, start + n))


def count(store, table) -> int:
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


#: the typed columns of the bad-cell tests' files (employees, revenue, opt_out, updated_at)
TYPED_CELLS = ImportOptions(
    mapping={
        "company.employees": "employees",
        "company.annual_revenue": "revenue",
        "consent.email_opt_out": "opt_out",
        "updated_at": "updated_at",
    }
)


def test_import_maps_columns_and_a_second_import_changes_nothing(tmp_path, store):
    path = write(tmp_path, people(30))
    opts = ImportOptions(mapping={"company.industry": "sector", "lifecycle_stage": "stage"}, chunk_rows=7)
    first = import_contacts(store, path, opts)
    assert (first.read, first.created, first.skipped, first.chunks) == (30, 30, 0, 5)
    with store.connect() as conn:
        row = conn.execute(select(contacts).where(contacts.c.primary_email == "p3@example.com")).one()
    assert (row.first_name, row.industry, row.lifecycle_stage) == ("P3", "Software", "lead")
    assert row.properties == {"plan": "pro", "seats": 3}  # unmapped columns are properties (a plain number typed)

    again = import_contacts(store, path, opts)
    assert (again.created, again.updated, again.matched, again.unchanged) == (0, 0, 0, 30)
    assert count(store, contacts) == 30 and count(store, identities) == 30


def test_people_already_synced_from_a_crm_are_matched_by_email(tmp_path, store):
    with store.begin() as conn:
        contact_store.upsert_contacts(
            conn,
            [
                Contact(
                    identities=[Identity(connector="hubspot", external_id="501")],
                    emails=["P1@Example.COM"],
                    first_name="Pat",
                )
            ],
        )
    summary = import_contacts(store, write(tmp_path, people(3)), ImportOptions())
    assert (summary.created, summary.matched) == (2, 1)
    assert count(store, contacts) == 3
    with store.connect() as conn:
        owners = conn.execute(
            select(identities.c.connector, identities.c.contact_id)
            .join(contacts, contacts.c.id == identities.c.contact_id)
            .where(contacts.c.primary_email == "p1@example.com")
        ).all()
    assert {c for c, _ in owners} == {"hubspot", "import"}


def test_bad_rows_are_reported_with_their_row_number_and_the_rest_is_imported(tmp_path, store):
    text = (
        "id,email,first_name,updated_at,employees\n"
        "1,a@example.com,A,2026-01-02T10:00:00Z,12\n"
        "2,,B,2026-01-02,5\n"  # no email, but an id: kept
        ",c@example.com,C,2026-01-02,5\n"  # no id
        "4,d@example.com,D,last tuesday,5\n"  # bad date
        "5,e@example.com,E,2026-01-02,lots\n"  # bad number
        "1,f@example.com,F,2026-01-02,5\n"  # id 1 again, same chunk
        "7,g@example.com,G,2026-01-02,5\n"
        "8,i@example.com,I,2026-01-02,1.234\n"  # a European thousand, not 1
        "2,h@example.com,H,2026-01-02,5\n"  # id 2 again, a later chunk
    )
    summary = import_contacts(store, write(tmp_path, text), ImportOptions(mapping={"id": "id"}, chunk_rows=6))
    got = {(p.row, p.id): p.reason for p in summary.problems}
    assert got == {
        (3, None): "id: no id",
        (4, "4"): "updated_at: 'last tuesday' is not a date or time (use ISO 8601)",
        (5, "5"): "employees: 'lots' is not a number",
        (6, "1"): "duplicate id '1' (also row 1)",
        (8, "8"): "employees: '1.234' is not a whole number",
        (9, "2"): "duplicate id '2' (an earlier row has it too)",
    }
    assert (summary.read, summary.created, summary.skipped) == (9, 3, 6)
    with store.connect() as conn:
        stored = set(conn.execute(select(identities.c.external_id).where(identities.c.connector == "import")).scalars())
    assert stored == {"1", "2", "7"}


def test_no_email_column_and_no_id_is_a_usage_error(tmp_path, store):
    path = write(tmp_path, "mail,first_name\na@example.com,A\n")
    with pytest.raises(MappingError, match="no 'email' column"):
        import_contacts(store, path, ImportOptions())
    assert import_contacts(store, path, ImportOptions(mapping={"email": "mail"})).created == 1


def test_parquet_with_typed_columns(tmp_path, store):
    path = tmp_path / "people.parquet"
    pq.write_table(
        pa.table(
            {
                "email": ["a@example.com", "b@example.com"],
                "employees": pa.array([40, None], pa.int64()),
                "updated_at": pa.array([1767225600_000_000, None], pa.timestamp("us", tz="UTC")),
            }
        ),
        path,
    )
    summary = import_contacts(store, path, ImportOptions())
    assert (summary.created, summary.skipped) == (2, 0)
    with store.connect() as conn:
        got = dict(conn.execute(select(contacts.c.primary_email, contacts.c.employees)).all())
    assert got == {"a@example.com": 40, "b@example.com": None}


def test_a_large_file_streams_in_chunks(tmp_path):
    n = 200_000
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("email,first_name\n")
        f.writelines(f"u{i}@example.com,F{i}\n" for i in range(n))
    seen, firsts, biggest = 0, [], 0
    for chunk in chunks(path, ["email", "first_name"], 25_000):
        assert chunk.rows[0]["email"] == f"u{chunk.first_row}@example.com"  # rows line up with numbers
        seen += len(chunk.rows)
        firsts.append(chunk.first_row)
        biggest = max(biggest, len(chunk.rows))
    assert seen == n and biggest == 25_000
    assert firsts == list(range(0, n, 25_000))


# -- the command ------------------------------------------------------------------------------
def cli(*args: str):
    return CliRunner().invoke(app, ["import", *args])


def test_cli_a_misspelled_column_exits_2_naming_it(tmp_path, store, store_url):
    path = write(tmp_path, people(2))
    r = cli("contacts", str(path), "--map", "company.industry=sectr", "--store-url", store_url)
    assert r.exit_code == 2
    assert "no column 'sectr'" in r.output and "did you mean 'sector'" in r.output
    r = cli("contacts", str(path), "--map", "industry=sector", "--store-url", store_url)
    assert r.exit_code == 2 and "did you mean company.industry" in r.output


def test_cli_summary_as_json_and_an_empty_file(tmp_path, store, store_url):
    path = write(tmp_path, people(4) + ",Nobody,Retail,lead,free,1\n")
    r = cli("contacts", str(path), "--json", "--store-url", store_url)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert (data["read"], data["created"], data["skipped"]) == (5, 4, 1)
    assert data["problems"] == [{"row": 5, "id": None, "reason": "email: no email"}]


@pytest.mark.parametrize("body", ["", "\n \n"])
def test_cli_a_file_without_even_a_header_exits_2_naming_it(tmp_path, store, store_url, body):
    """An empty file is a broken export (the header is missing), not an import of nothing: it
    exited 0 with "Nothing to import"."""
    empty = write(tmp_path, body, "people.csv")
    r = cli("contacts", str(empty), "--store-url", store_url)
    assert r.exit_code == 2, r.output
    assert "people.csv is empty" in r.output and "header" in r.output


def test_cli_a_header_without_rows_imports_0_rows_and_says_so(tmp_path, store, store_url):
    headed = write(tmp_path, HEADER, "headed.csv")
    r = cli("contacts", str(headed), "--store-url", store_url)
    assert r.exit_code == 0, r.output
    assert "0 rows" in r.output and "headed.csv" in r.output and "Nothing to import" not in r.output
    r = cli("contacts", str(headed), "--store-url", store_url, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["read"] == 0
    # its header is still checked against the mapping: a misspelled column is named, as with rows
    r = cli("contacts", str(headed), "--map", "company.industry=sectr", "--store-url", store_url)
    assert r.exit_code == 2 and "no column 'sectr'" in r.output


def test_cli_refuses_a_source_named_like_a_configured_connector(tmp_path, store, store_url, redis_url):
    from tests.conftest import hub_config

    cfg = hub_config(tmp_path, store_url, redis_url)  # has a connector named crm
    path = write(tmp_path, people(2))
    r = cli("contacts", str(path), "--source", "crm", "-c", str(cfg))
    assert r.exit_code == 2 and "'crm' is a configured connector" in r.output
    r = cli("contacts", str(path), "-c", str(cfg), "--json")
    assert r.exit_code == 0 and '"created": 2' in r.output


def test_a_row_the_reader_cannot_split_is_noted_and_the_rest_imported(tmp_path, store):
    path = write(tmp_path, "email,first_name\na@example.com,A\nb@example.com,B,extra,fields\nc@example.com,C\n")
    summary = import_contacts(store, path, ImportOptions())
    assert summary.created == 2
    assert [(p.row, p.reason) for p in summary.problems] == [
        (2, "4 fields where the header has 2: 'b@example.com,B,extra,fields'")
    ]


def test_match_id_joins_the_person_holding_a_crm_id(tmp_path, store, store_url):
    with store.begin() as conn:
        contact_store.upsert_contacts(
            conn,
            [
                Contact(
                    identities=[Identity(connector="salesforce", object_type="lead", external_id="00Q1")],
                    emails=["x@corp.com"],
                ),
                Contact(
                    identities=[Identity(connector="salesforce", object_type="lead", external_id="00Q2")],
                    emails=["y@corp.com"],
                ),
            ],
        )
    path = write(
        tmp_path,
        "sf_id,email,plan\n"
        "00Q1,,gold\n"  # no email: joins the lead by its id
        "00Q2,other@corp.com,silver\n"  # another email, same person per the CRM id
        "00Q9,new@corp.com,bronze\n",  # no such lead: a new person
    )
    r = cli(
        "contacts", str(path), "--id-col", "sf_id", "--match-id", "salesforce=sf_id", "--json", "--store-url", store_url
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert (data["created"], data["matched"]) == (1, 2)
    assert count(store, contacts) == 3
    with store.connect() as conn:
        by_lead = dict(
            conn.execute(
                select(identities.c.external_id, contacts.c.properties)
                .join(contacts, contacts.c.id == identities.c.contact_id)
                .where(identities.c.connector == "salesforce")
            ).all()
        )
    assert by_lead == {"00Q1": {"plan": "gold"}, "00Q2": {"plan": "silver"}}
    r = cli("contacts", str(path), "--match-id", "salesforce=sf_idd", "--store-url", store_url)
    assert r.exit_code == 2 and "did you mean 'sf_id'" in r.output


def test_a_row_refused_for_its_over_long_id_keeps_its_row_and_counts(tmp_path, store):
    """The store cut a refused id to 120 characters, so the importer could not match it to its
    row: the summary said "row 0", one record matched and -1 updated."""
    long_email = "x" * 300 + "@example.com"
    text = "email,first_name\na@example.com,A\nb@example.com,B\n" + f"{long_email},X\nc@example.com,C\n"
    summary = import_contacts(store, write(tmp_path, text), ImportOptions())
    assert (summary.created, summary.updated, summary.matched, summary.skipped) == (3, 0, 0, 1)
    ((problem),) = summary.problems
    assert problem.row == 3 and problem.id == long_email[:120] and "at most 120" in problem.reason


def test_a_row_keyed_by_id_with_a_text_that_is_not_an_email_is_rejected_with_its_id(tmp_path, store):
    """It was stored without an email and not reported, while a row keyed by that email was."""
    text = "id,email,first_name\n1,a@example.com,A\n2,bad,B\n3,,C\n"
    summary = import_contacts(store, write(tmp_path, text), ImportOptions(mapping={"id": "id"}))
    assert {(p.row, p.id): p.reason for p in summary.problems} == {(2, "2"): "email: 'bad' is not an email"}
    assert (summary.created, summary.skipped) == (2, 1)


def test_missing_markers_are_blank_and_an_infinite_number_is_refused(tmp_path, store):
    """ "inf" (or a number past the float range) was stored as no revenue at all without a word;
    it is now a named bad cell. NA, NaN and null (R's and many exports' blanks) stay blank
    cells that keep their row."""
    text = (
        "email,employees,revenue,opt_out,updated_at\n"
        "a@example.com,NA,NaN,N/A,null\n"
        "b@example.com,12,inf,no,2026-01-02\n"
        "c@example.com,null,1e400,yes,NA\n"
    )
    opts = TYPED_CELLS
    summary = import_contacts(store, write(tmp_path, text), opts)
    assert {p.row: p.reason for p in summary.problems} == {
        2: "revenue: 'inf' is not a finite number",
        3: "revenue: '1e400' is not a finite number",
    }
    with store.connect() as conn:
        row = conn.execute(select(contacts).where(contacts.c.primary_email == "a@example.com")).one()
    assert (row.employees, row.annual_revenue, row.email_opt_out) == (None, None, False)


def test_number_and_true_false_properties_are_stored_typed_so_rules_can_compare_them(tmp_path, store):
    """Imported contact properties stayed text: a rule `properties['ltv'] > 50` compared "56.92"
    with 50 and was false for everyone, and `properties['vip']` was true for "FALSE" (a
    non-empty string). Plain decimals and true/false now read as a number and a boolean, as an
    event's property cells do; codes ("02134") and "1,200" stay text."""
    from hub.expressions import Expression

    text = 'email,ltv,vip,zip,code\na@example.com,56.92,TRUE,02134,"1,200"\nb@example.com,7,FALSE,,x\n'
    import_contacts(store, write(tmp_path, text), ImportOptions())
    with store.connect() as conn:
        props = dict(conn.execute(select(contacts.c.primary_email, contacts.c.properties)).all())
    assert props["a@example.com"] == {"ltv": 56.92, "vip": True, "zip": "02134", "code": "1,200"}
    rule = Expression("properties['ltv'] > 50 and properties['vip']")
    assert [rule.evaluate({"properties": props[e]}) for e in ("a@example.com", "b@example.com")] == [True, False]


def test_a_row_with_several_bad_cells_names_each_of_them(tmp_path, store):
    """Only the first bad cell of a row was named: fixed and imported again, the row failed on
    the next one. Every bad cell of the row is now in its reason, as a CRM's import error file
    lists them."""
    text = "email,employees,revenue,opt_out,updated_at\na@example.com,lots,$5,maybe,last tuesday\n"
    opts = TYPED_CELLS
    (problem,) = import_contacts(store, write(tmp_path, text), opts).problems
    assert problem.reason == (
        "employees: 'lots' is not a number; revenue: '$5' is not a number; "
        "opt_out: 'maybe' is not true or false; updated_at: 'last tuesday' is not a date or time (use ISO 8601)"
    )


def test_a_directory_given_as_the_file_is_called_a_directory(tmp_path, store_url):
    """`hub import contacts /some/dir` said "no such file" of a directory that is there."""
    res = CliRunner().invoke(app, ["import", "contacts", str(tmp_path), "--store-url", store_url])
    assert res.exit_code == 2 and "a directory, not a file" in res.output


def test_a_semicolon_files_decimal_commas_are_numbers(tmp_path, store):
    """A European export (semicolons, decimal commas) kept "29,33" and "1.234,50" as text, so a
    rule's `properties['spend'] > 50` was false for everyone, though hub/tables.py reads such a
    column as numbers. Now the importer reads them so too; once a column has shown a comma, a later
    chunk's "1.200" is 1200 (a thousand in that file), and codes with a leading zero stay text."""
    text = "email;spend;zip\na@example.com;1.234,50;02134\nb@example.com;29,33;01001\nc@example.com;1.200;\n"
    import_contacts(store, write(tmp_path, text), ImportOptions(chunk_rows=2))
    with store.connect() as conn:
        props = dict(conn.execute(select(contacts.c.primary_email, contacts.c.properties)).all())
    assert props["a@example.com"] == {"spend": 1234.5, "zip": "02134"}
    assert props["b@example.com"] == {"spend": 29.33, "zip": "01001"}
    assert props["c@example.com"] == {"spend": 1200}


@pytest.mark.parametrize("chunk_rows", [2, 5000])
def test_a_row_the_reader_cannot_split_keeps_the_numbers_of_the_rows_after_it_and_counts(tmp_path, store, chunk_rows):
    """After a row with the wrong number of fields, every later bad row was named by the number it
    would have without that row (row 5 for the sixth row after the header: the user edited the
    wrong line), and the summary's rows read and skipped left the split row out (read 6, skipped 4
    of a file of 8 rows, 6 of them bad), while a note above the table named it by its line."""
    text = (
        "email,first_name,updated_at,ltv\n"
        "ann@x.example,Ann,2026-01-01,10\n"  # row 1
        "not-an-email,Bob,2026-01-02,5\n"  # row 2
        "dan@x.example,Dan,2026-01-03,4,extra\n"  # row 3: five fields
        'eve@x.example,"Eve\nSmith",2026-01-03,1\n'  # row 4, over two lines
        "ann@x.example,Ann2,2026-01-05,11\n"  # row 5: ann again
        ",Nobody,2026-01-01,1\n"  # row 6
        "fay@x.example\n"  # row 7: one field
        "gus@x.example,Gus,someday,1\n"  # row 8
    )
    summary = import_contacts(store, write(tmp_path, text), ImportOptions(chunk_rows=chunk_rows))
    got = {p.row: p.reason for p in summary.problems}
    assert got.pop(5).startswith("duplicate id 'ann@x.example'"), got  # "(also row 1)" in one chunk
    assert got == {
        2: "email: 'not-an-email' is not an email",
        3: "5 fields where the header has 4: 'dan@x.example,Dan,2026-01-03,4,extra'",
        6: "email: no email",
        7: "1 fields where the header has 4: 'fay@x.example'",
        8: "updated_at: 'someday' is not a date or time (use ISO 8601)",
    }, summary.problems
    assert (summary.read, summary.created, summary.skipped) == (8, 2, 6)
    assert not any("fields" in n for n in summary.notes), summary.notes  # said once, as a skipped row


def test_cli_a_row_the_reader_cannot_split_is_said_once(tmp_path, store, store_url):
    path = write(tmp_path, "email,first_name\na@example.com,A\nb@example.com,B,extra\nc@example.com,C\n")
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(f"store_url: {store_url}\n")
    r = CliRunner().invoke(app, ["import", "contacts", str(path), "-c", str(cfg)], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert r.output.count("b@example.com,B,extra") == 1, r.output
    assert "row 2" in r.output and "3 fields where the header has 2" in r.output, r.output
