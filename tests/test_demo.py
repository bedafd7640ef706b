"""`hub demo` runs the real pipeline against the sandbox market and measures ground truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.config import load_settings
from hub.demo import NOT_REACHED, run_demo
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
