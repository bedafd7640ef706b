"""`hub score evaluate`: the JSON contract, ranking and calibration against baselines, labels,
the leakage guard and bad input, on synthetic tables written to CSV files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from decision.scoring.labels import binary_label
from decision.scoring.leakage import column_auc
from decision.scoring.metrics import expected_calibration_error
from hub.cli import app
from hub.errors import DataError

KEYS = {"auc", "brier", "ece", "top_decile_lift"}


def leads(n: int, seed: int, *, nonlinear: bool = True) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Columns of a lead table and the true conversion probability of each row."""
    rng = np.random.default_rng(seed)
    visits = rng.poisson(3, n).astype(float)
    size = rng.lognormal(4, 1, n)
    plan = rng.choice(["free", "pro", "team", "enterprise"], n, p=[0.5, 0.25, 0.15, 0.1])
    x = rng.normal(size=n)
    noise = rng.normal(size=n)
    plan_effect = np.select([plan == "team", plan == "enterprise"], [0.8, 1.2], 0.0)
    z = -2.6 + 0.35 * visits + plan_effect + 0.3 * (np.log(size) - 4)
    if nonlinear:
        z = z + 1.2 * np.sin(2 * x) + 0.8 * (x > 1) * (visits > 3)
    p = 1 / (1 + np.exp(-z))
    size_text = np.round(size, 1).astype(str)
    size_text[rng.random(n) < 0.05] = ""  # some missing
    return {
        "visits": visits,
        "company_size": size_text,
        "plan": plan,
        "x": np.round(x, 4),
        "noise": np.round(noise, 4),
    }, p


def write(path: Path, columns: dict[str, np.ndarray]) -> Path:
    names = list(columns)
    rows = zip(*(np.asarray(columns[c]).astype(str) for c in names), strict=True)
    path.write_text(",".join(names) + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["score", "evaluate", *args])
    return result.exit_code, result.output


def evaluate_json(*args: str) -> dict:
    code, output = run(*args, "--json")
    assert code == 0, output
    return json.loads(output)


def table_with_label(tmp_path: Path, n: int, seed: int, *, labels=("1", "0"), nonlinear: bool = True, **extra) -> Path:
    cols, p = leads(n, seed, nonlinear=nonlinear)
    y = np.random.default_rng(seed + 100).random(n) < p
    cols["converted"] = np.where(y, labels[0], labels[1])
    for name, make in extra.items():
        cols[name] = make(y, np.random.default_rng(seed + 200))
    return write(tmp_path / "leads.csv", cols)


def test_json_has_exactly_the_stable_keys(tmp_path):
    path = table_with_label(tmp_path, 800, 0)
    out = evaluate_json("--table", str(path), "--label", "converted", "--seed", "3")
    assert set(out["model"]) == KEYS
    assert set(out["baselines"]) == {"hgb", "logistic"}
    assert all(set(b) == KEYS for b in out["baselines"].values())
    assert out["n_train"] + out["n_test"] == 800
    assert out["n_test"] == 240  # 30 % held out
    assert set(out["features"]) == {"visits", "company_size", "plan", "x", "noise"}
    assert 0.5 < out["model"]["auc"] <= 1.0 and 0.0 <= out["model"]["ece"] <= 1.0


def test_the_seed_fixes_the_split_and_the_models(tmp_path):
    path = table_with_label(tmp_path, 600, 1)
    a = evaluate_json("--table", str(path), "--label", "converted", "--seed", "5")
    b = evaluate_json("--table", str(path), "--label", "converted", "--seed", "5")
    c = evaluate_json("--table", str(path), "--label", "converted", "--seed", "6")
    assert a == b
    assert a["model"] != c["model"]


def test_the_scorer_ranks_at_least_as_well_as_default_boosting_on_a_nonlinear_table(tmp_path):
    path = table_with_label(tmp_path, 5000, 2)
    out = evaluate_json("--table", str(path), "--label", "converted", "--seed", "0")
    assert out["model"]["auc"] >= out["baselines"]["hgb"]["auc"] - 0.01
    assert out["model"]["auc"] > 0.7
    # Default boosting is not calibrated on small noisy data; the scorer is at least as good on Brier.
    assert out["model"]["brier"] <= out["baselines"]["hgb"]["brier"] + 0.002


def test_probabilities_are_calibrated_on_a_large_table(tmp_path):
    path = table_with_label(tmp_path, 16_000, 3, nonlinear=False)
    out = evaluate_json("--table", str(path), "--label", "converted", "--seed", "1")
    assert out["model"]["ece"] < 0.02
    assert out["calibration"] == "isotonic"  # over 1,000 positives


def test_train_and_test_files_instead_of_a_split(tmp_path):
    train = table_with_label(tmp_path, 700, 4).rename(tmp_path / "train.csv")
    test = table_with_label(tmp_path, 300, 5).rename(tmp_path / "test.csv")
    out = evaluate_json("--train", str(train), "--test", str(test), "--label", "converted")
    assert (out["n_train"], out["n_test"]) == (700, 300)


