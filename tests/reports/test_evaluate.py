"""`hub evaluate` on a store holding a synthetic decision log whose truth is known.

The log: each contact got one decision, ``email_good`` or ``wait`` with probability 1/2 each
(logged propensity 0.5), rewards drawn around known means (email 2.0, wait 0.5, plus a feature
effect that averages out). So the logging policy is worth 1.25 per decision and "always email"
is worth 2.0.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from decision.engine import EnginePolicy
from hub.cli import app
from hub.config import Settings
from hub.models import Contact, Decision, Identity
from hub.reports.evaluate import NoDecisionLog, evaluate_candidate
from hub.reports.offline import evaluate_log
from hub.store import Store
from hub.store import contacts as contact_store
from hub.store import decisions as decision_store
from hub.store import learning as learning_store

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
N = 800
MEANS = {"email_good": 2.0, "wait": 0.5}
ACTIONS = [
    {"id": "email_good", "kind": "email", "channel": "email"},
    {"id": "wait", "kind": "wait"},
]


def decision(policy: str = "engine", **engine) -> dict:
    return {"policy": policy, "actions": ACTIONS, "engine": engine}


#: the logging policy as a config: uniform over the eligible actions, no holdout, no overrides
UNIFORM = decision(bandit="epsilon_greedy", exploration=1.0, explore_share=1.0, holdout_share=0.0, long_term_weight=0.0)
ALWAYS_EMAIL = {
    **decision("rules"),
    "rules": [
        {
            "name": "all",
            "when": "True",
            "actions": [{"kind": "set_fields", "fields": {"next_best_action": "email_good"}}],
        }
    ],
}


def settings(url: str, dec: dict) -> Settings:
    return Settings.model_validate({"store_url": url, "decision": dec})


def write_log(url: str, n: int = N, seed: int = 0) -> np.ndarray:
    """The synthetic log; returns the rewards."""
    rng = np.random.default_rng(seed)
    store = Store(url, auto_migrate=True)
    people = [
        Contact(identities=[Identity(connector="crm", external_id=str(i))], emails=[f"p{i}@x.example"])
        for i in range(n)
    ]
    with store.begin() as conn:
        ids = sorted(contact_store.upsert_contacts(conn, people).changed)
    x = rng.normal(size=(n, 2))
    email = rng.permutation(n) < n // 2  # a random half: each row's propensity is still 1/2
    rewards = np.where(email, MEANS["email_good"], MEANS["wait"]) + 0.5 * x[:, 0] + rng.normal(0, 0.3, n)
    items = [
        Decision(
            contact_id=cid,
            actions=[],
            policy="engine",
            policy_version="synthetic@v0",
            propensity=0.5,
            arm="engine",
            created_at=T0 + timedelta(days=i % 4),  # four decide runs
            action="email_good" if email[i] else "wait",
            features=x[i].tolist(),
            feature_version="synthetic-1",
            attribution_days=7,
        )
        for i, cid in enumerate(ids)
    ]
    with store.begin() as conn:
        dids = decision_store.insert_decisions(conn, items, "r1")
        learning_store.finalize(
            conn, {d: ({}, float(r)) for d, r in zip(dids, rewards, strict=True)}, T0 + timedelta(days=20)
        )
    store.dispose()
    return rewards


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'hub.db'}"


def test_the_logging_policy_as_candidate_is_worth_the_logged_mean(url):
    rewards = write_log(url)
    store = Store(url)
    ev = evaluate_candidate(store, settings(url, UNIFORM), settings(url, UNIFORM), n_bootstrap=300)
    store.dispose()
    assert ev.n == N
    assert ev.candidate["ips"].value == pytest.approx(rewards.mean())  # every weight is exactly 1
    assert ev.candidate["snips"].value == pytest.approx(rewards.mean())
    truth = sum(MEANS.values()) / 2  # DR corrects the sample's email / wait imbalance, so it aims here
    assert ev.candidate["dr"].covers(truth) and abs(ev.candidate["dr"].value - truth) < 0.1
    assert ev.logged.value == pytest.approx(rewards.mean())
    for m in ("ips", "snips", "dr"):  # the same config on both sides: exactly no difference
        assert ev.current[m].value == pytest.approx(ev.candidate[m].value)
        assert ev.difference[m].value == pytest.approx(0.0, abs=1e-9) and ev.difference[m].covers(0.0)
    assert ev.better is None and ev.diagnostics.replay_gap == pytest.approx(0.0)
    assert ev.diagnostics.ess == pytest.approx(N)
    assert ev.warnings == []
    assert "No clear difference" in ev.verdict
    assert any("features were rebuilt" in n for n in ev.notes)  # the log's schema is not the engine's


def test_always_the_better_action_is_estimated_near_its_true_value(url):
    write_log(url)
    store = Store(url)
    ev = evaluate_candidate(store, settings(url, UNIFORM), settings(url, ALWAYS_EMAIL), n_bootstrap=500, seed=1)
    store.dispose()
    truth = MEANS["email_good"]
    for m in ("ips", "snips", "dr"):
        assert ev.candidate[m].covers(truth), (m, ev.candidate[m])
        assert abs(ev.candidate[m].value - truth) < 0.25
    assert ev.diagnostics.candidate_mix["email_good"] == pytest.approx(1.0)
    assert ev.difference["dr"].covers(truth - (MEANS["email_good"] + MEANS["wait"]) / 2)
    assert ev.better is True and ev.ratio["dr"] is not None and ev.ratio["dr"].value > 1.3
    assert "better" in ev.verdict


def test_an_action_the_log_never_tried_is_named():
    n = 600
    rng = np.random.default_rng(2)
    a = rng.integers(0, 2, n)
    r = a.astype(float)
    target = np.tile([0.0, 0.5, 0.5], (n, 1))  # half its choices on action 2, never logged
    ev = evaluate_log(np.zeros((n, 1)), a, r, np.full(n, 0.5), target, ["wait", "email", "call"], n_bootstrap=200)
    assert ev.diagnostics.never_tried == {"call": pytest.approx(0.5)}
    assert any("never tried: call" in w for w in ev.warnings)


def test_deterministic_logged_rows_are_reported_as_poor_overlap():
    n = 1000
    a = np.zeros(n, dtype=int)  # a rules-only log: always action 0 with propensity 1
    target = np.tile([0.2, 0.8], (n, 1))
    ev = evaluate_log(np.zeros((n, 1)), a, np.ones(n), np.ones(n), target, ["a", "b"], n_bootstrap=200)
    assert ev.diagnostics.unsupported_mass == pytest.approx(0.8)
    assert any("Poor overlap" in w for w in ev.warnings)
    assert "Treat with caution" in ev.verdict


# ---- the command ------------------------------------------------------------------------------


def write_yaml(path, url: str, dec: dict):
    path.write_text(yaml.safe_dump({"store_url": url, "decision": dec}), encoding="utf-8")
    return path


def test_cli_bad_candidate_exits_2_naming_the_key_path(tmp_path, url):
    current = write_yaml(tmp_path / "hub.yaml", url, UNIFORM)
    bad = write_yaml(tmp_path / "other.yaml", url, decision(exploration=-1, holdout_shar=0.2))
    r = CliRunner().invoke(app, ["evaluate", "--candidate", str(bad), "-c", str(current)])
    assert r.exit_code == 2
    assert "decision.engine.exploration" in r.output and "decision.engine.holdout_shar: unknown key" in r.output
    assert "other.yaml" in r.output
    gone = CliRunner().invoke(app, ["evaluate", "--candidate", str(tmp_path / "nope.yaml"), "-c", str(current)])
    assert gone.exit_code == 2 and "nope.yaml" in gone.output
    assert "hub init" not in gone.output, gone.output  # a sample config is not the changed copy asked for


def test_cli_empty_log_exits_1_saying_what_to_run(tmp_path, url):
    Store(url, auto_migrate=True).dispose()
    current = write_yaml(tmp_path / "hub.yaml", url, UNIFORM)
    cand = write_yaml(tmp_path / "other.yaml", url, ALWAYS_EMAIL)
    r = CliRunner().invoke(app, ["evaluate", "--candidate", str(cand), "-c", str(current)])
    assert r.exit_code == 1
    assert "No finalized decisions" in r.output and "hub run --once" in r.output
    r = CliRunner().invoke(app, ["evaluate", "--candidate", str(cand), "-c", str(current), "--json"])
    assert r.exit_code == 1  # scripts get JSON on stdout, people the sentence on stderr
    doc = json.loads(r.stdout)
    assert doc["finalized_decisions"] == 0 and doc["error"].startswith("No finalized decisions")
    assert "hub run --once" in r.stderr
    with pytest.raises(NoDecisionLog):
        store = Store(url)
        try:
            evaluate_candidate(store, settings(url, UNIFORM), settings(url, ALWAYS_EMAIL), since=T0)
        finally:
            store.dispose()


def test_cli_happy_path_table_and_json(tmp_path, url):
    write_log(url, n=300)
    current = write_yaml(tmp_path / "hub.yaml", url, UNIFORM)
    cand = write_yaml(tmp_path / "other.yaml", url, ALWAYS_EMAIL)
    args = ["evaluate", "--candidate", str(cand), "-c", str(current), "--bootstrap", "200"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "doubly robust" in r.output and "current (replayed)" in r.output and "better" in r.output
    r = CliRunner().invoke(app, [*args, "--json", "--since", "2026-03-04"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["n"] == 150  # two of the four decide runs are on or after the 4th
    assert doc["better"] is True and doc["candidate"]["dr"]["low"] < 2.0 < doc["candidate"]["dr"]["high"] + 0.3
    assert set(doc["difference"]) == {"ips", "snips", "dr"} and doc["verdict"].startswith("The candidate")


def test_a_candidate_with_declared_features_is_replayed_on_its_own_columns(url):
    write_log(url, n=200)
    store = Store(url)
    tier = {"name": "tier", "source": {"field": "properties.icp_tier"}, "type": "categorical"}
    candidate = settings(url, {**UNIFORM, "features": [tier]})
    ev = evaluate_candidate(store, settings(url, UNIFORM), candidate, n_bootstrap=100)
    store.dispose()
    # uniform either way: the declared columns change the model (its name), not a uniform choice
    assert ev.candidate["ips"].value == pytest.approx(ev.current["ips"].value)
    assert any("features were rebuilt" in n for n in ev.notes)
    plain = EnginePolicy(settings(url, UNIFORM).decision).model_name
    assert any(n.startswith("Engine model engine-") and plain not in n for n in ev.notes)


def test_the_replay_sees_a_contacts_decisions_as_decide_does(url):
    """The replay rebuilds each logged row's view with the decisions decide read then
    (hub/store/decisions.py ``recent_actions``): decide batches' of the 7 days before, no
    control rows and no real-time ones (they push nothing, so they are no touch). Counting
    visits as touches filled the replay's weekly cap, and every engine row was replayed with
    other probabilities than it was decided with."""
    from hub.reports.evaluate import _decided, _recent

    store = Store(url, auto_migrate=True)
    people = [Contact(identities=[Identity(connector="crm", external_id=str(i))]) for i in range(3)]
    with store.begin() as conn:
        ids = sorted(contact_store.upsert_contacts(conn, people).changed)

    def logged(cid: int, days: float, action: str, arm: str = "engine") -> Decision:
        return Decision(
            contact_id=cid,
            actions=[],
            policy="engine",
            policy_version="engine@v1",
            arm=arm,
            created_at=T0 + timedelta(days=days),
            action=action,
            features=[0.0],
            feature_version="f",
            attribution_days=7,
        )

    batches = {
        "batch-1": [logged(ids[0], 0, "sales_call"), logged(ids[1], 0, "email_good", "control")],
        "batch-2": [logged(ids[0], 12, "email_good"), logged(ids[1], 12, "email_good")],
        "rt-a": [logged(c, 13, "email_good") for c in ids],
        "rt-b": [logged(c, 14, "email_good") for c in ids],
        "batch-3": [logged(ids[2], 14.5, "email_good")],
    }
    with store.begin() as conn:
        for key, items in batches.items():
            decision_store.insert_decisions(conn, items, key)
    now = T0 + timedelta(days=15)
    with store.connect() as conn:
        live = decision_store.recent_actions(conn, ids, now - timedelta(days=7))
        replayed = {cid: _recent(rows, now) for cid, rows in _decided(conn, ids).items()}
    assert {c: v for c, v in replayed.items() if v} == live
    assert [a for _, a in live[ids[0]]] == ["email_good"]  # not the call of 15 days ago, not the visits
    assert [a for _, a in live[ids[2]]] == ["email_good"]
    # on the day of the call, the replay sees it as decide did
    with store.connect() as conn:
        assert _recent(_decided(conn, ids)[ids[0]], T0 + timedelta(days=3)) == [(T0, "sales_call")]
    store.dispose()


def test_cli_writes_intervals_as_every_other_table_does(tmp_path, url):
    """`hub evaluate` wrote ``1.9 .. 2.1`` and its verdict "interval +0.1 to +0.3", where `hub
    report lift`, `hub learn history`, `hub offline evaluate` and the console write ``[+1.9, +2.1]``."""
    from hub.reports.numbers import estimate, interval

    write_log(url, n=300)
    current = write_yaml(tmp_path / "hub.yaml", url, UNIFORM)
    cand = write_yaml(tmp_path / "other.yaml", url, ALWAYS_EMAIL)
    args = ["evaluate", "--candidate", str(cand), "-c", str(current), "--bootstrap", "200"]
    doc = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    text = CliRunner().invoke(app, args, terminal_width=200).output
    dr, diff = doc["candidate"]["dr"], doc["difference"]["dr"]
    row = next(ln for ln in text.splitlines() if "candidate " in ln and "doubly robust" in ln)
    assert interval(dr["low"], dr["high"]) in row and " .. " not in text, row
    assert f"difference {estimate(diff['value'], diff['low'], diff['high'])}" in " ".join(doc["verdict"].split())


def test_a_governance_change_is_not_passed_off_as_no_difference(url):
    """Switching the logged action off (never sent) is not "no clear difference": the replay
    models the decision section only, and the verdict says the change was not estimated."""
    write_log(url, n=200)
    store = Store(url)
    current = settings(url, UNIFORM)
    off = Settings.model_validate(
        {"store_url": url, "decision": UNIFORM, "governance": {"autonomy": {"actions": {"email_good": "off"}}}}
    )
    ev = evaluate_candidate(store, current, off, n_bootstrap=100)
    routed = Settings.model_validate(
        {
            "store_url": url,
            "decision": {**UNIFORM, "owners": [{"id": "7"}]},
            "governance": {"kill_switches": {"routing": True}},
        }
    )
    ev2 = evaluate_candidate(store, current, routed, n_bootstrap=100)
    same = evaluate_candidate(store, current, current, n_bootstrap=100)
    store.dispose()
    assert ev.unmodelled == ["governance.autonomy"]
    assert "No clear difference" not in ev.verdict and "governance.autonomy" in ev.verdict
    assert any("governance.autonomy" in w for w in ev.warnings)
    assert ev.to_dict()["unmodelled"] == ["governance.autonomy"]
    assert ev2.unmodelled == ["decision.owners", "governance.kill_switches"]
    assert "decision.owners" in ev2.verdict
    assert same.unmodelled == [] and "No clear difference" in same.verdict
