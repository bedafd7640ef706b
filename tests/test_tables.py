"""hub.tables: real files on disk, read typed, with errors that name what to fix."""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import DataError, HubError
from hub.tables import Table, count_rows, file_size, iter_table, read_table, require_unique, sniff_delimiter


def write(path, text: str | bytes):
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


@pytest.mark.parametrize(
    ("delimiter", "name"),
    [(",", "a.csv"), (";", "a.csv"), ("\t", "a.tsv"), ("\t", "a.txt"), ("|", "a.txt")],
)
def test_delimiters_are_sniffed(tmp_path, delimiter, name):
    rows = [["id", "plan", "seats"], ["1", "pro", "3"], ["2", "free", "10"]]
    path = write(tmp_path / name, "\n".join(delimiter.join(r) for r in rows) + "\n")
    table = read_table(path)
    assert table.names == ["id", "plan", "seats"]
    assert table.kinds == {"id": "numeric", "plan": "categorical", "seats": "numeric"}
    assert table.column("seats").tolist() == [3.0, 10.0]
    assert table.column("plan").tolist() == ["pro", "free"]


def test_semicolon_file_with_quoted_header_and_quoted_delimiters(tmp_path):
    path = write(
        tmp_path / "export.csv",
        '"Company";"Note";"Revenue"\n"Acme; Inc";"said ""hi""\nthen left";"12.5"\n"Beta, Ltd";"";"7"\n',
    )
    table = read_table(path)
    assert table.names == ["Company", "Note", "Revenue"]
    assert table.column("Company").tolist() == ["Acme; Inc", "Beta, Ltd"]
    assert table.column("Note").tolist() == ['said "hi"\nthen left', None]
    assert table.column("Revenue").tolist() == [12.5, 7.0]


def test_sniffer_prefers_the_delimiter_that_splits_consistently():
    assert sniff_delimiter("a,b;c\n1,2;3\n4,5;6\n") in (",", ";")
    assert sniff_delimiter("name|city, state|zip\nx|Austin, TX|7\n") == "|"
    assert sniff_delimiter("single\n1\n2\n") == ","


def test_bom_is_dropped(tmp_path):
    path = write(tmp_path / "bom.csv", "\ufeffemail,score\na@x.com,1.5\n")
    assert read_table(path).names == ["email", "score"]


def test_cp1252_bytes_are_transcoded_and_the_first_bad_line_named(tmp_path, caplog):
    body = "name,city\nJosé,Zürich\n".encode() + "Müller,Köln – Süd\n".encode("cp1252") + b"Ann,Paris\n"
    path = write(tmp_path / "mixed.csv", body)
    with caplog.at_level(logging.WARNING, logger="hub.tables"):
        table = read_table(path)
    assert table.column("name").tolist() == ["José", "Müller", "Ann"]
    assert table.column("city").tolist() == ["Zürich", "Köln – Süd", "Paris"]
    assert any("line 3" in note for note in table.notes)
    assert "line 3" in caplog.text


def test_byte_undefined_in_cp1252_falls_back_to_latin1(tmp_path):
    path = write(tmp_path / "odd.csv", b"a,b\nx\x81y,1\n")
    assert read_table(path).column("a").tolist() == ["x\x81y"]


def test_gzip_csv(tmp_path):
    path = tmp_path / "leads.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("id;won\n1;yes\n2;no\n3;\n")
    table = read_table(path)
    assert table.kinds["won"] == "boolean"
    assert np.array_equal(table.column("won"), [1.0, 0.0, np.nan], equal_nan=True)
    assert count_rows(path) == 3


