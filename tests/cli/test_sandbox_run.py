"""The CLI on a new HubSpot portal (the sandbox's, where the hub's properties do not exist yet):
every push fails genuinely with HubSpot's 400 PROPERTY_DOESNT_EXIST, and `hub push` / `hub run`
say so once, grouped by cause, and exit 1. Then each list and report command's ``--json``.

HubSpot refuses a batch update naming a property the portal lacks with 400 VALIDATION_ERROR,
"Property values were not valid", error PROPERTY_DOESNT_EXIST per property
(https://developers.hubspot.com/docs/api/crm/contacts, batch update; the sandbox answers the
same, tests/sandbox/test_hubspot_server.py)."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from typer.testing import CliRunner

from hub.cli import app
from hub.demo import sandbox_settings
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from tests.conftest import REDIS_BASE


def hub(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="hub")


@pytest.fixture(scope="module")
def portal(tmp_path_factory, redis_db):
    """A synced and decided store whose pushes are all still pending, against a live sandbox."""
    work = tmp_path_factory.mktemp("newportal")
    world = World(n_contacts=60, seed=3)
    with start_sandbox(world) as sb:
        path = sandbox_settings(sb, work, {"hubspot"})
        cfg = yaml.safe_load(path.read_text())
        cfg["broker_url"] = f"{REDIS_BASE}/{redis_db}"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        assert hub("sync", "-c", str(path)).exit_code == 0
        res = hub("decide", "-c", str(path))
        assert res.exit_code == 0, res.output
        yield str(path)


@pytest.fixture(scope="module")
def dry_run(portal):
    return hub("push", "--dry-run", "-c", portal)


@pytest.fixture(scope="module")
def pushed(portal, dry_run):
    return hub("push", "-c", portal)


def test_dry_run_shows_writes_before_and_after_and_the_schema_check(dry_run):
    assert dry_run.exit_code == 1, dry_run.output  # these writes would fail: a script must see it
    assert "Sample writes" in dry_run.stdout
    # the portal has none of the hub's fields yet: every sample goes from nothing to a value
    assert re.search(r"next_best_action: None -> '\w+", dry_run.stdout), dry_run.stdout
    assert "schema check: properties missing" in dry_run.stderr and "hub connectors setup" in dry_run.stderr


def test_push_exits_1_when_every_push_failed_and_says_why_once(pushed):
    assert pushed.exit_code == 1, pushed.output
    failed = re.search(r"([\d,]+) push(?:es)? failed:", pushed.stderr)
    assert failed and int(failed.group(1).replace(",", "")) > 0
    causes = [line for line in pushed.stderr.splitlines() if " × hubspot: " in line]
    assert len(causes) == 1, pushed.stderr  # one line for the cause, not one per record
    assert causes[0].strip().startswith(f"{failed.group(1)} × hubspot")
    assert "PROPERTY_DOESNT_EXIST 'hub_next_best_action'" in causes[0]
    assert "hub connectors setup" in causes[0]


def test_run_once_exits_1_when_every_push_failed_with_one_log_line_per_cause(portal, pushed, caplog):
    assert hub("pushes", "retry", "-c", portal).exit_code == 0
    with caplog.at_level("DEBUG", logger="hub.pipeline.push"):
        res = hub("run", "--once", "-c", portal)
    assert res.exit_code == 1, res.output
    assert "pushes failed:" in res.stderr and "PROPERTY_DOESNT_EXIST" in res.stderr
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "PROPERTY_DOESNT_EXIST" in warnings[0], warnings


def _json(*args: str):
    res = hub(*args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)  # one document, nothing else on stdout


def test_every_list_and_report_command_takes_json(portal, pushed):
    failed = _json("pushes", "list", "-c", portal, "--json", "--limit", "5")
    assert len(failed) == 5
    assert set(failed[0]) >= {"id", "connector", "external_id", "kind", "state", "attempts", "last_error", "payload"}
    assert {p["state"] for p in failed} == {"failed"} and "PROPERTY_DOESNT_EXIST" in failed[0]["last_error"]

    status = _json("status", "-c", portal, "--json")
    assert set(status) >= {"connectors", "queues", "workers", "open_alerts", "approvals_waiting"}
    (hs,) = status["connectors"]
    assert hs["name"] == "hubspot" and hs["failed"] > 0

    models = _json("model", "list", "-c", portal, "--json")
    assert all(set(m) == {"name", "version", "created_at", "metrics"} for m in models)

    lift = _json("report", "lift", "-c", portal, "--json")
    assert set(lift) == {"baseline", "arms", "rows", "srm"} and lift["arms"]

    reach = _json("report", "reach", "-c", portal, "--json")
    assert reach["total"] == hs["records"] > 0 and set(reach) == {"total", "with_action", "rows"}

    switches = _json("killswitch", "list", "-c", portal, "--json")
    assert {s["use_case"] for s in switches} >= {"next_best_action"} and all("on" in s for s in switches)

    for alert in _json("alerts", "list", "-c", portal, "--json", "--state", "all"):
        assert {"id", "kind", "subject", "severity", "message", "state"} <= set(alert)
    assert isinstance(_json("approvals", "list", "-c", portal, "--json"), list)

    connectors = _json("connectors", "list", "-c", portal, "--json")
    mine = [c for c in connectors if c["name"] == "hubspot" and c["source"] == "hub.yaml"]
    assert mine and set(mine[0]) == {"name", "type", "source", "enabled", "last_check", "problem"}
