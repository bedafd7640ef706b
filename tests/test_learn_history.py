"""`hub learn history`: warm start from a file of past touches whose truth is known.

600 contacts, half in software and half in retail. The log sent each contact one touch chosen
uniformly at random (propensity 1/3): ``email_a`` is worth 2 to software people and 0 to retail
ones, ``email_b`` the reverse, ``wait`` 0.3 to everyone. So every single action is worth about
1.0 or less, and a policy that learned who wants what is worth about 2.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.models import Company, Contact, Identity
from hub.store import Store
from hub.store import contacts as contact_store
from hub.store import learning as learning_store
from hub.store.schema import decision_features

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
N = 600
ACTIONS = [
    {"id": "email_a", "kind": "email", "channel": "email"},
    {"id": "email_b", "kind": "email", "channel": "email"},
    {"id": "wait", "kind": "wait"},
]


def _setup(tmp_path: Path, store_url: str, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(yaml.safe_dump({"store_url": store_url, "decision": {"policy": "engine", "actions": ACTIONS}}))
    industry = np.where(np.arange(N) % 2 == 0, "software", "retail")
    store = Store(store_url, auto_migrate=True)
    people = [
        Contact(
            identities=[Identity(connector="crm", external_id=str(i))],
            emails=[f"p{i}@x.example"],
            company=Company(industry=str(industry[i])),
        )
        for i in range(N)
    ]
    with store.begin() as conn:
        contact_store.upsert_contacts(conn, people)
    store.dispose()
    action = rng.integers(0, 3, N)
    good = np.where(industry == "software", 0, 1)
    reward = np.where(action == 2, 0.3, np.where(action == good, 2.0, 0.0)) + rng.normal(0, 0.3, N)
    names = ["email_a", "email_b", "no_touch"]  # the log calls "wait" by its own name
    path = tmp_path / "history.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["email", "campaign", "sent_at", "points"])
        for i in range(N):
            w.writerow([f"P{i}@x.example", names[action[i]], (T0 + timedelta(hours=i)).isoformat(), f"{reward[i]:.4f}"])
        w.writerow(["stranger@nowhere.example", "email_a", T0.isoformat(), "1.0"])  # not in the store
    return cfg, path


ARGS = ["--contact-col", "email", "--action-col", "campaign", "--reward-col", "points", "--time-col", "sent_at"]


def test_warm_start_beats_every_single_action_and_goes_live(tmp_path, store_url):
    cfg, path = _setup(tmp_path, store_url)
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["learn", "history", str(path), *ARGS, "--propensity", "0.3333", "--map-action", "no_touch=wait"]
        + ["--json", "-c", str(cfg)],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["used"] == N and data["rows"] == N + 1
    assert sum(data["skipped"].values()) == 1 and "not in the store" in next(iter(data["skipped"]))
    assert set(data["actions"]) == {"email_a", "email_b", "wait"}
    best = data["actions"][data["best_action"]]
    assert best["estimate"] < 1.3
    assert data["policy"]["estimate"] > best["estimate"] + 0.4
    assert data["policy"]["low"] > best["high"]  # held-out rows, doubly robust interval
    assert data["version"] == 1
    store = Store(store_url)
    with store.connect() as conn:
        assert learning_store.latest_version(conn, data["model"]) == 1
    store.dispose()


def test_dry_run_saves_nothing_and_estimated_propensities_are_near_the_truth(tmp_path, store_url):
    cfg, path = _setup(tmp_path, store_url, seed=1)
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["learn", "history", str(path), *ARGS, "--map-action", "no_touch=wait", "--dry-run", "--json", "-c", str(cfg)],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["propensities"] == "estimated" and data["version"] is None
    assert 0.28 < data["propensity_summary"]["mean"] < 0.39  # the log was uniform over 3 actions
    assert data["propensity_summary"]["max"] < 0.6
    store = Store(store_url)
    with store.connect() as conn:
        assert learning_store.latest_version(conn, data["model"]) is None
    store.dispose()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reward-col", "pointz"], "pointz"),
        (["--propensity", "1.5"], "--propensity"),
        (["--map-action", "no_touch"], "LOGGED_VALUE=ACTION_ID"),
    ],
)
def test_bad_input_exits_2_and_says_what(tmp_path, extra, message):
    cfg, path = _setup(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    res = CliRunner().invoke(app, ["learn", "history", str(path), *ARGS, *extra, "-c", str(cfg)])
    assert res.exit_code == 2, res.output
    assert message in res.output


def test_unmapped_actions_are_skipped_with_a_hint(tmp_path):
    cfg, path = _setup(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    res = CliRunner().invoke(app, ["learn", "history", str(path), *ARGS, "--dry-run", "--json", "-c", str(cfg)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    reasons = " ".join(data["skipped"])
    assert "'no_touch' is not in decision.actions" in reasons and "--map-action no_touch=ACTION_ID" in reasons
    assert data["used"] + sum(data["skipped"].values()) == N + 1


def test_the_hint_for_an_action_with_a_space_is_a_command_that_works(tmp_path):
    """The social-pressure log's ' Civic Duty' was hinted as --map-action Civic Duty=ACTION_ID,
    which a shell splits in two; the hint quotes it."""
    cfg, path = _setup(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    path.write_text(path.read_text().replace(",no_touch,", ",no touch,"))
    res = CliRunner().invoke(app, ["learn", "history", str(path), *ARGS, "--dry-run", "--json", "-c", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "--map-action 'no touch=ACTION_ID'" in " ".join(json.loads(res.stdout)["skipped"])


def test_from_store_reads_synced_sends_and_their_responses(tmp_path, store_url):
    """--from-store: each synced send is a touch of its campaign; responses after it (until the
    window closes or the next send) are its reward."""
    from hub.config import ObjectiveWeights
    from hub.pipeline.history_store import touches_from_store
    from hub.store.activities import insert_activities

    cfg, _ = _setup(tmp_path, store_url)
    rng = np.random.default_rng(3)
    store = Store(store_url)
    with store.begin() as conn:
        ids = contact_store.resolve_emails(conn, [f"p{i}@x.example" for i in range(N)])
        acts = []
        for i in range(N):
            cid = ids[f"p{i}@x.example"]
            campaign = "c-a" if rng.random() < 0.5 else "c-b"
            sent = T0 + timedelta(days=int(rng.integers(0, 20)))
            acts.append(_act(cid, "email_sent", sent, i, campaign))
            software = i % 2 == 0
            if (campaign == "c-a") == software and rng.random() < 0.8:
                acts.append(_act(cid, "email_click", sent + timedelta(hours=2), i, campaign))
            acts.append(_act(cid, "email_click", sent + timedelta(days=9), i + N, campaign))  # after the window
        insert_activities(conn, acts)
        table = touches_from_store(conn, ObjectiveWeights(), window_days=7)
    store.dispose()
    assert len(table["contact"]) == N
    assert set(np.unique(table["reward"])) <= {0.0, 1.0}  # one click (weight 1) at most: the late one is out
    res = CliRunner().invoke(
        app,
        ["learn", "history", "--from-store", "--map-action", "c-a=email_a", "--map-action", "c-b=email_b"]
        + ["--dry-run", "--json", "-c", str(cfg)],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["used"] == N and set(data["actions"]) == {"email_a", "email_b"}
    assert data["policy"]["estimate"] > max(a["estimate"] for a in data["actions"].values())


def _act(cid: int, kind: str, at: datetime, n: int, campaign: str):
    from hub.models import Activity

    return Activity(
        contact_id=cid,
        type=kind,
        occurred_at=at,
        properties={"campaign": campaign},
        source="crm",
        external_id=f"{kind}-{n}",
        channel="email",
    )


def test_a_rollback_committed_while_the_history_is_learned_stays_live(tmp_path, store_url, monkeypatch):
    """`hub learn history` saved ``newest + 1`` whatever was newest by then: a rollback committed
    while it learned was followed by the warm-started model, and the rollback never served. Now
    it saves only if the version it learned on is still the newest (as the learn step does);
    otherwise it saves nothing, says what to do and exits 1."""
    from decision.engine import EnginePolicy
    from hub.config import load_settings
    from hub.pipeline.context import HubContext
    from hub.pipeline.learn import rollback

    cfg, path = _setup(tmp_path, store_url)
    args = ["learn", "history", str(path), *ARGS, "--propensity", "0.3333", "--map-action", "no_touch=wait"]
    first = CliRunner().invoke(app, [*args, "--json", "-c", str(cfg)])
    assert first.exit_code == 0, first.output
    operator = HubContext.build(load_settings(cfg), embedded=True)  # `hub model rollback 1` elsewhere
    real = EnginePolicy.learn

    def learn_then_rollback(self, *a, **kw):
        out = real(self, *a, **kw)
        if self.model_version == 1:  # the live engine, loaded at v1 (the valuation's own is fresh)
            assert rollback(operator, 1) == 2  # committed in its own transaction while history learns
        return out

    monkeypatch.setattr(EnginePolicy, "learn", learn_then_rollback)
    res = CliRunner().invoke(app, [*args, "-c", str(cfg)])
    operator.close()

    assert res.exit_code == 1, res.output
    assert "Nothing saved" in res.output and "moved from v1 to v2" in res.output
    assert "run `hub learn history` again" in res.output
    store = Store(store_url)
    with store.connect() as conn:
        snaps = learning_store.list_snapshots(conn)
    store.dispose()
    assert [s["version"] for s in snaps] == [1, 2] and snaps[-1]["metrics"]["rollback_of"] == 1


def test_a_log_with_too_few_usable_rows_counts_each_reason_on_its_own_line(tmp_path):
    cfg, _ = _setup(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    path = tmp_path / "unmapped.csv"
    rows = [f"p{i}@x.example,{'promo' if i % 2 else 'blast'},{T0.isoformat()},1.0" for i in range(30)]
    path.write_text("email,campaign,sent_at,points\n" + "\n".join(rows) + "\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["learn", "history", str(path), *ARGS, "--dry-run", "-c", str(cfg)])
    assert res.exit_code == 2, res.output
    said = " ".join(res.output.split())
    assert "only 0 of 30 rows are usable" in said and "{" not in said, said
    assert "30 × 2 actions are not in decision.actions: 'blast' (15 rows), 'promo' (15 rows)" in said, said


def test_a_warm_start_valued_below_the_logging_policy_is_not_saved_unless_forced(tmp_path, store_url):
    """The logging policy knew who wanted what as it is now (the good e-mail 8 times in 10), but
    the oldest 70% of the log, which the engine trains on, rewarded the other e-mail: the
    warm-started engine is valued below the logging policy on the newest touches, so it is not
    saved (exit 1, the reason said, no version), and ``--force`` saves it."""
    cfg, _ = _setup(tmp_path, store_url)
    rng = np.random.default_rng(3)
    industry = np.where(np.arange(N) % 2 == 0, 0, 1)  # as _setup: software wants email_a now
    cut = int(N * 0.7)
    path = tmp_path / "shifted.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["email", "campaign", "sent_at", "points", "p"])
        for i in range(N):
            good = industry[i] if i >= cut else 1 - industry[i]  # the oldest touches rewarded the other e-mail
            pick = good if rng.random() < 0.8 else 1 - good
            chance = 0.8 if i >= cut and pick == good else 0.2 if i >= cut else 0.5
            reward = (2.0 if pick == good else 0.0) + rng.normal(0, 0.1)
            row = [f"p{i}@x.example", ["email_a", "email_b"][pick], (T0 + timedelta(hours=i)).isoformat()]
            w.writerow([*row, f"{reward:.4f}", chance])
    args = ["learn", "history", str(path), *ARGS, "--propensity-col", "p", "-c", str(cfg)]
    runner = CliRunner()
    refused = runner.invoke(app, [*args, "--json"])
    assert refused.exit_code == 1, refused.output
    data = json.loads(refused.stdout)
    assert data["version"] is None and "below" in data["refused"]
    assert data["policy"]["estimate"] < data["logging"]["estimate"]
    store = Store(store_url)
    with store.connect() as conn:
        assert learning_store.latest_version(conn, data["model"]) is None, "nothing saved"
    said = runner.invoke(app, args)
    assert said.exit_code == 1 and "--force" in said.output
    forced = runner.invoke(app, [*args, "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    with store.connect() as conn:
        assert learning_store.latest_version(conn, data["model"]) == json.loads(forced.stdout)["version"] == 1
    store.dispose()


def test_actions_the_log_never_tried_wait_for_the_explore_share_after_a_warm_start(tmp_path, store_url):
    """The log tried three of six catalog actions. Warm-started, the engine does not bet most of
    its decisions on the three nothing measured (their prior is wide, so a free Thompson draw
    picks them about three times in four): they get the explore share until they have outcomes,
    in the valuation and in the decisions that follow."""
    cfg, path = _setup(tmp_path, store_url)
    conf = yaml.safe_load(cfg.read_text())
    conf["decision"]["actions"] += [
        {"id": "email_c", "kind": "email", "channel": "email"},
        {"id": "email_d", "kind": "email", "channel": "email"},
        {"id": "email_e", "kind": "email", "channel": "email"},
    ]
    cfg.write_text(yaml.safe_dump(conf))
    runner = CliRunner()
    args = ["learn", "history", str(path), *ARGS, "--propensity", "0.3333", "--map-action", "no_touch=wait"]
    res = runner.invoke(app, [*args, "--json", "-c", str(cfg)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    untried = sum(data["diagnostics"]["never_tried"].values())
    assert 0 < untried <= 0.1 + 1e-9, data["diagnostics"]
    assert data["version"] == 1
    decided = runner.invoke(app, ["decide", "-c", str(cfg)])
    assert decided.exit_code == 0, decided.output
    store = Store(store_url)
    with store.connect() as conn:
        chosen = [r.action for r in conn.execute(select(decision_features.c.action))]
    store.dispose()
    assert len(chosen) >= N * 0.8  # the holdout's rules decide some without the engine
    share = sum(a in ("email_c", "email_d", "email_e") for a in chosen) / len(chosen)
    assert share < 0.15, share


def test_a_bad_reward_or_time_cell_skips_its_row_not_the_whole_log(tmp_path):
    """One reward cell of 'n/a ' or '12 pts', or one time of 'yesterday', in a log of years
    stopped the whole warm start ("column 'points' must hold numbers"). Each such row is now
    skipped and counted with its reason, the first row named, as unknown contacts are."""
    cfg, path = _setup(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    with path.open("a", encoding="utf-8") as f:
        f.write(f"p1@x.example,email_a,{T0.isoformat()},12 pts\n")
        f.write("p2@x.example,email_a,yesterday,1.0\n")
        f.write(f"p3@x.example,email_a,{T0.isoformat()},inf\n")
    res = CliRunner().invoke(
        app,
        ["learn", "history", str(path), *ARGS, "--map-action", "no_touch=wait", "--dry-run", "--json", "-c", str(cfg)],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["used"] == N and data["rows"] == N + 4
    skipped = data["skipped"]
    assert skipped["no reward in 'points' (first: row 603, '12 pts')"] == 2, skipped  # and row 605's inf
    assert skipped["no time in 'sent_at' (first: row 604, 'yesterday')"] == 1, skipped


def test_a_yes_no_reward_with_one_stray_cell_skips_that_row_only(tmp_path):
    """A yes/no outcome column with one 'maybe' is read cell by cell: yes/no count 1/0 and the
    'maybe' row is skipped. It used to skip all 600 rows, naming the first 'no' as the bad cell."""
    cfg, path = _setup(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    rows = list(csv.reader(path.open()))
    for i, row in enumerate(rows[1:], start=1):
        row[3] = "yes" if float(row[3]) > 1 else "no"
        if i == 7:
            row[3] = "maybe"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    res = CliRunner().invoke(
        app,
        ["learn", "history", str(path), *ARGS, "--map-action", "no_touch=wait", "--dry-run", "--json", "-c", str(cfg)],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["used"] == N - 1, data["skipped"]
    assert data["skipped"]["no reward in 'points' (first: row 8, 'maybe')"] == 1, data["skipped"]


def test_a_log_keyed_by_a_sources_ids_joins_through_that_source(tmp_path):
    """A log keyed by the team's own customer ids (imported with --id-col) had no way in but as
    store contact ids: "5" joined whoever the store numbered 5, silently another person, and
    "0005" joined contact 5 too. --contact-source SOURCE resolves them as that source's ids;
    without it a zero-padded number is no store id."""
    from hub.pipeline.history import _resolve

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    cfg, _ = _setup(tmp_path, url)
    store = Store(url)
    with store.connect() as conn:
        by_email = contact_store.resolve_emails(conn, ["p5@x.example", "p4@x.example"])
        assert by_email["p4@x.example"] == 5  # the store numbers p4 as 5: a log's "5" is not store id 5
        assert _resolve(conn, ["5", "0005", "nobody"], source="crm").tolist() == [by_email["p5@x.example"], -1, -1]
        assert _resolve(conn, ["0005", "5"]).tolist() == [-1, 5]  # store ids, as before
    store.dispose()
    path = tmp_path / "by_id.csv"
    rows = [f"{i},{'email_a' if i % 2 else 'email_b'},{(T0 + timedelta(hours=i)).isoformat()},1.0" for i in range(40)]
    path.write_text("customer,campaign,sent_at,points\n" + "\n".join(rows) + "\n", encoding="utf-8")
    args = ["--contact-col", "customer", "--action-col", "campaign", "--reward-col", "points", "--time-col", "sent_at"]
    res = CliRunner().invoke(
        app, ["learn", "history", str(path), *args, "--contact-source", "crm", "--dry-run", "--json", "-c", str(cfg)]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["used"] == 40
    # store contact ids, as documented: read as numbers ("5.0"), a CSV's matched nobody
    path.write_text(
        "customer,campaign,sent_at,points\n"
        + "\n".join(r.replace("0,", "40,", 1) if r.startswith("0,") else r for r in rows)
        + "\n",
        encoding="utf-8",
    )
    res = CliRunner().invoke(app, ["learn", "history", str(path), *args, "--dry-run", "--json", "-c", str(cfg)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["used"] == 40


def test_many_unmapped_actions_are_one_line_with_the_first_few_and_json_lists_them_all(tmp_path):
    """The Open Bandit file's 80 items left 71 unmapped: `hub learn history` printed 71 "Skipped"
    lines. One line now counts them and names the first few; --json keeps every name and count."""
    cfg, path = _setup(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    with path.open("a", newline="") as f:
        w = csv.writer(f)
        for k in range(1, 8):  # item_1 on 1 row ... item_7 on 7: the most frequent named first
            w.writerows([["p0@x.example", f"item_{k}", T0.isoformat(), "1.0"]] * k)
    args = ["learn", "history", str(path), *ARGS, "--map-action", "no_touch=wait", "--dry-run", "-c", str(cfg)]
    res = CliRunner().invoke(app, args, terminal_width=400)
    assert res.exit_code == 0, res.output
    skipped = [line for line in res.output.splitlines() if line.startswith("Skipped")]
    assert len(skipped) == 2, res.output  # the unmapped actions, the unknown contact
    line = next(s for s in skipped if "decision.actions" in s)
    assert line.startswith("Skipped 28: 7 actions are not in decision.actions: 'item_7' (7 rows), 'item_6' (6 rows)"), (
        line
    )
    assert "and 4 more" in line and "--json" in line and "item_4'" not in line, line
    data = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    assert data["unmapped_actions"] == {f"item_{k}": k for k in range(7, 0, -1)}


def test_a_warm_started_version_says_so_in_hub_model_list_as_on_the_models_page(tmp_path, store_url):
    """The note column said "in use" and nothing of the warm start, on both (one note())."""
    from hub.config import load_settings
    from hub.pipeline.context import HubContext
    from hub.pipeline.model_versions import model_versions

    cfg, path = _setup(tmp_path, store_url)
    args = ["learn", "history", str(path), *ARGS, "--propensity", "0.3333", "--map-action", "no_touch=wait"]
    assert CliRunner().invoke(app, [*args, "-c", str(cfg)]).exit_code == 0
    listed = CliRunner().invoke(app, ["model", "list", "-c", str(cfg)], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert "in use, warm start from 600 past touches" in listed.stdout, listed.stdout
    ctx = HubContext.build(load_settings(cfg), embedded=True)
    try:
        assert model_versions(ctx)[0].note() == "in use, warm start from 600 past touches"  # the page's cell
    finally:
        ctx.close()
