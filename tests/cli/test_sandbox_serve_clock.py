"""A hub on the wall clock, run against the world `hub sandbox serve` serves, credits outcomes.

The hub stamps decisions with the wall clock (``ctx.clock`` is ``utcnow`` outside `hub demo`);
an activity counts for a decision made before it, within the action's window
(hub/pipeline/outcomes.py). A served world whose clock read another date (it once started on
2026-01-05) stamped every response before or long after the decisions it answered: none was ever
credited, and reward and lift stayed 0.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from hub.cli import app
from hub.demo import sandbox_settings
from hub.sandbox.serve import served_world, start_sandbox
from hub.store.schema import activities, outcomes
from tests.conftest import REDIS_BASE


def hub(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="hub")


@pytest.fixture(scope="module")
def served_run(tmp_path_factory, redis_db):
    """Setup, then three `hub run --once` with a simulated day passing between each."""
    work = tmp_path_factory.mktemp("served")
    world = served_world(contacts=60, seed=3)
    with start_sandbox(world) as sb:
        path = sandbox_settings(sb, work, {"hubspot", "salesforce"})
        cfg = yaml.safe_load(path.read_text())
        cfg["broker_url"] = f"{REDIS_BASE}/{redis_db}"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        res = hub("connectors", "setup", "-c", str(path))
        assert res.exit_code == 0, res.output
        runs = []
        for day in range(3):
            runs.append(hub("run", "--once", "-c", str(path)))
            if day < 2:
                world.advance_days(1)  # what `hub sandbox serve --day-seconds S` does every S seconds
        yield work, world, runs


def test_each_run_succeeds(served_run):
    _, _, runs = served_run
    for res in runs:
        assert res.exit_code == 0, res.output


def test_the_served_world_stamps_on_the_wall_clock(served_run):
    _, world, _ = served_run
    assert abs(world.now() - datetime.now(UTC)) < timedelta(minutes=1)


def test_the_markets_responses_are_credited_to_the_decisions_they_answer(served_run):
    work, _, _ = served_run
    engine = create_engine(f"sqlite:///{work / 'demo.db'}")
    with engine.connect() as conn:
        synced = conn.execute(select(func.count()).select_from(activities)).scalar_one()
        credited = conn.execute(select(func.count()).select_from(outcomes)).scalar_one()
    assert synced > 0
    assert credited > 0, f"{synced} activities synced, none credited to a decision"


def test_report_lift_counts_what_people_did_after_the_decisions(served_run):
    work, _, _ = served_run
    res = hub("report", "lift", "-c", str(work / "hub.yaml"), "--json")
    assert res.exit_code == 0, res.output
    reward = next(r for r in json.loads(res.stdout)["rows"] if r["metric"] == "reward" and r["arm"] == "engine")
    assert reward["arm_mean"] > 0, reward
