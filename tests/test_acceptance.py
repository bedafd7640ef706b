"""One product, one truth: run `hub demo`, then every CLI command and every console page on
its store, and check that they tell the same story (issue 16, item 7). On both stores: the
demo's SQLite file and an empty PostgreSQL database (`hub demo --store-url`).

What must agree: lift per arm (demo, `hub report lift`, the console's Experiments page,
/metrics); pushes per connector (`hub status`, the console overview, /metrics) and decisions
per arm (demo, /metrics); the model version (demo, `hub model list`, the console, /v1/status,
a real-time decision); open alerts (`hub status`, `hub alerts list`, the console); approvals
waiting; and `hub evaluate` with the current config as the candidate differs by exactly 0.

Commands run in-process through typer's runner (the same parsing and printing as the shell;
a subprocess per command costs seconds of start-up each). Where a command has no ``--json``
yet, its table is parsed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from hub.cli import app
from hub.config import load_settings
from hub.console.passwords import hash_password
from hub.reports.data import load_arm_frame
from hub.reports.lift import lift_rows
from hub.sandbox.clock import DEFAULT_START
from hub.store import Store
from hub.store.schema import alerts, approvals, contact_emails, decisions
from tests.conftest import _pg_database

PASSWORD = "acceptance-password-0123"
DECIDE = "decide-token-acceptance-0123456789"
ADMIN = "admin-token-acceptance-0123456789a"


def hub(*args: str) -> str:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, f"hub {' '.join(args)} exited {res.exit_code}:\n{res.output}"
    return res.output


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every rich table in ``text``: (headers, rows); a wrapped cell's continuation lines
    (first cell blank) are dropped."""
    out: list[tuple[list[str], list[list[str]]]] = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("┃"):
            out.append(([c.strip() for c in s.strip("┃").split("┃")], []))
        elif s.startswith("│") and out:
            cells = [c.strip() for c in s.strip("│").split("│")]
            if cells[0]:
                out[-1][1].append(cells)
    return out


def table(text: str, first_header: str) -> list[dict[str, str]]:
    for headers, rows in tables(text):
        if headers[0] == first_header:
            return [dict(zip(headers, r, strict=False)) for r in rows]
    raise AssertionError(f"no table starting with column {first_header!r} in:\n{text}")


def close(a: float, b: float, digits: int = 4) -> bool:
    """Equal up to printing ``digits`` significant digits (or 3 decimals)."""
    return math.isclose(a, b, rel_tol=10 ** (1 - digits), abs_tol=1e-3)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_store(request) -> Iterator[list[str]]:
    """Both stores the hub runs on: the demo's own SQLite file, and an empty PostgreSQL
    database (production's store, walked end to end with ``hub demo --store-url``)."""
    if request.param == "sqlite":
        yield []
    else:
        for url in _pg_database():
            yield ["--store-url", url]


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_store):
    """Two simulated weeks (the engine saves model versions from day 8) of 150 people, and
    the demo's hub.yaml with an API section (tokens, a console user) beside it."""
    work = tmp_path_factory.mktemp("acceptance")
    args = ("--contacts", "150", "--weeks", "2", "--seed", "3", "--workdir", str(work / "d"), *demo_store)
    printed = hub("demo", *args)
    raw = yaml.safe_load((work / "d" / "hub.yaml").read_text())
    raw["api"] = {
        "embedded": True,
        "tokens": [
            {"name": "decide", "token": DECIDE, "scopes": ["decide"]},
            {"name": "admin", "token": ADMIN, "scopes": ["admin"]},
        ],
        "users": [{"username": "ops", "password_hash": hash_password(PASSWORD, iterations=1000)}],
        "session_secret": "s" * 40,
        "public_url": "https://hub.example.com",
    }
    config = work / "d" / "hub-api.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    return printed, str(config)


def demo_lifts(printed: str) -> dict[tuple[str, str], float]:
    """The store column of the demo's lift table: ``+1.568 [-6.734, +9.870]``."""
    lift = next(rows for headers, rows in tables(printed) if "metric" in headers)
    return {(r[0], r[1]): float(r[2].split()[0]) for r in lift}


def demo_version(printed: str) -> str:
    m = re.search(r"Policy that ran: \S+ (\S+@v\d+)\.", printed)
    assert m, printed
    return m.group(1)


