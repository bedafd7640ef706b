"""The governance commands as an operator runs them on a real store: in-process through typer's
runner (the same parsing and printing as the shell; a process per command costs seconds), and
`hub status` once as a real `hub` process."""

from __future__ import annotations

from types import SimpleNamespace

import yaml
from typer.testing import CliRunner

from hub.cli import app
from hub.pipeline.context import HubContext
from hub.pipeline.run import run_once
from tests.conftest import hub_config
from tests.governance.conftest import seed
from tests.test_config import run_hub


def _holding_lists(tmp_path, redis_url, crm):  # noqa: ANN001, ANN202
    """Three contacts, two hot, and a hub.yaml that holds list adds for approval: its path."""
    seed(crm, n=3, hot=2)
    return hub_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'hub.db'}",
        redis_url,
        governance={"autonomy": {"kinds": {"add_to_list": "needs_approval"}}},
    )


def test_approve_reject_killswitch_audit_and_status(tmp_path, redis_url, crm):
    from hub.config import load_settings

    path = _holding_lists(tmp_path, redis_url, crm)
    ctx = HubContext.build(load_settings(path), embedded=True)
    run_once(ctx)
    ctx.close()

    def hub(*args):
        r = CliRunner(env={"COLUMNS": "200"}).invoke(app, [*args, "-c", str(path)])
        return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)

    listed = hub("approvals", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("+list sales-ready") == 2 and "awaiting" in listed.stdout
    ok = hub("approvals", "approve", "1", "--by", "ana", "--note", "good fit")
    assert ok.returncode == 0 and "Approval 1 approved by ana" in ok.stdout
    no_reason = hub("approvals", "reject", "2", "--by", "bo")
    assert no_reason.returncode == 1 and "needs a reason" in no_reason.stderr
    rejected = hub("approvals", "reject", "2", "--by", "bo", "--note", "existing customer")
    assert rejected.returncode == 0 and "rejected" in rejected.stdout
    assert hub("approvals", "approve", "99", "--by", "ana").returncode == 1

    on = hub("killswitch", "on", "routing", "--by", "cy", "--note", "territory rework")
    assert on.returncode == 0 and "Kill switch routing on" in on.stdout
    assert hub("killswitch", "on", "bogus", "--by", "cy").returncode == 2  # a usage error

    status = run_hub("status", "-c", str(path), cwd=tmp_path, env={"COLUMNS": "200"})
    assert "routing" in status.stdout and "ON (legacy)" in status.stdout
    assert "Approvals waiting: 0" in status.stdout and "No open alerts" in status.stdout

    audit = hub("audit")
    assert audit.returncode == 0
    lines = [line for line in audit.stdout.splitlines() if any(w in line for w in ("approve", "reject", "kill_"))]
    assert len(lines) == 3
    assert "ana" in audit.stdout and "existing customer" in audit.stdout and "territory rework" in audit.stdout

    ack = hub("alerts", "ack", "5", "--by", "ana")
    assert ack.returncode == 1 and "no alert 5" in ack.stderr


def test_yaml_typos_in_governance_are_config_errors(tmp_path):
    path = tmp_path / "hub.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "store_url": f"sqlite:///{tmp_path / 'hub.db'}",
                "governance": {
                    "autonomy": {"kinds": {"assign_owner": "ask_me"}, "actions": {"no_such_action": "off"}},
                    "alerts": {"kill_switch": {"drfit": ["routing"]}},
                },
            }
        )
    )
    r = run_hub("config", "validate", "-c", str(path), cwd=tmp_path)
    assert r.returncode == 2
    assert "governance.autonomy.kinds.assign_owner" in r.stderr and "drfit" in r.stderr


def _rows(output: str) -> tuple[list[str], list[list[str]]]:
    """The first table in ``output``: its headers and rows (a wide terminal: no wrapped cells)."""
    split = lambda line, bar: [c.strip() for c in line.strip().strip(bar).split(bar)]  # noqa: E731
    lines = output.splitlines()
    headers = next(split(ln, "┃") for ln in lines if ln.strip().startswith("┃"))
    return headers, [split(ln, "│") for ln in lines if ln.strip().startswith("│")]


