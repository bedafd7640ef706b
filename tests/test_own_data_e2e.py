"""A new user's own data, end to end through the CLI, as the README walks it.

Their people come from a CSV with a custom `plan` property; their past campaign log says who got
which e-mail and what it earned (`email_a` pays for `pro` people, `email_b` for `free` ones). The
hub imports the people, declares `plan` as a feature, warm-starts the engine on the log, shows
its offline value against every single action, and goes live: the next `hub decide` sends
`email_a` to pro people and `email_b` to free ones with the warm-started model. The built-in
schema cannot see `plan`, so without the declared feature no policy could do better than one
e-mail for everyone.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.store import Store
from hub.store.schema import contacts, decision_features, decisions

N = 600
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
ACTIONS = [
    {"id": "email_a", "kind": "email", "channel": "email"},
    {"id": "email_b", "kind": "email", "channel": "email"},
    {"id": "wait", "kind": "wait"},
]
FEATURES = [
    {"name": "plan", "label": "Plan", "source": {"field": "properties.plan"}, "type": "categorical"},
    {"name": "seats", "source": {"field": "properties.seats"}, "transforms": ["log1p", "standardize"]},
]


def _files(tmp_path, store_url):
    rng = np.random.default_rng(0)
    plan = np.where(np.arange(N) % 2 == 0, "free", "pro")
    with (tmp_path / "people.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["email", "first_name", "plan", "seats"])
        for i in range(N):
            w.writerow([f"p{i}@x.example", f"P{i}", plan[i], int(rng.integers(1, 50))])
    action = rng.integers(0, 3, N)
    good = np.where(plan == "pro", 0, 1)
    reward = np.where(action == 2, 0.3, np.where(action == good, 2.0, 0.0)) + rng.normal(0, 0.3, N)
    with (tmp_path / "touches.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["email", "campaign", "sent_at", "points"])
        for i in range(N):
            at = (T0 + timedelta(hours=i)).isoformat()
            w.writerow([f"p{i}@x.example", ACTIONS[action[i]]["id"], at, f"{reward[i]:.4f}"])
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(yaml.safe_dump({"store_url": store_url, "decision": {"actions": ACTIONS, "features": FEATURES}}))
    return cfg


def _run(*args: str) -> dict:
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_import_declare_warm_start_and_go_live(tmp_path, store_url):
    cfg = _files(tmp_path, store_url)
    c = ("-c", str(cfg))
    migrated = CliRunner().invoke(app, ["migrate", *c])  # PostgreSQL needs it; SQLite migrates itself
    assert migrated.exit_code == 0, migrated.output
    imported = _run("import", "contacts", str(tmp_path / "people.csv"), *c)
    assert imported["created"] == N and imported["skipped"] == 0
    shown = _run("features", "show", *c)
    plan = next(col for col in shown["declared"] if col["name"] == "plan")
    assert plan["coverage"] == 1.0 and {lvl for lvl, _ in plan["top"]} == {"free", "pro"}
    warm = _run(
        "learn", "history", str(tmp_path / "touches.csv"), "--action-col", "campaign", "--reward-col", "points",
        "--time-col", "sent_at", "--propensity", "0.3333", *c,
    )  # fmt: skip
    best = warm["actions"][warm["best_action"]]
    assert warm["policy"]["low"] > best["high"] and warm["version"] == 1
    res = CliRunner().invoke(app, ["decide", *c])
    assert res.exit_code == 0, res.output
    store = Store(store_url)
    with store.connect() as conn:
        rows = conn.execute(
            select(decisions.c.policy_version, decisions.c.arm, decision_features.c.action, contacts.c.properties)
            .join(decision_features, decision_features.c.decision_id == decisions.c.id)
            .join(contacts, contacts.c.id == decisions.c.contact_id)
        ).all()
    store.dispose()
    engine = [r for r in rows if r.arm == "engine"]
    assert len(engine) > N * 0.8 and all(r.policy_version == f"{warm['model']}@v1" for r in engine)
    pro = [r.action for r in engine if r.properties["plan"] == "pro"]
    free = [r.action for r in engine if r.properties["plan"] == "free"]
    assert pro.count("email_a") / len(pro) > 0.8 and free.count("email_b") / len(free) > 0.8