def test_parquet_round_trip_keeps_types_and_infers_text(tmp_path):
    path = tmp_path / "t.parquet"
    stamps = pa.array([1_700_000_000_000_000, None, 1_700_086_400_000_000], pa.timestamp("us", tz="UTC"))
    pq.write_table(
        pa.table(
            {
                "n": pa.array([1, None, 3], pa.int64()),
                "flag": pa.array([True, False, None]),
                "when": stamps,
                "plan": pa.array(["pro", "N/A", "free"]),
                "answer": pa.array(["yes", "no", "YES"]),
            }
        ),
        path,
    )
    table = read_table(path)
    assert table.kinds == {
        "n": "numeric",
        "flag": "boolean",
        "when": "date",
        "plan": "categorical",
        "answer": "boolean",
    }
    assert np.array_equal(table.column("n"), [1.0, np.nan, 3.0], equal_nan=True)
    assert np.array_equal(table.column("flag"), [1.0, 0.0, np.nan], equal_nan=True)
    assert table.column("when")[0] == np.datetime64("2023-11-14T22:13:20", "us")
    assert np.isnat(table.column("when")[1])
    assert table.column("plan").tolist() == ["pro", None, "free"]
    assert count_rows(path) == 3
    assert read_table(path, ["plan", "n"]).names == ["plan", "n"]


def test_parquet_declared_type_overrides_stored_type(tmp_path):
    path = tmp_path / "t.pq"
    pq.write_table(pa.table({"zip": pa.array([2134, 90210])}), path)
    assert read_table(path, types={"zip": "categorical"}).column("zip").tolist() == ["2134", "90210"]


def test_empty_file_and_whitespace_only_file(tmp_path):
    for body in (b"", b"\n\n  \n", b"\xef\xbb\xbf"):
        path = write(tmp_path / "empty.csv", body)
        with pytest.raises(DataError, match="empty.csv is empty"):
            read_table(path)


def test_header_only(tmp_path):
    path = write(tmp_path / "h.csv", "a,b\n")
    with pytest.raises(DataError, match=r"h.csv has columns \(a, b\) but no rows"):
        read_table(path)
    with pytest.raises(DataError, match="but no rows"):
        list(iter_table(path))


def test_duplicate_header_names(tmp_path):
    path = write(tmp_path / "d.csv", "id,email,id\n1,a,2\n")
    with pytest.raises(DataError, match=r"duplicate column names: 'id' at positions 1, 3"):
        read_table(path)


def test_misspelled_column_gets_a_suggestion(tmp_path):
    path = write(tmp_path / "data.csv", "rewards,plan\n1,a\n")
    with pytest.raises(DataError) as error:
        read_table(path, ["reward"])
    assert str(error.value) == "column 'reward' not in data.csv; did you mean 'rewards'? columns: rewards, plan"
    assert isinstance(error.value, HubError)
    table = read_table(path)
    with pytest.raises(DataError, match="did you mean 'plan'"):
        table.column("Plan")


def test_declared_type_that_does_not_fit_names_column_line_and_value(tmp_path):
    path = write(tmp_path / "data.csv", "id,seats\n1,3\n2,4\n3,lots\n4,5\n")
    with pytest.raises(DataError) as error:
        read_table(path, types={"seats": "numeric"})
    message = str(error.value)
    assert "'seats'" in message and "line 4" in message and "'lots'" in message
    assert read_table(path).kinds["seats"] == "categorical"


def test_declared_unknown_type_and_unknown_declared_column(tmp_path):
    path = write(tmp_path / "data.csv", "id,seats\n1,3\n")
    with pytest.raises(DataError, match="'integer' for column 'seats' is not one of"):
        read_table(path, types={"seats": "integer"})
    with pytest.raises(DataError, match="did you mean 'seats'"):
        read_table(path, types={"seat": "numeric"})


def test_unsupported_extension(tmp_path):
    path = write(tmp_path / "data.xlsx", "x")
    with pytest.raises(DataError, match="unsupported file type"):
        read_table(path)


