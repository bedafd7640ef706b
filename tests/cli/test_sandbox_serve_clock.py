"""A hub on the wall clock, run against the world `hub sandbox serve` serves, credits outcomes.

The hub stamps decisions with the wall clock (``ctx.clock`` is ``utcnow`` outside `hub demo`);
an activity counts for a decision made before it, within the action's window
(hub/pipeline/outcomes.py). A served world whose clock read another date (it once started on
2026-01-05) stamped every response before or long after the decisions it answered: none was ever
credited, and reward and lift stayed 0.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from hub.cli import app
from hub.sandbox.serve import how_to_connect, served_world, start_sandbox
from hub.store.schema import activities, outcomes
from tests.conftest import REDIS_BASE


def hub(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="hub")


def printed_connectors(said: str) -> str:
    """The ``connectors:`` section `hub sandbox serve` prints to paste into hub.yaml."""
    section = said.split("replace its `connectors: {}` with\n\n", 1)[1].split("\nthen ", 1)[0]
    assert yaml.safe_load(section)["connectors"].keys() == {"hubspot", "salesforce"}, section
    return section.strip()


@pytest.fixture(scope="module")
def served_run(tmp_path_factory, redis_db):
    """Setup, then three `hub run --once` with a simulated day passing between each."""
    work = tmp_path_factory.mktemp("served")
    world = served_world(contacts=60, seed=3)
    with start_sandbox(world) as sb:
        path = work / "hub.yaml"  # as `hub sandbox serve` tells the user to write it
        assert hub("init", str(path)).exit_code == 0
        text = path.read_text().replace("connectors: {}", printed_connectors(how_to_connect(sb, 60)))
        path.write_text(text.replace("${HUB_BROKER_URL:-redis://127.0.0.1:6379/0}", f"{REDIS_BASE}/{redis_db}"))
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
    engine = create_engine(f"sqlite:///{work / 'hub.db'}")
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
    # what people did after the decisions counts, for better or worse (an unsubscribe weighs
    # negative); on the old calendar it all happened before them and both means were 0
    assert reward["arm_mean"] != 0 or reward["base_mean"] != 0, reward


@pytest.mark.parametrize("command", [["hub", "sandbox", "serve"], [sys.executable, "-m", "hub.sandbox"]])
def test_serve_prints_what_to_paste_and_what_to_expect_and_stops_on_ctrl_c(command):
    """The command itself, as a user runs it: the connectors it prints reach its servers.
    ``python -m hub.sandbox`` is the same command (it once served the old calendar, printing JSON)."""
    import os
    import signal
    import subprocess
    import threading

    import httpx

    from tests.conftest import ROOT
    from tests.integration.workers import HUB

    proc = subprocess.Popen(
        [HUB if command[0] == "hub" else command[0], *command[1:], "--contacts", "20", "--day-seconds", "30"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(30, proc.kill)  # a command that never says "Ctrl-C" fails, not hangs
    watchdog.start()
    try:
        said = ""
        for line in proc.stdout:
            said += line
            if line.startswith("Ctrl-C stops it."):
                break
        connectors = yaml.safe_load(printed_connectors(said))["connectors"]
        hs = connectors["hubspot"]["settings"]
        page = httpx.get(
            f"{hs['base_url']}/crm/v3/objects/contacts",
            headers={"Authorization": f"Bearer {hs['access_token']}"},
        )
        assert page.status_code == 200 and page.json()["results"], page.text
        assert "hub connectors setup -c hub.yaml" in said and "hub run --once -c hub.yaml" in said
        assert "A simulated day passes every 30 s" in said and "wall clock" in said
    finally:
        watchdog.cancel()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0, proc.stderr.read()


def test_serve_refuses_a_negative_day_length():
    res = hub("sandbox", "serve", "--day-seconds", "-1")
    assert res.exit_code == 2 and "--day-seconds" in res.output


def test_a_sandbox_whose_days_never_pass_says_nothing_will_be_credited_and_what_to_do():
    with start_sandbox(served_world(contacts=10, seed=0)) as sb:
        said = how_to_connect(sb, 0)
    assert "the market answers nothing the hub writes" in said and "--day-seconds 60" in said
    assert "A simulated day passes" not in said


def test_serve_on_a_port_in_use_exits_1_naming_the_option():
    """A port another process holds (a sandbox still running) ended in a traceback:
    "OSError: [Errno 98] Address already in use". Now as `hub serve --port` says it: exit 1."""
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        for option in ("--hubspot-port", "--salesforce-port"):
            res = hub("sandbox", "serve", "--contacts", "10", option, str(port))
            said = " ".join(res.output.split())
            assert res.exit_code == 1 and f"127.0.0.1:{port} is in use" in said and option in said, res.output
            assert "Traceback" not in res.output
    same = hub("sandbox", "serve", "--contacts", "10", "--hubspot-port", "18499", "--salesforce-port", "18499")
    assert same.exit_code == 2 and "the same port" in " ".join(same.output.split()), same.output
