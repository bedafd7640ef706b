"""Start and stop real `hub worker` processes for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT

HUB = str(Path(sys.executable).parent / "hub")


class Worker:
    def __init__(self, config: Path, log: Path, queues: str = "sync,decide,push,learn", concurrency: int = 2):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.log = log
        self.name = f"test-{uuid.uuid4().hex[:6]}@localhost"
        self._fh = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                HUB,
                "worker",
                "-c",
                str(config),
                f"--queues={queues}",
                f"--concurrency={concurrency}",
                f"--hostname={self.name}",
                "--loglevel=INFO",
            ],
            cwd=str(config.parent),
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so SIGKILL takes the pool children too
        )

    def wait_ready(self, timeout: float = 30) -> None:
        wait_for(lambda: b"ready." in self.log.read_bytes(), timeout, f"worker did not start; log:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._fh.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if not self._fh.closed:
            self._fh.close()


def wait_for(cond: Callable[[], bool], timeout: float, message: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(interval)
    raise AssertionError(message() if callable(message) else message)
