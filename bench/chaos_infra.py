"""Throw-away infrastructure for bench/chaos.py: its own Redis, its own database, real workers.

Why its own: the machine's Redis and PostgreSQL are shared with other test runs, so the chaos
run restarts only a redis-server it started (on a free port, no persistence) and terminates
backend connections only of a database it created.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
HUB = str(Path(sys.executable).parent / "hub")
PG_ADMIN = os.environ.get("HUB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A redis-server this process started and may restart (all data lost, as after a crash)."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return self
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("own redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # a crash, not a clean shutdown: nothing is saved
            self.proc.wait(10)

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1


class OwnDatabase:
    """A PostgreSQL database named hub_chaos_<random>, dropped at the end."""

    def __init__(self) -> None:
        self.name = f"hub_chaos_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{self.name}"

    def drop_connections(self) -> int:
        """Terminate every backend connected to this (and only this) database."""
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.name,),
            ).fetchall()
        return len(rows)

    def drop(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class HubWorker:
    """A real ``hub worker`` process in its own process group (SIGKILL takes its pool too)."""

    def __init__(self, config: Path, log: Path, name: str, concurrency: int = 1):
        self.config, self.log, self.name, self.concurrency = config, log, name, concurrency
        self.proc: subprocess.Popen | None = None
        self.pids: list[int] = []  # every process started under this name (a killed one is restarted)
        self.start()

    def start(self) -> None:
        self._ready_before = self.log.read_bytes().count(b"ready.") if self.log.exists() else 0
        fh = open(self.log, "ab")  # noqa: SIM115 - the child owns it; closed when we reopen
        self.proc = subprocess.Popen(
            [
                HUB,
                "worker",
                "-c",
                str(self.config),
                "--queues=sync,decide,push,learn",
                f"--concurrency={self.concurrency}",
                f"--hostname={self.name}@chaos",
                "--loglevel=INFO",
            ],
            cwd=str(self.config.parent),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pids.append(self.proc.pid)
        fh.close()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.read_bytes().count(b"ready.") > self._ready_before:
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker {self.name} did not start:\n{self.log.read_text(errors='replace')[-2000:]}")

    def pushing(self) -> bool:
        """Whether this worker has a hub.push task received and not yet finished."""
        text = self.log.read_text(errors="replace")
        ids = re.findall(r"Task hub\.push\[([0-9a-f-]+)\] received", text)
        return bool(ids) and not re.search(rf"hub\.push\[{ids[-1]}\] (succeeded|retry|raised)", text)

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


_SYNC_LINE = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): \w+/([^\]]+)\].*sync of (\w+) (started|finished|lost its lock)"
    r"(?:.*last commit at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}))?",
    re.M,
)


def sync_intervals(logs: list[Path]) -> list[tuple[str, str, float, float | None]]:
    """(connector, process, start, end) per sync run, from the workers' logs. A run that lost
    its lock ends at its last committed page (what it did after that was rolled back)."""
    out: list[tuple[str, str, float, float | None]] = []
    for path in logs:
        open_runs: dict[tuple[str, str], float] = {}
        for m in _SYNC_LINE.finditer(path.read_text(errors="replace")):
            at = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            key = (m.group(3), f"{path.name}:{m.group(2)}")
            if m.group(4) == "lost its lock" and key in open_runs:
                # it stopped without committing its last page: its work ended at the last commit
                end = datetime.strptime(m.group(5), "%Y-%m-%d %H:%M:%S.%f").timestamp() if m.group(5) else at
                out.append((key[0], key[1], open_runs.pop(key), end))
                continue
            if m.group(4) == "started":
                if key in open_runs:  # the process died mid-sync (a kill): the run ended unknown
                    out.append((key[0], key[1], open_runs.pop(key), None))
                open_runs[key] = at
            elif key in open_runs:
                out.append((key[0], key[1], open_runs.pop(key), at))
        out += [(k[0], k[1], start, None) for k, start in open_runs.items()]
    return out


def overlaps(intervals: list[tuple[str, str, float, float | None]]) -> int:
    """Pairs of finished sync runs of one connector whose times overlap."""
    done = sorted((c, s, e) for c, _, s, e in intervals if e is not None)
    n = 0
    for i, (c, _s, e) in enumerate(done):
        for c2, s2, _ in done[i + 1 :]:
            if c2 == c and s2 < e:
                n += 1
    return n
