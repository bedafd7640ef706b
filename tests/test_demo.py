"""`hub demo` runs the real pipeline against the sandbox market and measures ground truth."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import psycopg

from hub.config import load_settings
from hub.demo import NOT_REACHED, run_demo
from hub.demo_store import CONSOLE_PASSWORD, CONSOLE_USER
from hub.sandbox.clock import DEFAULT_START
from hub.status import connector_status
from hub.store import Store
from hub.store.queries import last_checks
from tests.test_config import run_hub


def test_demo_runs_the_pipeline_and_the_market_executes_what_was_pushed(tmp_path):
    days_seen = []
    report = run_demo(contacts=300, weeks=1, seed=2, workdir=tmp_path, on_day=lambda d, n: days_seen.append(d))
    assert days_seen == list(range(1, 8))
    decided = [a for a in report.arms if a.arm != NOT_REACHED]
    assert decided and sum(a.decisions for a in decided) > 0 and sum(a.pushes for a in decided) > 0
    assert sum(a.contacts for a in report.arms) == 300
    # the market received and ran the pushed actions: people opened the emails it sent
    assert sum(a.totals["opens"] for a in decided) > 0
    assert report.policy in ("rules", "engine")
    # syncs are stamped by the hub's clock, as decisions and monitoring are: `hub status` reads
    # one time line (simulated days here), not the wall clock beside simulated decisions
    settings = load_settings(tmp_path / "hub.yaml")
    store = Store(settings.store_url)
    try:
        synced = [c.last_sync for c in connector_status(settings, store)]
        with store.connect() as conn:  # the demo checked each connector, as a user would after setup
            checks = last_checks(conn)
    finally:
        store.dispose()
    assert synced and all(DEFAULT_START <= t <= DEFAULT_START + timedelta(days=8) for t in synced), synced
    assert all(t < datetime.now(UTC) - timedelta(days=30) for t in synced)
    assert {name: c["ok"] for name, c in checks.items()} == {"hubspot": True, "salesforce": True}
    assert all(c["checked_at"] <= min(synced) for c in checks.values())  # on the same time line, before day 1


def test_demo_command_prints_the_table_and_which_policy_ran(tmp_path):
    out = run_hub("demo", "--contacts", "200", "--weeks", "1", "--workdir", str(tmp_path / "d"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "won revenue" in out.stdout and "Policy that ran:" in out.stdout
    assert (tmp_path / "d" / "hub.yaml").exists()
    # what `hub status` tells next: not `hub run`, which would fail to reach the stopped sandbox
    status = run_hub("status", "-c", str(tmp_path / "d" / "hub.yaml"), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "finished demo's store" in status.stdout and "hub run" not in status.stdout, status.stdout
    # nor does `hub config validate`: its CRMs are gone, so `hub connectors setup` would fail to reach them
    valid = run_hub("config", "validate", "-c", str(tmp_path / "d" / "hub.yaml"), cwd=tmp_path)
    assert valid.returncode == 0, valid.stderr
    assert "finished demo's" in valid.stdout and "connectors setup" not in valid.stdout, valid.stdout
    # nor checks them: they would be recorded unreachable after seconds of retries
    checked = run_hub("connectors", "list", "--check", "-c", str(tmp_path / "d" / "hub.yaml"), cwd=tmp_path)
    assert checked.returncode == 2 and "finished demo's store" in checked.stderr, checked.stderr
    assert "FAILED" not in checked.stdout and "still failing" not in checked.stdout + checked.stderr
    # the console opens on the demo's store with the login it wrote, and the password is never printed
    password = (tmp_path / "d" / CONSOLE_PASSWORD).read_text().strip()
    assert password and password not in out.stdout + out.stderr + status.stdout + status.stderr
    assert f"user {CONSOLE_USER}, password in" in out.stdout
    from fastapi.testclient import TestClient

    from hub.api.app import create_app

    with TestClient(create_app(load_settings(tmp_path / "d" / "hub.yaml"))) as client:
        form = client.get("/console/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        creds = {"csrf": csrf, "username": CONSOLE_USER, "password": password}
        assert client.post("/console/login", data=creds, follow_redirects=False).status_code == 303
        overview = html.unescape(client.get("/console/", follow_redirects=False).text)
        assert "decisions in" in overview  # the Overview, not the login
        # no button that would call the stopped CRMs and record them unreachable; the page says why
        assert "Check connectors now" not in overview and "finished demo's store" in overview
        csrf = re.search(r'name="csrf" value="([^"]+)"', overview).group(1)  # the session's, not the login form's
        checked = client.post("/console/connectors/check", data={"csrf": csrf}, follow_redirects=True)
        assert "finished demo's store" in html.unescape(checked.text) and "unreachable" not in checked.text
        queues = html.unescape(client.get("/console/queues").text)  # as `hub status` says it
        assert "finished demo's store" in queues and "hub run" not in queues, queues[queues.find("<h1>") :][:600]


def _lift_figures(report):
    return [(lf.arm, lf.metric, lf.store.n_arm, lf.store.n_base, round(lf.store.diff, 9)) for lf in report.lifts]


def test_demo_on_postgresql_gives_what_it_gives_on_sqlite_and_the_commands_read_it(tmp_path, pg_url):
    """The production store walked end to end: the same seed gives the same decisions and lift on
    PostgreSQL as on SQLite, and the demo's hub.yaml points the other commands at that database."""
    on_sqlite = run_demo(contacts=120, days=3, seed=4, workdir=tmp_path / "sqlite")
    on_pg = run_demo(contacts=120, days=3, seed=4, workdir=tmp_path / "pg", store_url=pg_url)
    assert on_pg.lifts and _lift_figures(on_pg) == _lift_figures(on_sqlite)
    assert [(a.arm, a.decisions, a.pushes) for a in on_pg.arms] == [
        (a.arm, a.decisions, a.pushes) for a in on_sqlite.arms
    ]
    assert load_settings(tmp_path / "pg" / "hub.yaml").store_url == pg_url
    lift = {  # the same figures to the last bit: reports read events in one order on both stores
        where: run_hub("report", "lift", "-c", str(tmp_path / where / "hub.yaml"), "--json").stdout
        for where in ("sqlite", "pg")
    }
    assert json.loads(lift["pg"])["rows"] and lift["pg"] == lift["sqlite"]
    assert not (tmp_path / "pg" / "demo.db").exists()
    status = run_hub("status", "-c", str(tmp_path / "pg" / "hub.yaml"), "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert {c["name"]: c["records"] > 0 for c in json.loads(status.stdout)["connectors"]} == {
        "hubspot": True,
        "salesforce": True,
    }


