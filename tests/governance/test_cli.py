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


def test_approve_reject_killswitch_audit_and_status(tmp_path, redis_url, crm):
    from hub.config import load_settings

    seed(crm, n=3, hot=2)
    path = hub_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'hub.db'}",
        redis_url,
        governance={"autonomy": {"kinds": {"add_to_list": "needs_approval"}}},
    )
    ctx = HubContext.build(load_settings(path), embedded=True)
    run_once(ctx)
    ctx.close()

    def hub(*args):
        r = CliRunner(env={"COLUMNS": "200"}).invoke(app, [*args, "-c", str(path)])
        return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)

    listed = hub("approvals", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("add_to_list") == 2 and "awaiting" in listed.stdout
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
