"""The log's columns checked before any learning: bad values are named with their row."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decision.offline.value import PolicyValues, bootstrap_means
from hub.errors import DataError
from hub.offline.inputs import Columns, load_log, parse_costs

COLS = Columns(action="action", reward="won", propensity="p")


def write(path, props, rewards=None):
    n = len(props)
    rewards = rewards or ["1" if i % 3 else "0" for i in range(n)]
    lines = ["segment,action,won,p"] + [
        f"{'smb' if i % 2 else 'ent'},{'email' if i % 4 < 2 else 'call'},{rewards[i]},{props[i]}" for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


good = st.floats(min_value=0.01, max_value=1.0)
bad = st.one_of(
    st.floats(max_value=0.0, allow_nan=False, allow_infinity=False),
    st.floats(min_value=1.0001, max_value=1e6),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.lists(good, min_size=12, max_size=20), wrong=bad, after=st.lists(good, min_size=0, max_size=5))
def test_a_propensity_outside_0_1_is_named_with_its_row(tmp_path, before, wrong, after):
    props = [*before, wrong, *after]
    path = write(tmp_path / "log.csv", [repr(float(x)) for x in props])
    with pytest.raises(DataError) as exc:
        load_log(COLS, log=path)
    msg = str(exc.value)
    assert "'p'" in msg and f"row {len(before) + 1} (line {len(before) + 2})" in msg


def test_valid_propensities_pass_and_rewards_read_yes_no(tmp_path):
    path = write(tmp_path / "log.csv", ["0.5"] * 40, ["yes" if i % 3 else "no" for i in range(40)])
    log, tr, te, _ = load_log(COLS, log=path, train_share=0.5)
    assert sorted([*tr, *te]) == list(range(40))
    assert set(log.rewards) == {0.0, 1.0}
    assert log.action_names == ["call", "email"]
    assert "p" not in " ".join(log.feature_names) and "won" not in " ".join(log.feature_names)


def test_a_missing_reward_is_named_with_its_row(tmp_path):
    rewards = ["1"] * 30
    rewards[17] = ""
    path = write(tmp_path / "log.csv", ["0.5"] * 30, rewards)
    with pytest.raises(DataError, match=r"reward column 'won'.*row 18 \(line 19\)"):
        load_log(COLS, log=path)


def test_costs_parse_and_refuse_nonsense():
    assert parse_costs(["Civic Duty=0.04", "a=b=1"]) == {"Civic Duty": 0.04, "a=b": 1.0}
    for item in ("mail", "mail=", "=0.1", "mail=cheap", "mail=nan"):
        with pytest.raises(DataError, match="ACTION=COST"):
            parse_costs([item])


def test_bootstrap_pairs_rows_across_columns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    reps = bootstrap_means(np.column_stack([x, x, 2 * x]), 300, seed=1)
    assert np.array_equal(reps[:, 0], reps[:, 1])
    assert np.allclose(reps[:, 2], 2 * reps[:, 0])
    assert abs(reps[:, 0].std() - x.std() / np.sqrt(len(x))) < 0.003


def test_policy_values_snips_and_dr_agree_with_ips_on_a_uniform_log():
    rng = np.random.default_rng(2)
    n = 20000
    a = rng.integers(0, 2, n)
    r = (rng.random(n) < np.where(a == 1, 0.3, 0.2)).astype(float)
    t = np.tile([0.0, 1.0], (n, 1))
    q = np.tile([0.2, 0.3], (n, 1))
    v = PolicyValues(a, r, np.full(n, 0.5), {"one": t}, q=q, n_bootstrap=200)
    for m in ("ips", "snips", "dr"):
        iv = v.estimate("one", m)
        assert iv.low < 0.3 < iv.high, m
    assert v.overlap("one")["max_weight"] == 2.0


def test_a_pandas_index_column_is_not_a_feature(tmp_path):
    """`hub offline evaluate` on Open Bandit's logs (their first, unnamed column is pandas' row
    index) learned on `column_1`, a row counter, as context."""
    lines = [",segment,action,won,p"] + [
        f"{i},{'smb' if i % 2 else 'ent'},{'email' if i % 4 < 2 else 'call'},{i % 3 > 0:d},0.5" for i in range(60)
    ]
    path = tmp_path / "log.csv"
    path.write_text("\n".join(lines) + "\n")
    arrays, _, _, notes = load_log(COLS, log=path)
    assert [n for n in arrays.feature_names if not n.startswith("segment")] == []
    assert any("row number or id" in n for n in notes)


def test_a_reward_of_yes_no_with_one_stray_cell_names_that_cell(tmp_path):
    """A yes/no reward column with one cell that is neither: the error names that cell, not a 'no'."""
    rewards = ["yes" if i % 3 else "no" for i in range(30)]
    rewards[20] = "maybe"
    path = write(tmp_path / "log.csv", ["0.5"] * 30, rewards)
    with pytest.raises(DataError) as exc:
        load_log(COLS, log=path)
    msg = str(exc.value)
    assert "'maybe' at row 21 (line 22)" in msg and "'no'" not in msg


def test_a_bad_row_of_the_test_file_is_named_in_that_file(tmp_path):
    """With --train and --test, a row of the test file is named by its own file and line."""
    train = write(tmp_path / "train.csv", ["0.5"] * 30)
    rewards = ["1"] * 20
    rewards[4] = ""
    test = write(tmp_path / "test.csv", ["0.5"] * 20, rewards)
    with pytest.raises(DataError) as exc:
        load_log(COLS, train=train, test=test)
    msg = str(exc.value)
    assert "test.csv" in msg and "row 5 (line 6)" in msg and "train.csv" not in msg


def test_a_numeric_feature_with_one_stray_cell_is_named_not_read_as_a_category(tmp_path):
    """One typo in a column of numbers would make every number a category level; it is named instead."""
    path = write(tmp_path / "log.csv", ["0.5"] * 40)
    lines = path.read_text().splitlines()
    lines[0] += ",age"
    lines[1:] = [f"{line},{20 + i}" for i, line in enumerate(lines[1:])]
    lines[31] = lines[31].rsplit(",", 1)[0] + ",4O"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as exc:
        load_log(COLS, log=path)
    msg = str(exc.value)
    assert "'age'" in msg and "line 32" in msg and "'4O'" in msg and "--features" in msg


def test_a_stray_cell_in_the_test_file_is_named_with_a_way_out_this_command_has(tmp_path):
    """The test file is read with the train file's kinds; a stray cell there was reported as not
    fitting a 'declared' type, with advice to declare it that `hub offline evaluate` has no option for."""

    def with_age(path, bad_line=None):
        lines = path.read_text().splitlines()
        lines = [lines[0] + ",age"] + [f"{line},{20 + i}" for i, line in enumerate(lines[1:])]
        if bad_line:
            lines[bad_line - 1] = lines[bad_line - 1].rsplit(",", 1)[0] + ",4O"
        path.write_text("\n".join(lines) + "\n")
        return path

    train = with_age(write(tmp_path / "train.csv", ["0.5"] * 30))
    test = with_age(write(tmp_path / "test.csv", ["0.5"] * 30), bad_line=12)
    with pytest.raises(DataError) as exc:
        load_log(COLS, train=train, test=test)
    msg = str(exc.value)
    assert "test.csv" in msg and "line 12" in msg and "'4O'" in msg and "--features" in msg
    assert "declare" not in msg, msg