def test_demo_refuses_a_postgresql_database_that_holds_tables_and_leaves_it_alone(tmp_path, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int)")
        conn.execute("INSERT INTO customers VALUES (1)")
    out = run_hub("demo", "--contacts", "60", "--weeks", "1", "--workdir", str(tmp_path / "d"), "--store-url", pg_url)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "already holds data in 1 table (customers)" in out.stderr and "empty database" in out.stderr, out.stderr
    assert "simulated days" not in out.stdout + out.stderr  # said before the progress bar starts
    assert not (tmp_path / "d" / "hub.yaml").exists()
    with psycopg.connect(pg_url) as conn:  # nothing was added to it
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        assert tables == [("customers",)]


def test_demo_says_so_when_the_store_url_is_not_postgresql_or_not_reachable(tmp_path):
    sqlite = run_hub("demo", "--workdir", str(tmp_path / "a"), "--store-url", f"sqlite:///{tmp_path / 'x.db'}")
    assert sqlite.returncode == 1 and "is not PostgreSQL" in sqlite.stderr, sqlite.stderr
    gone = run_hub(
        "demo",
        "--workdir",
        str(tmp_path / "b"),
        "--store-url",
        "postgresql://postgres:s3cret@127.0.0.1:5432/pgwalk_nope",
    )
    assert gone.returncode == 1 and "cannot reach the demo's database" in gone.stderr, gone.stderr
    assert "s3cret" not in gone.stderr


def test_a_store_url_with_a_password_is_written_to_a_hub_yaml_only_its_owner_reads(tmp_path, pg_url):
    """The demo's hub.yaml names the store as given (the other commands read it): with a password
    in the URL, the file is not left readable by every user of the machine."""
    with_password = pg_url.replace("postgres@", "postgres:demo-pass@")  # the test server trusts loopback
    run_demo(contacts=60, days=1, seed=1, workdir=tmp_path, store_url=with_password)
    assert (tmp_path / "hub.yaml").stat().st_mode & 0o777 == 0o600
    run_demo(contacts=60, days=1, seed=1, workdir=tmp_path / "plain")
    # the console's session secret is in it either way, and its password in a file of its own
    assert (tmp_path / "plain" / "hub.yaml").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "plain" / CONSOLE_PASSWORD).stat().st_mode & 0o777 == 0o600


def test_demo_runs_on_a_migrated_hub_database_that_holds_no_rows(tmp_path, pg_url):
    """`hub migrate` on a new database, then `hub demo --store-url`: the tables are the hub's own
    and hold nothing, so there is nothing to mix with."""
    Store(pg_url, auto_migrate=True).dispose()
    report = run_demo(contacts=60, days=1, seed=1, workdir=tmp_path, store_url=pg_url)
    assert sum(a.decisions for a in report.arms) > 0


def test_demo_refuses_a_workdir_holding_a_hub_yaml_that_is_not_a_demos(tmp_path):
    """`hub demo --workdir .` in a project directory replaced its hub.yaml (declared features,
    rules, connectors) with the demo's without a word. Only a demo's own hub.yaml is replaced."""
    assert run_hub("init", cwd=tmp_path).returncode == 0
    mine = (tmp_path / "hub.yaml").read_text()
    out = run_hub("demo", "--contacts", "50", "--weeks", "1", "--workdir", str(tmp_path))
    assert out.returncode == 2, out.stdout + out.stderr
    assert "is not a demo's" in out.stderr and "--workdir" in out.stderr, out.stderr
    assert "simulated days" not in out.stdout + out.stderr  # said before anything runs
    assert (tmp_path / "hub.yaml").read_text() == mine and not (tmp_path / "demo.db").exists()
    from hub.demo_store import DEMO_MARK, check_demo_workdir

    (tmp_path / "hub.yaml").write_text(f"{DEMO_MARK}\nstore_url: postgresql://h/demo\n")
    check_demo_workdir(tmp_path)  # a demo's own, marked
    (tmp_path / "hub.yaml").write_text("store_url: sqlite:///demo.db\n")
    check_demo_workdir(tmp_path)  # a demo's from before the mark
