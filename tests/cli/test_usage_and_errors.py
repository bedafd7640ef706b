"""The `hub` command tells the truth: usage errors exit 2 with the usage line, the hub's own
errors print one line with what to do (exit 1, or 2 for configuration), never a traceback."""

from __future__ import annotations

import json
import re
import socket
import subprocess

import pytest
import yaml
from typer.testing import CliRunner

from hub.cli import app
from hub.config import sqlite_beside
from tests.integration.workers import HUB
from tests.test_config import run_hub


def hub(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="hub")


def _unboxed(text: str) -> str:
    """The words of an error panel without its frame and line breaks."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", text).split())


def _config(tmp_path, **body) -> str:
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return str(path)


def test_an_unknown_command_prints_the_usage_line_and_exits_2():
    res = run_hub("bogus")  # the installed console script, as a user runs it
    assert res.returncode == 2
    assert "Usage: hub [OPTIONS] COMMAND" in res.stderr and "No such command 'bogus'" in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


@pytest.mark.parametrize(
    "args, words",
    [
        (["status", "--bogus"], "No such option: --bogus"),
        (["pushes", "list", "--state", "bogus"], "awaiting_approval"),  # names the valid states
        (["alerts", "list", "--state", "shut"], "open, acknowledged, cleared, all"),
        (["approvals", "list", "--state", "maybe"], "awaiting, approved, rejected, expired, all"),
        (["killswitch", "on", "routng", "--by", "ann"], "next_best_action, routing, scoring"),
    ],
)
def test_an_unknown_option_or_state_exits_2_naming_what_is_valid(args, words):
    res = hub(*args)
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("Usage: hub ") and words in _unboxed(res.stderr)


@pytest.mark.parametrize(
    "url, code, words",
    [
        ("nosuchdb://x/y", 2, "store_url is not a database URL"),
        ("sqlite:////nonexistent-dir/sub/hub.db", 1, "cannot open the store"),
        ("postgresql://nobody@127.0.0.1:9/none", 1, "cannot reach the store"),
    ],
)
def test_a_bad_store_url_is_one_line_with_what_to_do(tmp_path, url, code, words):
    res = hub("pushes", "list", "-c", _config(tmp_path, store_url=url))
    assert res.exit_code == code, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], res.stderr
    assert "store_url" in lines[0] or "database" in lines[0]
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_a_missing_config_or_input_file_is_one_line(tmp_path):
    res = hub("model", "list", "-c", str(tmp_path / "absent.yaml"))
    assert res.exit_code == 2 and "absent.yaml not found" in res.stderr and "hub init" in res.stderr
    cfg = _config(tmp_path, store_url=f"sqlite:///{tmp_path / 'hub.db'}")
    res = hub("import", "contacts", str(tmp_path / "people.csv"), "-c", cfg)
    assert res.exit_code == 2 and "people.csv" in res.stderr
    assert "Traceback" not in res.output and len(res.stderr.strip().splitlines()) <= 3


def test_a_relative_sqlite_path_is_beside_the_config_not_the_working_folder(tmp_path, monkeypatch):
    folder = tmp_path / "cfg"
    folder.mkdir()
    _config(folder, store_url="sqlite:///rel.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    res = hub("migrate", "-c", "../cfg/hub.yaml")
    assert res.exit_code == 0, res.output
    assert (folder / "rel.db").exists() and not (elsewhere / "rel.db").exists()
    assert not list(elsewhere.iterdir())


def test_sqlite_beside_keeps_absolute_memory_and_other_urls(tmp_path):
    assert sqlite_beside("sqlite:///a/b.db?timeout=3", tmp_path) == f"sqlite:///{tmp_path}/a/b.db?timeout=3"
    for url in ("sqlite:////abs/hub.db", "sqlite:///:memory:", "sqlite://", "postgresql://u@h/db"):
        assert sqlite_beside(url, tmp_path) == url


def test_empty_results_say_so_and_json_is_an_empty_list(tmp_path):
    cfg = _config(tmp_path, store_url="sqlite:///hub.db")
    for args, words in (
        (["pushes", "list"], "No failed pushes."),
        (["pushes", "list", "--state", "all"], "No pushes yet."),
        (["alerts", "list"], "No open alerts."),
        (["approvals", "list"], "Nothing awaits approval."),
        (["model", "list"], "No model saved yet"),
        (["audit"], "The audit log is empty."),
    ):
        res = hub(*args, "-c", cfg)
        assert res.exit_code == 0 and words in res.stdout, (args, res.output)
        res = hub(*args, "-c", cfg, "--json")
        assert res.exit_code == 0 and res.stdout.strip() == "[]", (args, res.output)
    assert hub("killswitch", "on", "routing", "--by", "ann", "--note", "test", "-c", cfg).exit_code == 0
    (entry,) = json.loads(hub("audit", "-c", cfg, "--json").stdout)
    assert (entry["actor"], entry["action"], entry["reason"]) == ("ann", "kill_switch_on", "test"), entry


def test_hub_serve_prints_its_url(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = _config(tmp_path, store_url=f"sqlite:///{tmp_path / 'hub.db'}")
    proc = subprocess.Popen(
        [HUB, "serve", "-c", cfg, "--host", "127.0.0.1", "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        first = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert f"http://127.0.0.1:{port}/" in first and "console" in first, first


def test_an_unknown_contact_exits_1_naming_it(tmp_path):
    cfg = _config(tmp_path, store_url="sqlite:///hub.db")
    res = hub("decide", "--contact", "424242", "-c", cfg)
    assert res.exit_code == 1 and "No contact has the e-mail, record id or contact id '424242'" in res.stderr
    res = hub("features", "explain", "nobody@example.com", "-c", cfg)
    assert res.exit_code == 1 and "no contact 'nobody@example.com'" in res.stderr


def test_status_of_an_embedded_hub_says_workers_are_not_asked(tmp_path, redis_url):
    """As the console's Queues page: an embedded hub has no workers, so "Workers alive: 0" would
    read as an outage."""
    from tests.conftest import hub_config

    path = hub_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)
    celery = run_hub("status", "-c", str(path))
    assert celery.returncode == 0 and "Workers alive: 0" in celery.stdout, celery.stderr
    said = " ".join(celery.stdout.split())  # as wrapped to the terminal's width
    assert f"hub worker -c {path}" in said and f"hub run --once -c {path}" in said  # and what to do next
    cfg = yaml.safe_load(path.read_text())
    cfg["api"] = {"embedded": True}
    path.write_text(yaml.safe_dump(cfg))
    embedded = run_hub("status", "-c", str(path))
    assert embedded.returncode == 0, embedded.stderr
    assert "Embedded mode" in embedded.stdout and "Workers alive" not in embedded.stdout


def test_run_once_without_a_connector_says_what_to_do_next(tmp_path):
    path = tmp_path / "hub.yaml"
    assert run_hub("init", str(path)).returncode == 0
    r = run_hub("run", "--once", "-c", str(path), env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    assert "No connector is enabled" in r.stdout and "connectors: in hub.yaml" in r.stdout
    assert "Decided for 0 contacts" in r.stdout


def test_hub_decisions_lists_what_was_decided_with_the_reason_and_the_pushes(tmp_path):
    """Data brought in with hub import has no CRM to show its decisions: hub decisions does."""
    import json

    path = tmp_path / "hub.yaml"
    assert run_hub("init", str(path)).returncode == 0
    (tmp_path / "people.csv").write_text("Email,First\na@x.example,Ann\nb@x.example,Bob\n")
    imported = run_hub(
        "import", "contacts", str(tmp_path / "people.csv"), "--map", "email=Email,first_name=First", "-c", str(path)
    )
    assert imported.returncode == 0, imported.stderr
    assert run_hub("run", "--once", "-c", str(path)).returncode == 0
    listed = run_hub("decisions", "-c", str(path), env={"COLUMNS": "200"})
    assert listed.returncode == 0, listed.stderr
    assert "a@x.example" in listed.stdout and "b@x.example" in listed.stdout and "next_best_action=" in listed.stdout
    one = run_hub("decisions", "A@x.example", "--json", "-c", str(path))
    rows = json.loads(one.stdout)
    assert [r["contact_email"] for r in rows] == ["a@x.example"]
    assert rows[0]["explanation"] and rows[0]["actions"][0]["kind"] == "set_fields" and rows[0]["pushes"] == []
    assert len(json.loads(run_hub("decisions", "--limit", "1", "--json", "-c", str(path)).stdout)) == 1
    unknown = run_hub("decisions", "nobody@x.example", "-c", str(path))
    assert unknown.returncode == 1 and "No contact has" in unknown.stderr
    cfg = yaml.safe_load(path.read_text())
    cfg["store_url"] = f"sqlite:///{tmp_path / 'dmeo.db'}"
    path.write_text(yaml.safe_dump(cfg))
    missing = run_hub("decisions", "-c", str(path))
    assert missing.returncode == 1 and "no store at" in missing.stderr
    assert not (tmp_path / "dmeo.db").exists()


def test_sync_and_setup_without_a_connector_say_so_instead_of_an_empty_table(tmp_path):
    path = tmp_path / "hub.yaml"
    assert run_hub("init", str(path)).returncode == 0
    for args in (["sync"], ["connectors", "setup"]):
        r = run_hub(*args, "-c", str(path), env={"COLUMNS": "200"})
        assert r.returncode == 0, r.stderr
        assert "connector" in r.stdout and "hub.yaml" in r.stdout, (args, r.stdout)
        assert "┏" not in r.stdout, (args, r.stdout)  # no table of nothing


@pytest.mark.parametrize("command", ["sync", "push"])
def test_an_unknown_connector_name_exits_2_naming_the_configured_ones(tmp_path, command):
    cfg = _config(tmp_path, store_url="sqlite:///hub.db")
    res = hub(command, "bogus", "-c", cfg)
    assert res.exit_code == 2, res.output
    said = _unboxed(res.stderr)
    assert "no connector 'bogus' in the config (configured: none)" in said and "━" not in res.output, said


def test_report_models_says_when_there_is_no_version_and_takes_json(tmp_path):
    cfg = _config(tmp_path, store_url="sqlite:///hub.db")
    assert hub("migrate", "-c", cfg).exit_code == 0
    res = hub("report", "models", "-c", cfg)
    assert res.exit_code == 0 and "No lead_score versions yet" in res.stdout and "┏" not in res.stdout, res.output
    res = hub("report", "models", "-c", cfg, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"name": "lead_score", "live": None, "versions": []}


def _two_people(tmp_path):
    """A `hub init` config with a@example.com and b@example.com imported; its path."""
    path = tmp_path / "hub.yaml"
    assert run_hub("init", str(path)).returncode == 0
    people = tmp_path / "people.csv"
    people.write_text("email\na@example.com\nb@example.com\n", encoding="utf-8")
    assert hub("import", "contacts", str(people), "-c", str(path)).exit_code == 0
    return path


def test_report_reach_when_everyone_gets_an_action_says_so_without_an_empty_table(tmp_path):
    path = _two_people(tmp_path)
    assert hub("run", "--once", "-c", str(path)).exit_code == 0
    res = hub("report", "reach", "-c", str(path))
    assert res.exit_code == 0 and "All 2 contacts get an action" in res.stdout and "┏" not in res.stdout, res.output


@pytest.mark.parametrize(
    "args",
    [
        ["import", "contacts", "absent.csv"],
        ["import", "segment", "absent.csv"],
        ["learn", "history", "absent.csv", "--contact-col", "a", "--action-col", "b", "--reward-col", "c"],
        ["offline", "evaluate", "--log", "absent.csv", "--action-col", "a", "--reward-col", "b"],
        ["score", "evaluate", "--table", "absent.csv", "--label", "y"],
    ],
)
def test_a_missing_input_file_is_named_in_the_same_words_by_every_command(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    cfg = _config(tmp_path, store_url="sqlite:///hub.db")
    res = hub(*args, "-c", cfg) if args[0] in ("import", "learn") else hub(*args)
    assert res.exit_code == 2, res.output
    assert " ".join(res.stderr.split()) == "absent.csv: no such file. Check the path.", res.stderr


def test_import_lists_skipped_rows_in_file_order(tmp_path):
    """Rows refused by the reader and rows refused by the store are one list, by row number."""
    cfg = _config(tmp_path, store_url="sqlite:///hub.db")
    events = tmp_path / "events.csv"
    events.write_text(
        "email,type,occurred_at\n"
        "stranger@example.com,page_view,2026-02-01T10:00:00Z\n"
        "stranger@example.com,page_view,garbage\n",
        encoding="utf-8",
    )
    res = hub("import", "events", str(events), "-c", cfg)
    assert res.exit_code == 1, res.output  # every row refused: the import failed
    rows = re.findall(r"^  row (\d+)", res.stdout, flags=re.M)
    assert rows == ["1", "2"], res.stdout
    assert "No row was imported" in res.stderr


def test_decide_takes_a_contact_by_email_as_hub_decisions_does(tmp_path):
    path = _two_people(tmp_path)
    res = hub("decide", "--contact", "A@example.com", "-c", str(path))
    assert res.exit_code == 0 and "Decided for 1 contact;" in res.stdout, res.output  # not "1 contact(s)"
    assert "hub push" not in res.stdout and "hub decisions" in res.stdout  # no connector to push to
    shown = hub("decisions", "-c", str(path), "--json")
    assert [d["contact_email"] for d in json.loads(shown.stdout)] == ["a@example.com"]


def test_every_command_has_a_one_line_summary_for_the_help_lists():
    """`hub --help` and `hub GROUP --help` print a command's first paragraph: a line broken in
    its middle reads as two entries."""

    def walk(group, prefix):
        for c in group.registered_commands:
            yield f"{prefix} {c.name or c.callback.__name__}", (c.help or c.callback.__doc__ or "").strip()
        for g in group.registered_groups:
            yield from walk(g.typer_instance, f"{prefix} {g.name}")

    broken = [name for name, doc in walk(app, "hub") if "\n" in doc.split("\n\n")[0]]
    assert broken == []


def test_a_failed_check_exits_1_with_json_too(tmp_path):
    warehouse = {
        "type": "warehouse",
        "receives": [],
        "settings": {"url": f"sqlite:///{tmp_path / 'wh.db'}", "contacts": {"table": "no_such_table"}},
    }
    cfg = _config(tmp_path, store_url="sqlite:///hub.db", connectors={"wh": warehouse})
    text = hub("connectors", "list", "--check", "-c", cfg)
    assert text.exit_code == 1 and "no_such_table" in text.stderr, text.output
    assert "hub connectors setup" not in text.stderr  # setup creates no source table
    res = hub("connectors", "list", "--check", "--json", "-c", cfg)
    assert res.exit_code == 1, res.output
    (wh,) = [row for row in json.loads(res.stdout) if row["name"] == "wh"]
    assert wh["last_check"].startswith("FAILED") and "no_such_table" in wh["problem"]


def test_retrying_a_push_that_is_not_failed_names_it_and_exits_1(tmp_path):
    cfg = _config(tmp_path, store_url="sqlite:///hub.db")
    assert hub("migrate", "-c", cfg).exit_code == 0
    res = hub("pushes", "retry", "999", "-c", cfg)
    assert res.exit_code == 1, res.output
    assert "999: no such push" in " ".join(res.stderr.split()), res.stderr


def test_report_models_without_lead_score_versions_names_the_models_the_store_has(tmp_path):
    """After `hub demo` the store holds the engine's versions and no lead_score one: `hub report
    models` said only "No lead_score versions yet" where `hub model list` and the console list
    six versions; it now names them and where to look."""
    from hub.store import Store
    from hub.store.models_repo import save_snapshot

    cfg = _config(tmp_path, store_url="sqlite:///hub.db")
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    with store.begin() as conn:
        for _ in range(2):
            save_snapshot(conn, "engine-abc", b"x", {"learned": 1})
    store.dispose()
    res = hub("report", "models", "-c", cfg)
    assert res.exit_code == 0, res.output
    said = _unboxed(res.stdout)
    assert "No lead_score versions yet" in said and "engine-abc (2 versions)" in said and "hub model list" in said, said


def test_a_top_level_command_asked_under_report_names_where_it_is():
    """`hub report audit` (the audit log is `hub audit`) said only "No such command 'audit'"."""
    res = run_hub("report", "audit")
    assert res.returncode == 2 and "No such command 'audit'" in res.stderr
    assert "hub audit" in _unboxed(res.stderr), res.stderr
    other = run_hub("report", "nosuch")
    assert other.returncode == 2 and "hub nosuch" not in _unboxed(other.stderr)


def test_status_with_the_broker_unreachable_exits_1_naming_it_without_its_password(tmp_path):
    """A worker pointed at a wrong Redis port is a failure an operator must see in the exit code
    (README: "1 ... the store or broker unreachable"), and the message says which broker, with
    its password hidden."""
    from tests.conftest import hub_config

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    broker = f"redis://:hunter2secret@127.0.0.1:{port}/3"
    path = hub_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", broker)
    for args in (["status"], ["status", "--json"]):
        res = run_hub(*args, "-c", str(path), env={"COLUMNS": "200"})
        said = res.stdout + res.stderr
        assert res.returncode == 1, said
        assert f"127.0.0.1:{port}/3" in said and "hunter2secret" not in said, said
        assert "Traceback" not in said
    doc = json.loads(run_hub("status", "--json", "-c", str(path)).stdout)
    assert doc["broker_error"] and doc["queues"] is None


def test_retrying_when_nothing_is_failed_says_so_instead_of_queued_again(tmp_path):
    """ "0 push(es) queued again: the next scheduled push sends them" read as work done."""
    cfg = _config(tmp_path, store_url="sqlite:///hub.db")
    assert hub("migrate", "-c", cfg).exit_code == 0
    res = hub("pushes", "retry", "-c", cfg)
    assert res.exit_code == 0, res.output
    assert "No failed pushes to retry" in res.stdout and "queued again" not in res.stdout
    res = hub("pushes", "retry", "999", "-c", cfg)
    assert res.exit_code == 1 and "queued again" not in res.stdout, res.output


def test_python_dash_m_runs_the_cli_as_the_hub_script_does():
    """`python -m hub.cli.main demo ...` imported the module and exited 0 having done nothing."""
    import sys

    r = subprocess.run([sys.executable, "-m", "hub.cli.main", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "Usage: hub" in r.stdout and "demo" in r.stdout, (r.stdout, r.stderr)
    # runpy warned that hub.cli had already imported hub.cli.main (the package imported it eagerly)
    assert "RuntimeWarning" not in r.stderr and r.stderr == "", r.stderr


def test_status_names_the_policy_and_version_decisions_use(tmp_path, redis_url):
    """The console's Overview and /v1/status name the policy in use and its version; `hub status`
    did not, so an operator could not tell from the terminal which model decides."""
    from hub.config import load_settings
    from hub.pipeline.context import HubContext
    from hub.pipeline.learn import ensure_current
    from tests.conftest import hub_config

    path = hub_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)
    assert hub("migrate", "-c", str(path)).exit_code == 0
    ctx = HubContext.build(load_settings(path), embedded=True)
    with ctx.store.connect() as conn:
        ensure_current(ctx, conn)
    name, version = ctx.policy.name, ctx.policy.version
    ctx.close()
    res = CliRunner().invoke(app, ["status", "-c", str(path)], prog_name="hub", terminal_width=200)
    assert res.exit_code == 0, res.output
    assert f"Policy in use: {name} {version}" in res.stdout, res.stdout
    doc = json.loads(hub("status", "--json", "-c", str(path)).stdout)
    assert (doc["policy"], doc["policy_version"]) == (name, version)