def test_booleans_dates_and_missing_markers(tmp_path):
    path = write(
        tmp_path / "data.csv",
        "opted,signup,score,segment\n"
        "Yes,2024-03-01,1.5,unknown\n"
        "no,2024-03-02T12:30:00Z,NaN,a\n"
        "Y,2024-03-02T14:30:00+02:00,null,None\n"
        "N/A,,  N/A ,NA\n"
        "f,2024-03-04 08:00,-2e1,\n",
    )
    table = read_table(path)
    assert table.kinds == {"opted": "boolean", "signup": "date", "score": "numeric", "segment": "categorical"}
    assert np.array_equal(table.column("opted"), [1, 0, 1, np.nan, 0], equal_nan=True)
    signup = table.column("signup")
    assert signup.dtype == np.dtype("datetime64[us]")
    assert signup[1] == signup[2] == np.datetime64("2024-03-02T12:30")
    assert np.isnat(signup[3]) and signup[4] == np.datetime64("2024-03-04T08:00")
    assert np.array_equal(table.column("score"), [1.5, np.nan, np.nan, np.nan, -20.0], equal_nan=True)
    assert table.column("segment").tolist() == ["unknown", "a", None, None, None]


def test_long_free_text_is_text(tmp_path):
    notes = [f"Customer {i} asked about the enterprise plan and wants a demo next week" for i in range(5)]
    path = write(tmp_path / "n.csv", "id,notes\n" + "".join(f'{i},"{n}"\n' for i, n in enumerate(notes)))
    assert read_table(path).kinds["notes"] == "text"


def test_impossible_date_is_named_when_declared(tmp_path):
    path = write(tmp_path / "d.csv", "when\n2024-02-28\n2024-02-30\n")
    with pytest.raises(DataError, match=r"line 3 has '2024-02-30'"):
        read_table(path, types={"when": "date"})
    assert read_table(path).kinds["when"] == "categorical"


def test_rows_with_wrong_field_count_are_skipped_and_noted(tmp_path):
    path = write(tmp_path / "r.csv", "a,b\n1,2\n3,4,5\n6,7\n")
    table = read_table(path)
    assert table.column("a").tolist() == [1.0, 6.0]
    assert any("skipped" in n and "3 fields" in n for n in table.notes)


def test_iter_table_streams_in_chunks_and_reports_progress(tmp_path):
    n = 25_000
    lines = "".join(f"{i},{'pro' if i % 3 else 'free'},{i * 0.5}\n" for i in range(n))
    path = write(tmp_path / "big.csv", "id,plan,amount\n" + lines)
    chunks = list(iter_table(path, chunk_rows=10_000))
    assert [c.n_rows for c in chunks] == [10_000, 10_000, 5_000]
    assert [c.first_row for c in chunks] == [0, 10_000, 20_000]
    assert all(c.kinds == chunks[0].kinds for c in chunks)
    assert np.array_equal(np.concatenate([c.column("id") for c in chunks]), np.arange(n))
    assert chunks[-1].bytes_read == chunks[-1].bytes_total == file_size(path)
    assert 0 < chunks[0].bytes_read <= file_size(path)
    assert count_rows(path) == n


def test_iter_table_holds_kinds_from_first_chunk_and_names_a_later_misfit(tmp_path):
    path = write(tmp_path / "late.csv", "id,seats\n" + "".join(f"{i},{i}\n" for i in range(10)) + "10,many\n")
    chunks = iter_table(path, chunk_rows=5)
    assert next(chunks).kinds["seats"] == "numeric"
    next(chunks)
    with pytest.raises(DataError, match=r"'seats'.*inferred from the first rows.*line 12 has 'many'"):
        next(chunks)
    chunks = list(iter_table(path, chunk_rows=5, types={"seats": "categorical"}))
    assert chunks[-1].column("seats").tolist() == ["many"]


def test_require_unique_names_value_and_lines(tmp_path):
    path = write(tmp_path / "ids.csv", "id,x\n7,a\n8,b\n7,c\n9,d\n8,e\n")
    table = read_table(path)
    with pytest.raises(DataError, match=r"'id' in ids.csv must be unique but 7 appears 2 times \(line 2, line 4\)"):
        require_unique(table, "id")
    require_unique(table, "x")


