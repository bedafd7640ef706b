"""The chaos run, short: part of the default test command (``bench/chaos.py --ci``).

600 people instead of 3,000, and shorter waits between faults, but every fault kind of the long
run happens: 5xx, 429 bursts and dropped connections from the sandbox throughout, one worker
SIGKILLed mid push batch and restarted, its Redis killed and restarted, every store connection
terminated, CRM edits and deletes while the hub works. Then every check of the long run (see
``bench.chaos.passed``). About 70-100 s on a 2-core machine; the 3,000-person run stays behind
``HUB_SOAK=1`` (tests/soak).

The run owns a redis-server on a free port, a ``hub_chaos_*`` PostgreSQL database and three
``hub worker`` processes; the tests check that all of them are gone afterwards, also when the
run fails part-way.
"""

from __future__ import annotations

import os
import socket

import psycopg
import pytest

import bench.chaos
from bench.chaos_infra import PG_ADMIN

pytestmark = pytest.mark.integration


def _chaos_databases() -> set[str]:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'hub_chaos_%'").fetchall()
    return {r[0] for r in rows}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): it is gone in all but its exit status
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] != "Z"


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _redis_children() -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        fields = rest.split()
        if name.startswith("redis-server") and int(fields[1]) == os.getpid() and fields[0] != "Z":
            out.append(int(pid))
    return out


def test_short_chaos_run_keeps_every_promise_and_cleans_up():
    lines: list[str] = []
    res = bench.chaos.main(["--ci"], report=lines.append)
    failed = [name for name, ok in res["checks"].items() if not ok]
    assert not failed, "\n".join(lines)
    # the run did real work under every fault kind, not a vacuous pass
    assert res["done_landed_once"] > 300, "\n".join(lines)
    assert res["crm_edits"] > 0 and res["crm_archived_with_queued_writes"] > 0
    assert res["events_s"]["kill_in_flight"] > 0 and res["events_s"]["store_connections_dropped"] > 0
    owned = res["owned"]
    assert owned["database"] not in _chaos_databases()
    assert not _listening(owned["redis_port"])
    assert len(owned["worker_pids"]) >= 4  # three, plus the one restarted after the SIGKILL
    assert not [p for p in owned["worker_pids"] if _alive(p)]


def test_a_run_that_fails_part_way_still_stops_what_it_started(monkeypatch):
    """Redis and the database are up, the sandbox fails to start: both are undone."""
    before = _chaos_databases()

    def broken_sandbox(world):
        raise RuntimeError("sandbox did not start (injected)")

    monkeypatch.setattr(bench.chaos, "start_sandbox", broken_sandbox)
    with pytest.raises(RuntimeError, match="injected"):
        bench.chaos.main(["--ci"], report=lambda line: None)
    assert _chaos_databases() <= before
    assert _redis_children() == []