@pytest.mark.parametrize(
    ("labels", "flags", "positive", "rare"),
    [
        (("Yes", "no"), (), "1", True),  # yes/no in any case: read as a boolean, yes is 1
        (("won", "lost"), (), "won", True),  # two names: the rarer one
        (("lost", "won"), ("--positive", "WON"), "won", False),  # or the one given, rare or not
    ],
)
def test_labels_yes_no_and_two_valued_strings(tmp_path, labels, flags, positive, rare):
    path = table_with_label(tmp_path, 600, 6, labels=labels)  # labels[0] is the rarer outcome
    out = evaluate_json("--table", str(path), "--label", "converted", *flags)
    assert out["positive"] == positive
    assert (out["positive_rate"] < 0.5) == rare


def test_leakage_guard_drops_a_copy_of_the_label_and_keeps_a_strong_honest_feature(tmp_path):
    path = table_with_label(
        tmp_path,
        1500,
        7,
        status=lambda y, rng: np.where(y, "Customer", "Lead"),  # written after the sale
        demo_request=lambda y, rng: np.where(rng.random(len(y)) < np.where(y, 0.7, 0.15), 1, 0),
    )
    out = evaluate_json("--table", str(path), "--label", "converted")
    assert out["leaky"] == ["status"]
    assert any("status" in w for w in out["warnings"])
    assert "demo_request" in out["features"] and "status" not in out["features"]
    kept = evaluate_json("--table", str(path), "--label", "converted", "--keep-leaky")
    assert kept["leaky"] == [] and "status" in kept["features"]
    assert kept["model"]["auc"] > 0.99  # what the leak would have claimed


def test_an_id_column_is_not_a_leak():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.3).astype(int)
    ids = np.array([f"c{i}" for i in range(2000)], dtype=object)
    assert column_auc(ids, y) < 0.6
    assert column_auc(np.where(y == 1, "a", "b").astype(object), y) == 1.0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--label", "convertd"), ["'convertd'", "did you mean 'converted'"]),
        (("--label", "converted", "--drop", "nosie"), ["--drop", "'nosie'", "'noise'"]),
        (("--label", "plan"), ["'plan'", "4 values"]),
        (("--label", "always"), ["'always'", "1 value"]),
    ],
)
def test_bad_columns_and_labels_exit_2_naming_the_column(tmp_path, args, needle):
    path = table_with_label(tmp_path, 300, 8, always=lambda y, rng: np.full(len(y), "yes"))
    code, output = run("--table", str(path), *args)
    assert code == 2, output
    flat = " ".join(output.split())
    for text in needle:
        assert text in flat
    assert "Traceback" not in output


def test_too_few_rows_and_a_bad_numeric_cell_exit_2(tmp_path):
    small = table_with_label(tmp_path, 40, 9)
    code, output = run("--table", str(small), "--label", "converted")
    assert code == 2 and "too few rows" in output
    cols, _ = leads(300, 10)
    cols["converted"] = np.arange(300) % 3 == 0
    cols["visits"] = cols["visits"].astype(str)
    cols["visits"][123] = "lots"
    bad = write(tmp_path / "bad.csv", cols)
    code, output = run("--table", str(bad), "--label", "converted")
    flat = " ".join(output.split())
    assert code == 2 and "'visits'" in flat and "'lots'" in flat and "line 125" in flat
    assert "--types visits=categorical" in flat and "declared" not in flat  # the user declared nothing
    assert "Traceback" not in output


def test_table_or_train_and_test_is_required(tmp_path):
    assert run("--label", "y")[0] == 2
    assert run("--label", "y", "--train", str(tmp_path / "a.csv"))[0] == 2


def test_uniform_ece_bins():
    y = np.array([0, 1, 1, 1])
    p = np.array([0.1, 0.9, 0.9, 0.7])
    # bins 1, 9, 7: |0 - 0.1| * 1 + |2 - 1.8| + |1 - 0.7| = 0.6 over 4 rows
    assert expected_calibration_error(y, p, bins="uniform") == pytest.approx(0.15)
    with pytest.raises(ValueError, match="bins"):
        expected_calibration_error(y, p, bins="width")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=4)), min_size=1, max_size=30))
def test_binary_label_reads_two_values_or_says_why(cells):
    values = np.array(cells, dtype=object)
    try:
        lab = binary_label(values, "y")
    except DataError as exc:
        assert "'y'" in str(exc)
        return
    assert set(lab.y.tolist()) == {0, 1}
    assert len(lab.y) + lab.missing == len(cells)
    assert lab.positive != lab.negative


def test_one_column_is_said_in_the_singular(tmp_path):
    """It printed "1 columns used"."""
    cols, p = leads(400, 3)
    y = np.random.default_rng(5).random(400) < p
    path = write(tmp_path / "one.csv", {"visits": cols["visits"], "converted": np.where(y, "1", "0")})
    code, output = run("--table", str(path), "--label", "converted")
    assert code == 0, output
    assert "1 column used (" in output and "): visits" in output and "1 columns" not in output