def test_table_select_and_mapping():
    table = Table(
        {"a": np.array([1.0, 2.0]), "b": np.array(["x", "y"], dtype=object)}, {"a": "numeric", "b": "categorical"}
    )
    assert dict(table.select(np.array([False, True])).items())["b"].tolist() == ["y"]
    assert list(table) == ["a", "b"] and len(table) == 2 and table.n_rows == 2


def test_excel_unicode_text_utf16_tab_separated(tmp_path):
    path = write(tmp_path / "export.txt", "Name\tCity\tSeats\nJosé\tKöln\t3\nAnn\tParis\t\n".encode("utf-16"))
    table = read_table(path)
    assert table.names == ["Name", "City", "Seats"]
    assert table.column("City").tolist() == ["Köln", "Paris"]
    assert np.array_equal(table.column("Seats"), [3.0, np.nan], equal_nan=True)


def test_crlf_line_endings(tmp_path):
    path = write(tmp_path / "w.csv", "a,b\r\n1,x\r\n2,y\r\n")
    table = read_table(path)
    assert table.column("b").tolist() == ["x", "y"] and table.column("a").tolist() == [1.0, 2.0]


def test_blank_lines_before_the_header_and_a_header_spanning_lines(tmp_path):
    path = write(tmp_path / "b.csv", '\n\n"first\nname",n\nAnn,1\nBo,x\n')
    table = read_table(path)
    assert table.names == ["first\nname", "n"] and table.column("first\nname").tolist() == ["Ann", "Bo"]
    with pytest.raises(DataError, match="line 6 has 'x'"):
        read_table(path, types={"n": "numeric"})


def test_parquet_misfits_are_named_by_row(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"n": ["1", "2", "three"]}), path)
    with pytest.raises(DataError, match="row 3 has 'three'"):
        read_table(path, types={"n": "numeric"})


def test_numbers_with_leading_zeros_are_codes(tmp_path):
    path = write(tmp_path / "z.csv", "zip,n\n02134,1\n90210,2\n")
    table = read_table(path)
    assert table.kinds["zip"] == "categorical"
    assert table.column("zip").tolist() == ["02134", "90210"]


def test_truncated_gzip_is_a_clear_error(tmp_path):
    good = gzip.compress(("a,b\n" + "".join(f"{i},x{i}\n" for i in range(50_000))).encode())
    path = write(tmp_path / "cut.csv.gz", good[: len(good) // 2])
    with pytest.raises(DataError, match=r"cut.csv.gz cannot be read .*complete, valid file"):
        read_table(path)


def test_skipped_row_names_its_line(tmp_path):
    path = write(tmp_path / "r.csv", "a,b\n1,2\n3,4,5\n6,7\n")
    assert any("line 3" in note for note in read_table(path).notes)


def test_parquet_streams_in_chunks_with_progress(tmp_path):
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"x": np.arange(100_000, dtype=np.float64)}), path, row_group_size=30_000)
    chunks = list(iter_table(path, chunk_rows=40_000))
    assert [c.n_rows for c in chunks] == [40_000, 40_000, 20_000]
    assert chunks[-1].column("x")[-1] == 99_999
    progress = [c.bytes_read for c in chunks]
    assert progress == sorted(progress) and progress[-1] == file_size(path)


def test_semicolon_file_with_decimal_commas(tmp_path):
    path = write(tmp_path / "eu.csv", "Kunde;Umsatz;Anteil;Liste\nA;1.234,50;0,5;1,2\nB;7;NA;3,4,5\n")
    table = read_table(path)
    assert table.kinds["Umsatz"] == "numeric" and table.column("Umsatz").tolist() == [1234.5, 7.0]
    assert np.array_equal(table.column("Anteil"), [0.5, np.nan], equal_nan=True)
    assert table.kinds["Liste"] == "categorical"  # "3,4,5" is not a number
    comma_file = write(tmp_path / "us.csv", 'a,b\n1,"2,5"\n')
    assert read_table(comma_file).kinds["b"] == "categorical"  # only semicolon files use decimal commas