def test_listed_times_are_in_utc_and_say_so_on_either_store(tmp_path, store_url, redis_url, crm):
    """`hub approvals list` and `hub alerts list` headed their times "expires" and "raised", and
    they and `hub audit` wrote the time as the store handed it back: PostgreSQL in its session's
    zone. The console converts to UTC and says so (hub/reports/numbers.py utc_time)."""
    import psycopg

    from decision.monitoring import Alert
    from hub.config import load_settings
    from hub.governance import approvals, audit
    from hub.governance.alerts import list_alerts, store_alerts
    from hub.reports.numbers import utc_time
    from hub.store import Store
    from tests.conftest import PG_ADMIN

    if store_url.startswith("postgresql"):  # a session zone far from UTC
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE \"{store_url.rsplit('/', 1)[1]}\" SET timezone TO 'Asia/Kolkata'")
    seed(crm, n=3, hot=2)
    autonomy = {"autonomy": {"kinds": {"add_to_list": "needs_approval"}}}
    path = hub_config(tmp_path, store_url, redis_url, governance=autonomy)
    Store(store_url, auto_migrate=True).dispose()
    ctx = HubContext.build(load_settings(path), embedded=True)
    run_once(ctx)
    drift = Alert("drift", "industry", 0.3, 0.2, "warning", "industry drifted")
    with ctx.store.begin() as conn:
        store_alerts(conn, [drift], ctx.settings.governance.alerts, ctx.clock())
    assert CliRunner().invoke(app, ["killswitch", "on", "routing", "--by", "cy", "-c", str(path)]).exit_code == 0
    with ctx.store.connect() as conn:
        truth = {
            "approvals": [utc_time(a.expires_at) for a in approvals.list_approvals(conn)],
            "alerts": [utc_time(a.raised_at) for a in list_alerts(conn)],
            "audit": [utc_time(e.at, seconds=True) for e in audit.entries(conn, 100)],
        }
    ctx.close()
    for command, column in (("approvals", "expires (UTC)"), ("alerts", "raised (UTC)"), ("audit", "when (UTC)")):
        args = [command, "list"] if command != "audit" else [command]
        res = CliRunner().invoke(app, [*args, "-c", str(path)], terminal_width=300)
        headers, rows = _rows(res.output)
        assert column in headers, (command, headers)
        shown = [r[headers.index(column)] for r in rows]
        assert shown == truth[command] and shown, (command, shown, truth[command])


def test_approvals_list_shows_each_write_short_and_json_keeps_it_whole(tmp_path, redis_url, crm):
    """Each held write's whole JSON filled the table (wrapped over two lines per row at 160
    columns, bookkeeping fields included); it is now the summary `hub decisions` writes."""
    import json

    from hub.config import load_settings

    seed(crm, n=3, hot=2)
    hold = {"autonomy": {"kinds": {"set_fields": "needs_approval", "add_to_list": "needs_approval"}}}
    path = hub_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url, governance=hold)
    ctx = HubContext.build(load_settings(path), embedded=True)
    run_once(ctx)
    ctx.close()
    runner = CliRunner(env={"COLUMNS": "160"})
    listed = runner.invoke(app, ["approvals", "list", "-c", str(path)])
    assert listed.exit_code == 0, listed.output
    assert "next_best_action=sales_outreach (+2 fields) to crm 0" in listed.stdout
    assert "+list sales-ready to crm 0" in listed.stdout
    assert "decision_id" not in listed.stdout and "{" not in listed.stdout
    whole = json.loads(runner.invoke(app, ["approvals", "list", "-c", str(path), "--json"]).stdout)
    fields = whole[0]["payload"]["fields"]
    assert {"decision_id", "experiment_arm", "next_best_action", "reason"} <= set(fields)


def test_run_and_decide_say_how_many_writes_wait_for_approval_and_what_to_do(tmp_path, redis_url, crm):
    """Before, `hub run --once` counted only the writes sent, and `hub decide` counted the held
    ones as queued and "handed to the workers", which never send them: an operator saw 2 of 3
    contacts' writes vanish with no word of the approvals queue."""
    path = _holding_lists(tmp_path, redis_url, crm)
    runner = CliRunner(env={"COLUMNS": "200"})
    ran = runner.invoke(app, ["run", "--once", "-c", str(path)])
    assert ran.exit_code == 0, ran.stderr
    assert "2 writes wait for approval: hub approvals list" in " ".join(ran.stdout.split()), ran.stdout
    decided = runner.invoke(app, ["decide", "-c", str(path)])
    assert decided.exit_code == 0, decided.stderr
    said = " ".join((decided.stdout + decided.stderr).split())
    assert "3 pushes queued" in said and "2 writes wait for approval: hub approvals list" in said, said
