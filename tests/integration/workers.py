"""Start and stop real `hub worker` processes for integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
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


class TcpProxy:
    """A TCP forwarder from a free local port to ``target``, to take a store away from a real
    worker and give it back (``start`` / ``stop``: stop also cuts open connections, as a
    restart does; the port stays the same)."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self._open: list[socket.socket] = []
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._server = None

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen()
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept(); close alone does not
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        for s in self._open:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self._open.clear()

    def _accept(self, server) -> None:  # noqa: ANN001
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return  # closed by stop()
            upstream = socket.create_connection(self.target)
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst) -> None:  # noqa: ANN001
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()