def test_blank_header_cell_gets_a_name(tmp_path):
    path = write(tmp_path / "pandas.csv", ",plan\n0,pro\n1,free\n")
    assert read_table(path).names == ["column_1", "plan"]


def test_many_bad_rows_are_counted_not_listed(tmp_path):
    path = write(tmp_path / "bad.csv", "a,b\n" + "1,2\n" * 5 + "1,2,3\n" * 40)
    table = read_table(path)
    assert table.n_rows == 5
    assert len(table.notes) == 11 and "skipped 40 rows" in table.notes[-1]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.text(alphabet=',;\t|"\n\r aéxNA01-:.T\ufeff', max_size=200).map(str.encode),
        st.text(alphabet=',;"\nabcé01', max_size=200).map(lambda t: t.encode("cp1252")),
    ),
    suffix=st.sampled_from([".csv", ".tsv", ".csv.gz", ".parquet"]),
)
def test_arbitrary_bytes_are_read_or_refused_with_a_data_error(tmp_path, body, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(gzip.compress(body) if suffix == ".csv.gz" else body)
    try:
        table = read_table(path)
    except DataError:
        return
    assert table.n_rows >= 1 and len(table.names) == len(set(table.names))


def test_short_distinct_sentences_are_text_but_repeated_phrases_are_not(tmp_path):
    sentences = [f"call me back on day {i}" for i in range(10)]
    repeated = ["asked for a demo call"] * 5 + ["wants to hear more"] * 5
    path = write(
        tmp_path / "s.csv", "said,reason\n" + "".join(f"{a},{b}\n" for a, b in zip(sentences, repeated, strict=True))
    )
    assert read_table(path).kinds == {"said": "text", "reason": "categorical"}


def test_docstring_examples_run():
    import doctest

    import hub.cells
    import hub.tables
    import hub.textfile

    for module in (hub.cells, hub.tables, hub.textfile):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


def test_every_row_with_the_wrong_field_count_is_explained(tmp_path):
    path = write(tmp_path / "trail.csv", "a,b\n1,2,\n3,4,\n")
    with pytest.raises(DataError, match=r"no row of trail.csv has the header's 2 fields \(a, b\); all 2 were skipped"):
        read_table(path)


def test_a_file_read_twice_warns_of_its_cp1252_bytes_once(tmp_path, caplog):
    """`hub import` reads the header, then the rows: the same warning was logged twice, beside
    the summary's note saying it a third time. Each read's notes still carry it."""
    from hub.importing import header

    path = write(tmp_path / "twice.csv", b"email,name\na@x.example,Jos\xe9\n")
    with caplog.at_level(logging.WARNING, logger="hub"):
        header(path)
        first, second = read_table(path), read_table(path)
    assert caplog.text.count("not all UTF-8") == 1, caplog.text
    assert all(any("line 2" in n for n in t.notes) for t in (first, second))


def test_a_file_aligned_with_spaces_is_refused_saying_how_to_make_it_csv(tmp_path):
    """CDNOW_master.txt is separated by runs of spaces: it was read as one column named
    " customer_id  date number_of_cds  dollar_value", and `hub import events` answered "no column
    'customer_id'; columns: customer_id  date ..." (there it is, in the list). Now the reader says
    the file is space-separated and how to write it as CSV; a one-column file whose cells hold a
    single space between words is still one column."""
    path = tmp_path / "CDNOW_master.txt"
    path.write_text(
        " customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n 00002 19970112  1   12.00\n"
    )
    with pytest.raises(DataError, match="separated by spaces") as error:
        read_table(path)
    assert "sed -E 's/^ +//; s/ +/,/g' CDNOW_master.txt > CDNOW_master.csv" in str(error.value)
    names = tmp_path / "names.csv"
    names.write_text("full name\nAnn Lee\nBo Ray\n")
    assert read_table(names).column("full name").tolist() == ["Ann Lee", "Bo Ray"]
