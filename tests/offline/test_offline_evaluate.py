"""`hub offline evaluate` end to end through the CLI, on synthetic logs whose truth is known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hub.cli import app

runner = CliRunner()
KEYS = {"policy", "actions", "best_action", "difference_vs_best", "n_train", "n_test"}


def write_log(
    path: Path,
    n: int,
    *,
    targeted: bool,
    seed: int = 0,
    logging_share: np.ndarray | None = None,
) -> Path:
    """Two segments, actions email/call. ``targeted``: email is best for segment "smb", call for
    "enterprise" (0.6 vs 0.3 each way); else email is best for everyone (0.5 vs 0.4).
    ``logging_share`` (2,): the chance of logging email in segment smb / enterprise (default 0.5)."""
    rng = np.random.default_rng(seed)
    seg = rng.integers(0, 2, n)
    share = np.array([0.5, 0.5]) if logging_share is None else logging_share
    p_email = share[seg]
    email = rng.random(n) < p_email
    rate = np.where(email == (seg == 0), 0.6, 0.3) if targeted else np.where(email, 0.5, 0.4)
    won = rng.random(n) < rate
    age = rng.normal(40, 10, n).round(1)
    prop = np.where(email, p_email, 1 - p_email)
    lines = ["segment,age,action,won,logged_p"]
    for i in range(n):
        lines.append(
            f"{'smb' if seg[i] == 0 else 'enterprise'},{age[i]},{'email' if email[i] else 'call'},"
            f"{'yes' if won[i] else 'no'},{prop[i]:.3f}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args: str) -> tuple[int, str, dict | None]:
    res = runner.invoke(app, ["offline", "evaluate", *args])
    text = res.stdout + (res.stderr if res.stderr_bytes is not None else "")
    data = None
    if res.exit_code == 0 and "--json" in args:
        data = json.loads(res.stdout)
    return res.exit_code, text, data


def evaluate(path: Path, *extra: str) -> dict:
    code, text, data = run(
        "--log", str(path), "--action-col", "action", "--reward-col", "won", "--bootstrap", "200", "--json", *extra
    )
    assert code == 0, text
    return data


@pytest.fixture(scope="module")
def targeted_log(tmp_path_factory) -> Path:
    return write_log(tmp_path_factory.mktemp("logs") / "targeted.csv", 6000, targeted=True)


@pytest.fixture(scope="module")
def flat_log(tmp_path_factory) -> Path:
    return write_log(tmp_path_factory.mktemp("logs") / "flat.csv", 6000, targeted=False, seed=1)


def test_engine_policy_beats_best_single_action_where_segments_differ(targeted_log):
    res = evaluate(targeted_log, "--propensity-col", "logged_p")
    assert set(res) >= KEYS
    assert res["deployed"]["mode"] in ("learned", "targeted")
    assert res["difference_vs_best"]["low"] > 0
    # the truth: targeted 0.6 against 0.45 for either single action
    assert res["difference_vs_best"]["low"] < 0.15 < res["difference_vs_best"]["high"] + 0.03
    assert res["n_train"] + res["n_test"] == 6000


def test_no_targeting_gain_deploys_the_best_constant(flat_log):
    res = evaluate(flat_log, "--propensity", "0.5")
    assert res["deployed"]["mode"] == "constant"
    assert res["deployed"]["constant"] == "email"
    assert res["deployed"]["mix"]["email"] == 1.0
    d = res["difference_vs_best"]
    assert d["low"] <= 0 <= d["high"]
    assert res["best_action"] == "email"


def test_json_keys_and_interval_shape(targeted_log):
    res = evaluate(targeted_log, "--propensity-col", "logged_p")
    for key in ("policy", "difference_vs_best"):
        assert set(res[key]) == {"estimate", "low", "high"}
        assert res[key]["low"] <= res[key]["estimate"] <= res[key]["high"]
    assert set(res["actions"]) == {"email", "call"}
    for v in res["actions"].values():
        assert set(v) == {"estimate", "low", "high"}
    assert res["best_action"] in res["actions"]
    assert isinstance(res["n_train"], int) and isinstance(res["n_test"], int)
    assert {"mode", "reason", "mix", "constant"} <= set(res["deployed"])
    assert res["deployed"]["reason"]


def test_estimated_propensities_recover_a_skewed_logging_policy(tmp_path):
    # the log mails smb far more often: weights matter, and a wrong propensity would bias "always call"
    path = write_log(tmp_path / "skewed.csv", 8000, targeted=True, seed=2, logging_share=np.array([0.85, 0.3]))
    logged = evaluate(path, "--propensity-col", "logged_p")
    estimated = evaluate(path, "--features", "segment,age")
    wrong = evaluate(path, "--propensity", "0.5", "--features", "segment,age")
    assert logged["propensities"]["source"] == "column logged_p"
    assert estimated["propensities"]["source"].startswith("estimated")
    for action in ("email", "call"):
        true_value = 0.45
        assert abs(estimated["actions"][action]["estimate"] - logged["actions"][action]["estimate"]) < 0.02
        assert estimated["actions"][action]["low"] < true_value < estimated["actions"][action]["high"]
    # a flat 0.5 ignores the skew: "always email" comes out far from the truth
    assert abs(wrong["actions"]["email"]["estimate"] - 0.45) > 0.1


def test_features_that_give_the_action_away_are_warned_about(tmp_path):
    # "emailed" was recorded with the decision: it tells the action, so estimated propensities are near 1
    path = write_log(tmp_path / "leak.csv", 3000, targeted=True, seed=3)
    lines = path.read_text().splitlines()
    leak = [lines[0] + ",emailed"] + [f"{line},{int(',email,' in line)}" for line in lines[1:]]
    path.write_text("\n".join(leak) + "\n")
    res = evaluate(path)
    assert any("give the action away" in w for w in res["warnings"])
    clean = evaluate(path, "--features", "segment,age")
    assert not any("give the action away" in w for w in clean["warnings"])


def test_cost_is_taken_off_the_reward(targeted_log):
    free = evaluate(targeted_log, "--propensity-col", "logged_p")
    paid = evaluate(targeted_log, "--propensity-col", "logged_p", "--cost", "call=0.2")
    assert paid["costs"] == {"call": 0.2}
    assert paid["actions"]["call"]["estimate"] == pytest.approx(free["actions"]["call"]["estimate"] - 0.2, abs=0.02)
    assert paid["actions"]["email"]["estimate"] == pytest.approx(free["actions"]["email"]["estimate"], abs=1e-12)
    assert paid["best_action"] == "email"


def test_same_seed_same_result_other_seed_other_split(flat_log):
    a = evaluate(flat_log, "--propensity", "0.5", "--seed", "3")
    b = evaluate(flat_log, "--propensity", "0.5", "--seed", "3")
    c = evaluate(flat_log, "--propensity", "0.5", "--seed", "4")
    assert a == b
    assert a["actions"] != c["actions"]


def test_train_and_test_files(tmp_path):
    train = write_log(tmp_path / "train.csv", 4000, targeted=True, seed=5)
    test = write_log(tmp_path / "test.csv", 2000, targeted=True, seed=6)
    code, text, res = run(
        "--train", str(train), "--test", str(test), "--action-col", "action", "--reward-col", "won",
        "--propensity-col", "logged_p", "--bootstrap", "200", "--json",
    )  # fmt: skip
    assert code == 0, text
    assert (res["n_train"], res["n_test"]) == (4000, 2000)
    assert res["difference_vs_best"]["low"] > 0


def test_readable_output_has_a_table_and_a_verdict(flat_log):
    code, text, _ = run("--log", str(flat_log), "--action-col", "action", "--reward-col", "won", "--bootstrap", "200")
    assert code == 0, text
    assert "always email" in text and "deployed (constant)" in text
    assert "No clear difference" in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--action-col", "acton", "--reward-col", "won"], "'acton'"),
        (["--action-col", "action", "--reward-col", "wonn"], "did you mean 'won'"),
        (["--action-col", "action", "--reward-col", "won", "--features", "segment,agee"], "'agee'"),
        (["--action-col", "action", "--reward-col", "segment"], "reward column 'segment'"),
        (["--action-col", "action", "--reward-col", "won", "--propensity-col", "age"], "propensity column 'age'"),
        (["--action-col", "action", "--reward-col", "won", "--train-share", "0.99999"], "test split is empty"),
        (["--action-col", "action", "--reward-col", "won", "--train-share", "0.9999"], "test split has too few"),
        (["--action-col", "action", "--reward-col", "won", "--train-share", "0.0001"], "train split has too few"),
        (["--action-col", "action", "--reward-col", "won", "--cost", "cal=0.1"], "did you mean 'call'"),
        (["--action-col", "action", "--reward-col", "won", "--propensity", "1.5"], "--propensity 1.5"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(flat_log, args, needle):
    code, text, _ = run("--log", str(flat_log), *args)
    assert code == 2, text
    assert needle in text


def test_one_action_and_bad_propensity_rows_exit_2(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("segment,action,won\nsmb,email,1\nenterprise,email,0\nsmb,email,1\n")
    code, text, _ = run("--log", str(one), "--action-col", "action", "--reward-col", "won")
    assert code == 2 and "one value only" in text and "'action'" in text
    bad = tmp_path / "bad_p.csv"
    bad.write_text("segment,action,won,p\nsmb,email,1,0.5\nenterprise,call,0,0\nsmb,email,1,0.5\n")
    code, text, _ = run("--log", str(bad), "--action-col", "action", "--reward-col", "won", "--propensity-col", "p")
    assert code == 2 and "row 2 (line 3)" in text and "'p'" in text


@pytest.mark.parametrize(("policy", "bandit"), [("linucb", "linucb"), ("greedy", "epsilon_greedy")])
def test_other_configured_bandits(targeted_log, policy, bandit):
    res = evaluate(targeted_log, "--propensity-col", "logged_p", "--policy", policy)
    assert res["bandit"] == bandit
    assert res["learned"]["difference_vs_best"]["estimate"] > 0.05  # both learn the segments
    assert res["difference_vs_best"]["low"] > 0


def test_rare_actions_warn_about_extreme_weights(tmp_path):
    # email (the better action) logged for 2% of people: deploying it rests on weights of 50
    path = write_log(tmp_path / "rare.csv", 20000, targeted=False, seed=7, logging_share=np.array([0.02, 0.02]))
    res = evaluate(path, "--propensity-col", "logged_p")
    assert res["deployed"]["mix"]["email"] == 1.0
    assert res["diagnostics"]["max_weight"] == pytest.approx(50.0)
    assert any("Extreme importance weights" in w for w in res["warnings"])
    flat = evaluate(write_log(tmp_path / "even.csv", 6000, targeted=False, seed=7), "--propensity", "0.5")
    assert not any("Extreme importance weights" in w for w in flat["warnings"])


def test_a_gain_resting_on_a_handful_of_rows_is_not_deployed(tmp_path):
    # email logged for 1% of people (about 40 train rows): no learned departure can be trusted
    path = write_log(tmp_path / "thin.csv", 6000, targeted=False, seed=7, logging_share=np.array([0.01, 0.01]))
    res = evaluate(path, "--propensity-col", "logged_p", "--features", "segment,age", "--cost", "call=0.05")
    assert res["deployed"]["mode"] == "constant"
    assert all(c["support_rows"] < 30 or c["low"] <= 0 for c in res["deployed"]["validation"])


def test_actions_are_listed_in_natural_order(tmp_path):
    """Actions a1 ... a11 were listed a1, a10, a11, a2: in the JSON, the action mix, the costs
    and the list a mistyped --cost prints."""
    rng = np.random.default_rng(0)
    lines = ["x,action,won"] + [f"{rng.normal():.3f},a{i % 11 + 1},{rng.integers(0, 2)}" for i in range(660)]
    path = tmp_path / "eleven.csv"
    path.write_text("\n".join(lines) + "\n")
    natural = [f"a{k}" for k in range(1, 12)]
    data = evaluate(path, "--propensity", "0.0909", "--cost", "a10=0.01", "--cost", "a2=0.01")
    assert list(data["actions"]) == natural and list(data["logged_mix"]) == natural
    assert list(data["deployed"]["mix"]) == natural and list(data["costs"]) == ["a2", "a10"]
    code, text, _ = run("--log", str(path), "--action-col", "action", "--reward-col", "won", "--cost", "a100=1")
    assert code == 2 and f"actions: {', '.join(natural)}" in text, text


def test_values_and_intervals_are_written_as_every_other_table_writes_them(flat_log):
    """The table wrote ``0.4489`` and ``0.4178 .. 0.4800`` (four decimals, ``..``) and the verdict
    ``-0.01 (95% interval -0.05 to +0.03)``, where `hub learn history`, `hub report lift` and the
    console write ``+0.01 [-0.05, +0.03]`` (hub/reports/numbers.py)."""
    from hub.reports.numbers import estimate, figure, interval

    args = ("--log", str(flat_log), "--action-col", "action", "--reward-col", "won", "--bootstrap", "200")
    data = evaluate(flat_log, "--bootstrap", "200")
    code, text, _ = run(*args)
    assert code == 0, text
    row = next(ln for ln in text.splitlines() if "deployed (" in ln)
    cells = [c.strip() for c in row.strip().strip("│").split("│")]
    pol, diff = data["policy"], data["difference_vs_best"]
    assert cells[1:] == [
        figure(pol["estimate"]),
        interval(pol["low"], pol["high"]),
        figure(diff["estimate"], sign=True),
        interval(diff["low"], diff["high"]),
    ], cells
    assert f"difference {estimate(diff['estimate'], diff['low'], diff['high'])}" in " ".join(text.split()), text