@pytest.fixture(scope="module")
def store_facts(demo):
    _, config = demo
    settings = load_settings(config)
    store = Store(settings.store_url)
    with store.connect() as conn:
        frame = load_arm_frame(conn)
        facts = {
            "lifts": {(r.arm, r.metric): r for r in lift_rows(frame, weights=settings.decision.objective)},
            "decisions": dict(conn.execute(select(decisions.c.arm, func.count()).group_by(decisions.c.arm)).all()),
            "open_alerts": conn.execute(select(func.count()).where(alerts.c.state == "open")).scalar(),
            "waiting": conn.execute(select(func.count()).where(approvals.c.state == "pending")).scalar(),
            "email": conn.execute(  # a contact in the engine arm, so the engine decides for it
                select(contact_emails.c.email)
                .join(decisions, decisions.c.contact_id == contact_emails.c.contact_id)
                .where(decisions.c.arm == "engine")
                .limit(1)
            ).scalar(),
        }
    store.dispose()
    return facts


@pytest.fixture(scope="module")
def api(demo):
    from hub.api.app import create_app

    _, config = demo
    application = create_app(load_settings(config))
    with TestClient(application, base_url="https://hub.example.com") as client:
        html = client.get("/console/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        r = client.post(
            "/console/login",
            data={"csrf": csrf, "username": "ops", "password": PASSWORD},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        yield client


def metrics(api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = api.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"}).text
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if m:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def test_lift_per_arm_agrees_across_demo_report_console_and_metrics(demo, store_facts, api):
    printed, config = demo
    exact = store_facts["lifts"]
    shown = demo_lifts(printed)
    assert shown, "the demo printed no lift"
    report = {
        (r["arm"], r["metric"]): (r["diff"], r["arm_mean"], r["base_mean"])
        for r in json.loads(hub("report", "lift", "-c", config, "--json"))["rows"]
    }
    lift_rows_html = re.findall(
        r'<tr data-arm="(\w+)" data-metric="(\w+)" data-diff="([^"]+)" data-arm-mean="([^"]+)" data-base-mean="([^"]+)">',
        api.get("/console/experiments").text,
    )
    console = {(a, m): tuple(map(float, v)) for a, m, *v in lift_rows_html}
    means = metrics(api)
    for (arm, metric), value in shown.items():
        row = exact[(arm, metric)]
        assert close(value, row.diff, 3), (arm, metric, value, row.diff)
        assert close(float(report[(arm, metric)][0]), row.diff), (arm, metric, report[(arm, metric)], row.diff)
        assert close(console[(arm, metric)][0], row.diff), (arm, metric, console[(arm, metric)], row.diff)
        base = row.baseline
        per_contact = means[("hub_arm_metric_per_contact", (("arm", arm), ("metric", metric)))]
        per_base = means[("hub_arm_metric_per_contact", (("arm", base), ("metric", metric)))]
        assert math.isclose(per_contact - per_base, row.diff, rel_tol=1e-9, abs_tol=1e-9), (arm, metric)
        # each arm's mean beside the difference: the report, the console and /metrics say the same
        for shown_means in (report[(arm, metric)][1:], console[(arm, metric)][1:]):
            assert all(close(float(a), b) for a, b in zip(shown_means, (per_contact, per_base), strict=True)), (
                arm,
                metric,
                shown_means,
                (per_contact, per_base),
            )


def test_decisions_and_pushes_agree_across_demo_status_console_and_metrics(demo, store_facts, api):
    printed, config = demo
    arms = {r["arm"]: r for r in table(printed, "arm") if r.get("decisions")}
    means = metrics(api)
    for arm, n in store_facts["decisions"].items():
        assert int(arms[arm]["decisions"]) == n
        assert sum(v for (name, labels), v in means.items() if name == "hub_decisions" and ("arm", arm) in labels) == n
    status = {r["name"]: r for r in json.loads(hub("status", "-c", config, "--json"))["connectors"]}
    overview = api.get("/console/").text
    demo_pushes = sum(int(r["pushes"]) for r in arms.values())
    done_total = 0
    for name, row in status.items():
        done = means.get(("hub_pushes", (("connector", name), ("state", "done"))), 0.0)
        assert int(row["done"]) == done, name
        m = re.search(rf'<tr data-connector="{name}">(.*?)</tr>', overview, re.S)
        assert m, f"the console overview has no row for {name}"
        cells = re.findall(r"<td[^>]*>(.*?)</td>", m.group(1), re.S)
        assert str(int(done)) in [c.strip() for c in cells], (name, cells)
        failed = means.get(("hub_pushes", (("connector", name), ("state", "failed"))), 0.0)
        assert int(row["failed"]) == failed, name
        done_total += int(done)
    assert done_total == demo_pushes


def test_model_version_agrees_across_demo_model_list_status_console_and_a_real_time_decision(demo, store_facts, api):
    """(The real-time decision adds one decision to the store: the count checks run before.)"""
    printed, config = demo
    version = demo_version(printed)
    name, v = version.split("@v")
    listed = [r for r in json.loads(hub("model", "list", "-c", config, "--json")) if r["name"] == name]
    newest = max((int(r["version"]) for r in listed), default=0)
    assert int(v) == newest >= 1, (version, listed)
    assert f"{name}@v{newest}" in api.get("/console/").text
    assert f'data-model="{name}" data-version="{newest}"' in api.get("/console/models").text
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert api.get("/v1/status", headers=admin).json()["policy_version"] == version
    assert ("hub_policy_info", (("policy", "engine"), ("version", version))) in metrics(api)
    features = json.loads(hub("features", "show", "-c", config, "--json"))
    assert name in json.dumps(features)
    body = {"contact": {"email": store_facts["email"]}}
    live = api.post("/v1/decisions", json=body, headers={"Authorization": f"Bearer {DECIDE}"})
    assert live.status_code == 200, live.text
    assert live.json()["arm"] == "engine" and live.json()["policy_version"] == version


def test_alerts_and_approvals_agree_across_status_alerts_list_and_console(demo, store_facts, api):
    _, config = demo
    status = json.loads(hub("status", "-c", config, "--json"))
    listed = json.loads(hub("alerts", "list", "-c", config, "--json"))
    in_status = status["open_alerts"]
    overview = api.get("/console/").text
    console = len(re.findall(r"<tr data-alert=", overview)) or (0 if "No open alerts" in overview else None)
    assert len(listed) == len(in_status) == console == store_facts["open_alerts"]
    waiting = status["approvals_waiting"]
    pending = json.loads(hub("approvals", "list", "-c", config, "--json"))
    assert waiting == len(pending) == store_facts["waiting"]
    assert f"Approvals waiting: {waiting}" in overview


def test_evaluate_with_the_current_config_as_candidate_differs_by_exactly_zero(demo):
    _, config = demo
    out = json.loads(hub("evaluate", "--candidate", config, "-c", config, "--json", "--bootstrap", "100"))
    diff = out["difference"]
    assert diff, out
    for method, d in diff.items():
        assert (d["value"], d["low"], d["high"]) == (0.0, 0.0, 0.0), method


def test_every_other_command_and_console_page_answers_on_the_demo_store(demo, api):
    _, config = demo
    reach = hub("report", "reach", "-c", config)
    assert "contacts get an action" in reach
    hub("report", "models", "-c", config)
    hub("pushes", "list", "-c", config)
    switches = {r["use case"] for r in table(hub("killswitch", "list", "-c", config), "use case")}
    assert {"next_best_action", "routing", "scoring"} <= switches
    connectors = {r["plugin / name"] for r in table(hub("connectors", "list", "-c", config), "plugin / name")}
    assert {"hubspot", "salesforce"} <= connectors
    overview = api.get("/console/")
    pages = sorted(set(re.findall(r'href="(/console/[\w/-]*)"', overview.text)) | {"/console/experiments"})
    assert len(pages) >= 4, pages
    for path in pages:
        r = api.get(path)
        assert r.status_code == 200, (path, r.status_code)
    contact = re.search(r'href="(/console/contacts/\d+)"', api.get("/console/decisions").text)
    assert contact and api.get(contact.group(1)).status_code == 200


def test_features_show_as_of_the_demos_last_day_sees_its_activity(demo):
    """The demo's days are simulated in the past: `--at` its last day sees the e-mails it sent,
    while 'now' (months later) finds every 30-day window empty."""
    _, config = demo

    def sent_30d(*extra: str) -> float:
        report = json.loads(hub("features", "show", "-c", config, "--json", *extra))
        return next(b["mean"] for b in report["builtin"] if b["name"] == "email_sent_30d")

    last_day = (DEFAULT_START + timedelta(days=14)).date().isoformat()
    assert sent_30d("--at", last_day) > 0
    assert sent_30d() == 0
