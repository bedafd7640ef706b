"""Instructions per real-time decision, counted by valgrind: a figure the machine does not move.

The CPU figures of bench/realtime_engine.py and bench/api_load.py move by a third from one shared
host to the next and from hour to hour on one host (the calibration workload alone took 0.50,
0.73 and 1.13 ms on three machines in three days), so a change of a few percent cannot be told
from the noise in them. valgrind's callgrind counts the instructions a process executes instead:
the same code, data and seeds give the same count whatever else the machine is doing. What it
cannot show is the cost of caches gone cold between requests, which the CPU benches measure.

Each figure is counted in a child process under ``valgrind --tool=callgrind`` with collection
switched on only inside the measured loop (the loop runs inside ``functools.reduce``, a C function
nothing on the decision path calls, and ``--toggle-collect`` names it), after a warm-up of the same
calls, on the setting of bench/realtime_engine.py (a seeded SQLite store, the trained model):

- ``engine_row``: the engine's ``decide`` of one row (stored activities plus the visit);
- ``api_decision``: ``RealtimeDecider.decide`` in process: the profile read, the engine, the insert
  and the commit;
- ``asgi_request``: one ``POST /v1/decisions`` through the whole ASGI app (guard, fast path,
  batcher, JSON answer) without the network and uvicorn's HTTP parsing;
- ``calibration``: the calibration workload of tests/api/test_speed_quick.py, the unit the CPU
  benches divide by.

Children run two at a time. Prints one JSON line: instructions per call of each, and what the
ASGI layers add to the in-process decision.

    python bench/instructions.py [--calls 200]     # about 4 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: bench.* importable

MODES = ("engine_row", "api_decision", "asgi_request", "calibration")
CONTACTS = 200
#: the C function the measured loop runs in (Modules/_functoolsmodule.c)
TOGGLE = "functools_reduce"


def prepare(workdir: Path) -> Path:
    """A seeded SQLite store and the trained model, as bench/realtime_engine.py; returns the config.

    The batch window is 0, so each ASGI request is decided at once, as alone: the count is one
    decision's, not a share of a batch's."""
    from bench.api_load import TOKEN, seed, train, write_config

    os.environ["HUB_BENCH_TOKEN"] = TOKEN
    url = f"sqlite:///{workdir / 'hub.db'}"
    seed(url, CONTACTS)
    config = write_config(workdir, url, batch_window_ms=0)
    train(config, rows=1_000)
    return config


def _request_body(i: int) -> bytes:
    return json.dumps(
        {"contact": {"email": f"person{i}@bench.example"}, "context": {"page": "/pricing", "campaign": "bench"}}
    ).encode()


def _asgi_call(app, token: str):  # noqa: ANN001, ANN202
    """A function that sends one POST /v1/decisions through ``app`` and checks it answered 200."""
    import uvloop

    loop = uvloop.new_event_loop()
    bodies = [_request_body(i) for i in range(CONTACTS)]

    async def one(i: int) -> None:
        body = bodies[(i * 7) % CONTACTS]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/decisions",
            "raw_path": b"/v1/decisions",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"authorization", f"Bearer {token}".encode()),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        statuses: list[int] = []

        async def receive() -> dict:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()  # the client stays: never disconnects
            return {}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        if statuses != [200]:
            raise SystemExit(f"POST /v1/decisions answered {statuses}")

    return lambda i: loop.run_until_complete(one(i))


def child(mode: str, config: Path, calls: int) -> None:
    """Run in the valgrind child: warm up, then ``calls`` calls inside functools.reduce."""
    from bench.api_load import TOKEN
    from bench.realtime_engine import calibration

    os.environ["HUB_BENCH_TOKEN"] = TOKEN
    if mode == "calibration":
        call = calibration
    else:
        from datetime import timedelta

        from hub.api.app import create_app
        from hub.api.realtime import visit_view
        from hub.api.schemas import ContactRef, SessionContext
        from hub.config import load_settings
        from hub.models import utcnow
        from hub.store.decisions import DECIDED_DAYS
        from hub.store.realtime import profiles

        app = create_app(load_settings(config))
        state = app.state.hub
        decider = state.batcher.decider
        page = SessionContext(page="/pricing", campaign="bench")
        refs = [ContactRef(email=f"person{i}@bench.example") for i in range(CONTACTS)]
        if mode == "asgi_request":
            call = _asgi_call(app, TOKEN)
        elif mode == "api_decision":
            call = lambda i: decider.decide(refs[(i * 7) % CONTACTS], page)  # noqa: E731
        else:
            decider.decide(refs[0], page)  # loads the newest model, as the server does
            now = utcnow()
            with state.ctx.store.begin() as conn:
                found = profiles(conn, [r.email for r in refs], now - timedelta(days=DECIDED_DAYS))
                views = [visit_view(f, page, now) for f in found]
            engine = state.ctx.policy
            call = lambda i: engine.decide([views[(i * 7) % CONTACTS]], now)  # noqa: E731
    for i in range(max(30, calls // 4)):  # warm-up: model load, caches, the heap frozen
        call(i)
    functools.reduce(lambda acc, i: (call(i), acc)[1], range(calls), 0)


def own_copy(config: Path, mode: str) -> Path:
    """The prepared store and config copied for one child: children run two at a time, and two
    writing one SQLite file made a count depend on how they interleaved (lock waits, and each
    other's decisions read back as a contact's recent ones)."""
    src, dst = config.parent, config.parent / mode
    dst.mkdir()
    for f in src.glob("hub.db*"):
        shutil.copy2(f, dst / f.name)
    copied = dst / config.name
    copied.write_text(config.read_text().replace(str(src / "hub.db"), str(dst / "hub.db")))
    return copied


def count(mode: str, config: Path, calls: int, workdir: Path) -> float:
    """Instructions per call of ``mode``, from a callgrind child on its own copy of the store."""
    config = own_copy(config, mode)
    out = workdir / f"callgrind.{mode}.out"
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        f"--toggle-collect={TOGGLE}",
        f"--callgrind-out-file={out}",
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        "--config",
        str(config),
        "--calls",
        str(calls),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        raise SystemExit(f"{mode}: valgrind failed ({run.returncode}):\n{run.stderr[-2000:]}")
    return int(found.group(1)) / calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    ap.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    ap.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.config, args.calls)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    workdir = Path(tempfile.mkdtemp(prefix="hub-instructions-"))
    config = prepare(workdir)
    with ThreadPoolExecutor(max_workers=2) as pool:
        counted = pool.map(lambda m: count(m, config, args.calls, workdir), args.modes)
        per_call = dict(zip(args.modes, counted, strict=True))
    result = {"bench": "instructions", "calls": args.calls, **{k: round(v) for k, v in per_call.items()}}
    if "asgi_request" in per_call and "api_decision" in per_call:
        result["asgi_layers"] = round(per_call["asgi_request"] - per_call["api_decision"])
    if "calibration" in per_call:
        unit = per_call["calibration"]
        result.update({f"{k}_x_calib": round(v / unit, 2) for k, v in per_call.items() if k != "calibration"})
    shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
