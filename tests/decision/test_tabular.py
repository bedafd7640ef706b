"""decision.tabular: typed columns to a model matrix, and the reader + featurizer on untrusted cells."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decision.tabular import ColumnSpec, TableFeaturizer, infer_specs
from hub.errors import DataError
from hub.tables import read_table

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def columns():
    return {
        "plan": np.array(["pro", "pro", "free", "team", None, "pro"], dtype=object),
        "employees": np.array([10.0, 200.0, np.nan, 5.0, 50.0, 1000.0]),
        "opted": np.array(["yes", "no", "", "y", "n", "Y"], dtype=object),
        "signup": np.array(["2024-05-31", "2024-01-01", None, "2024-06-11", "2023-06-01", "2024-05-01"], dtype=object),
        "notes": np.array(["Wants PRICING", "", None, "demo please", "pricing and demo", "x"], dtype=object),
    }


SPECS = [
    ColumnSpec("plan", "categorical", top_k=2),
    ColumnSpec("employees", "numeric", log1p=True, squared=True),
    ColumnSpec("opted", "boolean"),
    ColumnSpec("signup", "date"),
    ColumnSpec("notes", "keyword", keywords=("pricing", "demo")),
]


def test_names_shapes_and_numeric_columns():
    f = TableFeaturizer(SPECS).fit(columns(), now=NOW)
    assert f.names_ == [
        "plan=pro",
        "plan=free",
        "plan=other",
        "plan=missing",
        "employees",
        "employees_missing",
        "employees^2",
        "opted",
        "opted_missing",
        "signup",
        "signup_missing",
        "notes~pricing",
        "notes~demo",
    ]
    x = f.transform(columns(), now=NOW)
    assert x.shape == (6, len(f.names_)) and x.dtype == np.float64
    assert not np.isnan(x).any()
    assert [f.names_[i] for i in f.numeric_columns_] == ["employees", "signup"]


def test_one_hot_top_k_other_and_missing():
    f = TableFeaturizer(SPECS).fit(columns(), now=NOW)
    assert f.levels_["plan"] == ["pro", "free"]  # pro x3; free and team x1, ties by name
    x = f.transform(columns(), now=NOW)[:, :4]
    assert x.tolist() == [[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]]
    unseen = f.transform({**_take(columns(), [0]), "plan": np.array(["enterprise"], dtype=object)}, now=NOW)
    assert unseen[0, :4].tolist() == [0, 0, 1, 0]


def test_fixed_levels_are_not_learned():
    f = TableFeaturizer([ColumnSpec("plan", "categorical", levels=["team", "free"])]).fit(columns())
    assert f.names_ == ["plan=team", "plan=free", "plan=other", "plan=missing"]
    assert f.transform(columns())[:, 2].tolist() == [1, 1, 0, 0, 0, 1]


def test_standardized_train_mean_zero_unit_sd_and_missing_indicator():
    f = TableFeaturizer(SPECS).fit(columns(), now=NOW)
    x = f.transform(columns(), now=NOW)
    emp, emp_missing = x[:, 4], x[:, 5]
    assert emp_missing.tolist() == [0, 0, 1, 0, 0, 0]
    assert emp[2] == 0.0  # missing -> the training mean -> 0
    present = emp[emp_missing == 0]
    assert abs(present.mean()) < 1e-12 and abs(present.std() - 1) < 1e-12
    assert np.allclose(x[:, 6], emp**2)
    expected = np.log1p(np.array([10.0, 200, 5, 50, 1000]))
    assert np.allclose(present, (expected - expected.mean()) / expected.std())


def test_boolean_and_date_and_keywords():
    f = TableFeaturizer(SPECS).fit(columns(), now=NOW)
    x = f.transform(columns(), now=NOW)
    opted, opted_missing = x[:, 7], x[:, 8]
    assert opted_missing.tolist() == [0, 0, 1, 0, 0, 0]
    assert opted.tolist()[:2] == [1, 0] and opted[2] == pytest.approx(3 / 5)
    ages = np.array([1.0, 152, 0, 366, 31])  # 2024-06-11 is in the future: clipped to 0 days
    assert f.mean_["signup"] == pytest.approx(ages.mean())
    signup = x[:, 9][x[:, 10] == 0]
    assert np.allclose(signup, (ages - ages.mean()) / ages.std())
    assert x[:, 11].tolist() == [1, 0, 0, 0, 1, 0] and x[:, 12].tolist() == [0, 0, 0, 1, 1, 0]


def test_dates_age_with_now():
    f = TableFeaturizer([ColumnSpec("signup", "date", standardize=False)]).fit(columns(), now=NOW)
    one = {"signup": np.array([np.datetime64("2024-05-22")])}
    assert f.transform(one, now=NOW)[0, 0] == pytest.approx(10.0)
    assert f.transform(one, now=datetime(2024, 6, 11, tzinfo=UTC))[0, 0] == pytest.approx(20.0)


def test_clip_before_log():
    f = TableFeaturizer([ColumnSpec("employees", "numeric", clip=(0, 100), standardize=False)]).fit(columns())
    assert f.transform(columns())[:, 0].tolist() == [10, 100, 100 * 0 + f.mean_["employees"], 5, 50, 100]


def test_round_trip_through_json_gives_identical_transform_and_version():
    f = TableFeaturizer(SPECS).fit(columns(), now=NOW)
    g = TableFeaturizer.from_dict(json.loads(json.dumps(f.to_dict())))
    assert g.version == f.version and g.names_ == f.names_
    assert np.array_equal(g.transform(columns(), now=NOW), f.transform(columns(), now=NOW))
    assert np.array_equal(g.numeric_columns_, f.numeric_columns_)


def test_version_is_stable_and_changes_with_specs_or_data():
    a = TableFeaturizer(SPECS).fit(columns(), now=NOW).version
    assert TableFeaturizer(SPECS).fit(columns(), now=NOW).version == a
    other_specs = [*SPECS[:1], ColumnSpec("employees", "numeric"), *SPECS[2:]]
    assert TableFeaturizer(other_specs).fit(columns(), now=NOW).version != a
    shifted = {**columns(), "employees": columns()["employees"] + 1}
    assert TableFeaturizer(SPECS).fit(shifted, now=NOW).version != a


def test_missing_column_at_transform_is_named():
    f = TableFeaturizer(SPECS).fit(columns(), now=NOW)
    data = columns()
    data["employee"] = data.pop("employees")
    with pytest.raises(DataError, match="column 'employees' not in the input; did you mean 'employee'"):
        f.transform(data, now=NOW)


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="not one of"):
        ColumnSpec("x", "integer")
    with pytest.raises(ValueError, match="needs keywords"):
        ColumnSpec("x", "keyword")
    with pytest.raises(ValueError, match="log1p, levels do\\(es\\) not apply to a boolean column"):
        ColumnSpec("x", "boolean", log1p=True, levels=("a",))
    with pytest.raises(ValueError, match="unknown key\\(s\\) bins; known: name, type"):
        ColumnSpec.from_dict({"name": "x", "type": "numeric", "bins": 3})
    with pytest.raises(ValueError, match="two specs"):
        TableFeaturizer([ColumnSpec("x", "numeric"), ColumnSpec("x", "boolean")])


def test_infer_specs_from_a_file(tmp_path):
    rows = ["id,plan,employees,won,signup,about,constant"]
    for i in range(40):
        employees = [1, 2, 3, 5, 8, 13, 2000][i % 7]
        about = f"Long description number {i} of what this company does and why they called us"
        rows.append(f"c{i},{'pro' if i % 3 else 'free'},{employees},{i % 2},2024-01-{i % 28 + 1:02d},{about},same")
    path = tmp_path / "leads.csv"
    path.write_text("\n".join(rows) + "\n")
    notes: list[str] = []
    specs = infer_specs(read_table(path), exclude=["won"], notes=notes)
    assert [(s.name, s.type, s.log1p) for s in specs] == [
        ("plan", "categorical", False),
        ("employees", "numeric", True),
        ("signup", "date", False),
    ]
    assert any(n.startswith("id:") and "id" in n for n in notes)
    assert any(n.startswith("about:") and "free text" in n for n in notes)
    assert any(n.startswith("constant:") for n in notes)
    x = TableFeaturizer(specs).fit_transform(read_table(path), now=NOW)
    assert x.shape[0] == 40 and not np.isnan(x).any()


def _take(cols, rows):
    return {k: v[rows] for k, v in cols.items()}


CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", "NA", "n/a", "null", "None", "NaN", "yes", "no", "1", "0", "2024-02-30", "2024-01-05", "1e309"]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.tuples(CELL, CELL), min_size=1, max_size=30))
def test_arbitrary_cells_never_crash_reader_or_featurizer_nor_make_nan(tmp_path, cells):
    path = tmp_path / "fuzz.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b"])
        writer.writerows(cells)
    try:
        table = read_table(path)
    except DataError as error:  # only the clear, named refusals are allowed
        assert "no rows" in str(error) or "empty" in str(error)
        return
    specs = infer_specs(table)
    forced = [
        ColumnSpec("a", "numeric", log1p=True, squared=True, clip=(-1e300, 1e300)),
        ColumnSpec("b", "categorical", top_k=3),
    ]
    forced_b = [ColumnSpec("b", kind) for kind in ("boolean", "date")]
    for spec_list in (specs, forced, forced_b[:1], forced_b[1:]):
        f = TableFeaturizer(spec_list).fit(table, now=NOW)
        x = f.transform(table, now=NOW)
        assert x.shape == (table.n_rows, len(f.names_))
        assert np.isfinite(x).all()


def test_cells_in_any_form_featurize_the_same():
    """The engine passes columns it pulled from contacts: strings, floats, bools, datetimes, None."""
    specs = [
        ColumnSpec("seats", "numeric"),
        ColumnSpec("tier", "categorical"),
        ColumnSpec("paid", "boolean"),
        ColumnSpec("seen", "date"),
    ]
    typed = {
        "seats": np.array([3.0, np.nan, 10.0]),
        "tier": np.array([1.0, 2.0, np.nan]),
        "paid": np.array([True, False, True]),
        "seen": np.array(["2024-05-01", "NaT", "2024-05-21"], dtype="datetime64[us]"),
    }
    text = {
        "seats": np.array(["3", "NA", " 10 "], dtype=object),
        "tier": np.array(["1", "2", None], dtype=object),
        "paid": np.array(["yes", "No", "TRUE"], dtype=object),
        "seen": np.array([datetime(2024, 5, 1, tzinfo=UTC), None, "2024-05-21T00:00:00Z"], dtype=object),
    }
    a = TableFeaturizer(specs).fit(typed, now=NOW)
    b = TableFeaturizer(specs).fit(text, now=NOW)
    assert a.version == b.version
    assert np.array_equal(a.transform(typed, now=NOW), b.transform(text, now=NOW))
    assert a.names_[:4] == ["seats", "seats_missing", "tier=1", "tier=2"]


def test_transform_of_a_single_row_and_of_no_rows():
    f = TableFeaturizer(SPECS).fit(columns(), now=NOW)
    assert f.transform(_take(columns(), [3]), now=NOW).shape == (1, len(f.names_))
    assert f.transform(_take(columns(), []), now=NOW).shape == (0, len(f.names_))


def test_a_row_number_or_sequential_id_is_skipped_as_an_id(tmp_path):
    """A pandas export's unnamed index (Open Bandit's logs begin with one) and a numeric customer
    id in file order (CDNOW's ID) were model columns: a row counter taught as a signal. Numeric
    columns of distinct whole numbers rising row by row are skipped as ids now, with a note; a
    count that merely rises stays."""
    rows = [",customer_id,visits,plan"]
    for i in range(40):
        rows.append(f"{i},{1000 + 3 * i},{i // 2},{'pro' if i % 3 else 'free'}")
    path = tmp_path / "log.csv"
    path.write_text("\n".join(rows) + "\n")
    table = read_table(path)
    notes: list[str] = []
    specs = infer_specs(table, notes=notes)
    assert [s.name for s in specs] == ["visits", "plan"]
    index = table.names[0]
    assert any(n.startswith(f"{index}:") and "row number or id" in n for n in notes)
    assert any(n.startswith("customer_id:") and "row number or id" in n for n in notes)
