"""Load test of POST /v1/decisions against `hub serve` on loopback.

Open loop: requests are started on a fixed schedule (``--rate`` per second) whether or not
earlier ones have answered, and latency is measured from the scheduled start, so a slow
server cannot hide its queueing (no coordinated omission). A warm-up second is not counted.

    python bench/api_load.py                      # seeds a SQLite store, trains the engine, starts hub serve, 200/s for 20 s
    python bench/api_load.py --workers 2 --rate 500
    python bench/api_load.py --store-url postgresql://postgres@127.0.0.1/bench_db
    python bench/api_load.py --url http://127.0.0.1:8000 --token ...   # an already running server

CPU is what to compare on a shared machine: the server's (all its processes, from /proc), the
load generator's own, and the engine's alone on the same contacts (``policy.decide`` of one
row, timed in this process after the load), so server minus engine is what the HTTP layer and
the store cost. CPU per request is counted after the warm-up, as latency is: a new process's first
decisions load the model and fill its caches once (reported on its own as ``server_warmup_cpu_s``).
Prints a table and one JSON line (the last line) for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml

TOKEN = "bench-token-0123456789abcdef0123"
RULES = [
    {
        "name": "hot",
        "when": "activities_30d['page_view'] >= 3 and not do_not_contact",
        "reason": "Three or more page views this month",
        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "sales_outreach"}}],
    },
    {"name": "enterprise", "when": "employees >= 1000", "actions": [{"kind": "assign_owner", "owner": "ae-team"}]},
    {"name": "nurture", "when": "not email_opt_out", "actions": [{"kind": "add_to_list", "list": "nurture"}]},
]


def write_config(
    workdir: Path, store_url: str, batch_window_ms: float | None = None, batch_latency_ms: float | None = None
) -> Path:
    """The bench's hub.yaml; ``batch_window_ms`` and ``batch_latency_ms`` None keep the product's defaults."""
    api: dict = {"embedded": True, "tokens": [{"name": "bench", "token": "${HUB_BENCH_TOKEN}", "scopes": ["decide"]}]}
    if batch_window_ms is not None:
        api["batch_window_ms"] = batch_window_ms
    if batch_latency_ms is not None:
        api["batch_latency_ms"] = batch_latency_ms
    cfg = {"store_url": store_url, "decision": {"rules": RULES}, "api": api}
    path = workdir / "hub.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def seed(store_url: str, n: int, seed_: int = 7) -> None:
    """n contacts with 0-6 page views each, written through the store's own upserts."""
    from hub.models import Activity, ActivityType, Company, Contact, Identity
    from hub.store import Store
    from hub.store.activities import insert_activities
    from hub.store.contacts import upsert_contacts

    rng = random.Random(seed_)
    now = datetime.now(UTC)
    store = Store(store_url, auto_migrate=True)
    for start in range(0, n, 500):
        ids = range(start, min(n, start + 500))
        people = [
            Contact(
                identities=[Identity(connector="bench", external_id=f"b{i}")],
                emails=[f"person{i}@bench.example"],
                first_name=f"P{i}",
                company=Company(name=f"Co{i % 97}", employees=rng.choice([10, 200, 5000])),
                updated_at=now,
            )
            for i in ids
        ]
        with store.begin() as conn:
            upsert_contacts(conn, people)
            acts = [
                Activity(
                    contact_ref=Identity(connector="bench", external_id=f"b{i}"),
                    type=ActivityType.PAGE_VIEW,
                    occurred_at=now - timedelta(hours=rng.randint(1, 24 * 40)),
                    source="bench",
                    external_id=f"b{i}-{k}",
                )
                for i in ids
                for k in range(rng.randint(0, 6))
            ]
            insert_activities(conn, acts)
    store.dispose()


def train(config: Path, rows: int = 5_000, seed_: int = 7) -> str:
    """Teach the engine from ``rows`` synthetic outcomes on the seeded contacts' own features
    and save the snapshot, as the learn step does: the server then decides with a current
    model in which every action has matured (not the cold v0 that only follows the rules), and
    with the send-time prior the learn step keeps beside it (fitted here on those contacts).
    Returns the model's version name."""
    import numpy as np

    from decision.interface import ContactView
    from hub.config import load_settings
    from hub.models import utcnow
    from hub.pipeline.context import HubContext
    from hub.pipeline.learn import learned_state
    from hub.store import contacts as contact_store
    from hub.store import learning as learning_store
    from hub.store import profiles as profile_store

    ctx = HubContext.build(load_settings(config), embedded=True)
    engine = ctx.policy
    with ctx.store.connect() as conn:
        people = contact_store.load_contacts(conn, list(range(1, 501)))
    X = engine.features([ContactView(contact=c, activities=[]) for c in people], utcnow()).X
    rng = np.random.default_rng(seed_)
    actions = [engine.ids[i] for i in rng.integers(0, len(engine.ids), rows)]
    engine.learn(X[rng.integers(0, len(X), rows)], actions, rng.normal(1.0, 1.0, rows), np.full(rows, 0.2))
    with ctx.store.connect() as conn:  # the send-time prior, as the learn step fits it on decided contacts
        profiles = profile_store.load_profiles(conn, [c.id for c in people])
    engine.learn_send_time(
        [ContactView(contact=c, profile=profiles[c.id]) for c in people if c.id in profiles], utcnow()
    )
    with ctx.store.begin() as conn:
        meta = {"learned": rows, "feature_version": engine.feature_version, **learned_state(engine)}
        engine.model_version = learning_store.save_snapshot(conn, engine.model_name, engine.snapshot(), meta, utcnow())
    version = engine.version
    ctx.close()
    return version


def engine_cpu_ms(config: Path, contacts: int, rows: int = 300) -> float:
    """CPU ms of the engine deciding one row, as the server calls it (the stored profile plus a
    session page view), best of three passes over ``rows`` seeded contacts. Back to back, so the
    caches are warmer than between requests: if anything it understates the engine's share."""
    from datetime import timedelta

    from hub.api.realtime import visit_view
    from hub.api.schemas import SessionContext
    from hub.config import load_settings
    from hub.models import utcnow
    from hub.pipeline.context import HubContext
    from hub.pipeline.learn import ensure_current
    from hub.store.decisions import DECIDED_DAYS
    from hub.store.realtime import profiles

    ctx = HubContext.build(load_settings(config), embedded=True)
    now = utcnow()
    page = SessionContext(page="/pricing", campaign="bench")
    with ctx.store.begin() as conn:
        ensure_current(ctx, conn)
        emails = [f"person{i}@bench.example" for i in range(min(rows, contacts))]
        views = [visit_view(f, page, now) for f in profiles(conn, emails, now - timedelta(days=DECIDED_DAYS))]
    best = float("inf")
    for _ in range(3):
        t = time.thread_time()
        for v in views:
            ctx.policy.decide([v], now)
        best = min(best, (time.thread_time() - t) * 1000 / len(views))
    ctx.close()
    return best


def decisions_per_batch(store_url: str) -> float:
    """Real-time decisions per engine call: a batch's decisions share their ``created_at``."""
    from sqlalchemy import create_engine, text

    engine = create_engine(store_url)
    with engine.connect() as conn:
        n, batches = conn.execute(
            text("SELECT count(*), count(DISTINCT created_at) FROM decisions WHERE request_key LIKE 'rt-%'")
        ).one()
    engine.dispose()
    return round(n / batches, 2) if batches else 0.0


def kill_switch(config: Path, on: bool) -> str:
    """Send every decision to the legacy rules (or back to the engine), as an operator would
    in an incident; returns the version the answers then carry."""
    from hub.config import load_settings
    from hub.governance import killswitch
    from hub.governance.plan import FallbackRules
    from hub.models import utcnow
    from hub.pipeline.context import HubContext

    ctx = HubContext.build(load_settings(config), embedded=True)
    with ctx.store.begin() as conn:
        killswitch.flip(conn, "next_best_action", on, "bench", "measure the server without the engine", utcnow())
    version = FallbackRules(ctx.policy.rules).version if on else ctx.policy.version
    ctx.close()
    return version


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and its children (uvicorn workers), from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(config: Path, port: int, log: Path, workers: int) -> subprocess.Popen:
    hub = shutil.which("hub") or str(Path(sys.executable).parent / "hub")
    env = {**os.environ, "HUB_BENCH_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [hub, "serve", "-c", str(config), "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 180  # a loaded machine imports slowly
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"hub serve exited: {log.read_text()}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("hub serve did not answer within 180 s")


class _Pool:
    """Keep-alive HTTP/1.1 connections over asyncio streams.

    A hand-rolled client costs a fraction of httpx's CPU per request, and on a 2-core machine
    the load generator competes with the server for the same cores.
    """

    def __init__(self, host: str, port: int, token: str):
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.head = (
            f"POST /v1/decisions HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        )

    async def post(self, body: bytes) -> int:
        reused = bool(self.idle)
        conn = self.idle.pop() if reused else await asyncio.open_connection(self.host, self.port)
        reader, writer = conn
        request = f"{self.head}{len(body)}\r\n\r\n".encode() + body
        writer.write(request)
        line = await reader.readline()
        if not line and reused:  # the server closed an idle keep-alive connection: send again on a new one
            writer.close()
            conn = reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.write(request)
            line = await reader.readline()
        status = int(line.split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        self.idle.append(conn)
        return status

    def close(self) -> None:
        for _, w in self.idle:
            w.close()


async def load(
    url: str,
    token: str,
    rate: float,
    duration: float,
    warmup: float,
    contacts: int,
    at_warm: Callable[[], None] | None = None,
) -> dict:
    """Send the load; ``at_warm`` is called when the warm-up ends (where CPU counting starts)."""
    rng = random.Random(11)
    parsed = httpx.URL(url)
    pool = _Pool(parsed.host, parsed.port or 80, token)
    results: list[tuple[float, float, int]] = []  # (scheduled offset, latency s, status)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2

    async def one(at: float, body: bytes) -> None:
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            status = await pool.post(body)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            status = 0
        results.append((at - start, loop.time() - at, status))

    total = int(rate * (duration + warmup))
    tasks = []
    for i in range(total):
        who = rng.randrange(contacts)
        ref = (
            {"email": f"person{who}@bench.example"} if i % 2 else {"external": {"connector": "bench", "id": f"b{who}"}}
        )
        body = {"contact": ref, "context": {"page": rng.choice(["/pricing", "/docs", "/blog"]), "campaign": "bench"}}
        tasks.append(asyncio.create_task(one(start + i / rate, json.dumps(body).encode())))
    if at_warm is not None:
        loop.call_at(start + warmup, at_warm)
    await asyncio.gather(*tasks)
    finished = loop.time() - start
    pool.close()
    measured = [(lat, st) for at, lat, st in results if at >= warmup]
    lat_ms = sorted(lat * 1000 for lat, st in measured if st == 200)
    errors = sum(1 for _, st in measured if st != 200)
    by_status: dict[str, int] = {}
    for _, st in measured:
        if st != 200:
            by_status[str(st or "no answer")] = by_status.get(str(st or "no answer"), 0) + 1
    q = statistics.quantiles(lat_ms, n=100, method="inclusive") if len(lat_ms) >= 2 else [float("nan")] * 99
    return {
        "endpoint": "POST /v1/decisions",
        "target_rps": rate,
        "duration_s": duration,
        "requests": len(measured),
        "ok": len(lat_ms),
        "errors": errors,
        "error_statuses": by_status,
        "throughput_rps": round(len(results) / finished, 1),
        "p50_ms": round(q[49], 2),
        "p90_ms": round(q[89], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(lat_ms[-1], 2) if lat_ms else None,
        "mean_ms": round(statistics.fmean(lat_ms), 2) if lat_ms else None,
    }


def table(r: dict) -> str:
    rows = [
        ("target rate", f"{r['target_rps']:.0f} req/s for {r['duration_s']:.0f} s"),
        ("requests (ok / errors)", f"{r['requests']} ({r['ok']} / {r['errors']})"),
        ("throughput", f"{r['throughput_rps']} req/s"),
        ("p50", f"{r['p50_ms']} ms"),
        ("p90", f"{r['p90_ms']} ms"),
        ("p99", f"{r['p99_ms']} ms"),
        ("max", f"{r['max_ms']} ms"),
        ("server CPU per request", f"{r.get('server_cpu_ms_per_request', '?')} ms"),
        ("  engine alone (in process)", f"{r.get('engine_cpu_ms_per_decision', '?')} ms"),
        ("  the rest (HTTP, store)", f"{r.get('server_cpu_ms_outside_engine', '?')} ms"),
        ("load generator CPU per request", f"{r.get('client_cpu_ms_per_request', '?')} ms"),
        ("server CPU in the warm-up", f"{r.get('server_warmup_cpu_s', '?')} s (model load, first decisions)"),
        ("load average (1 min)", f"{os.getloadavg()[0]:.2f}"),
        ("store", r.get("store", "external server")),
        ("hub serve workers", str(r.get("workers", "?"))),
        ("model", str(r.get("policy_version", "?"))),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--contacts", type=int, default=2000)
    ap.add_argument("--store-url", help="default: a SQLite file in a temporary directory")
    ap.add_argument("--url", help="an already running server (then --token, and its contacts must exist)")
    ap.add_argument("--token", default=TOKEN)
    ap.add_argument("--workers", type=int, default=1, help="hub serve worker processes")
    ap.add_argument(
        "--batch-window-ms",
        type=float,
        help="api.batch_window_ms for the server (default: the product's default); 0 batches only queued requests",
    )
    ap.add_argument(
        "--batch-latency-ms",
        type=float,
        help="api.batch_latency_ms for the server (default: the product's default); 0 keeps the window fixed",
    )
    ap.add_argument(
        "--kill-switch",
        action="store_true",
        help="turn the next_best_action kill switch on: the server does everything but the engine (legacy rules)",
    )
    args = ap.parse_args()

    total = int(args.rate * (args.duration + args.warmup))
    client0 = time.process_time()
    if args.url:
        result = asyncio.run(load(args.url, args.token, args.rate, args.duration, args.warmup, args.contacts))
        result["client_cpu_ms_per_request"] = round((time.process_time() - client0) * 1000 / total, 2)
    else:
        with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
            work = Path(tmp)
            store_url = args.store_url or f"sqlite:///{work / 'bench.db'}"
            seed(store_url, args.contacts)
            config = write_config(work, store_url, args.batch_window_ms, args.batch_latency_ms)
            os.environ.setdefault("HUB_BENCH_TOKEN", TOKEN)
            model = train(config)
            if args.kill_switch:
                model = kill_switch(config, True)
            port = free_port()
            proc = start_server(config, port, work / "serve.log", args.workers)
            result: dict = {}
            try:
                start = cpu_seconds(proc.pid)
                warm: list[float] = []  # server and client CPU when the warm-up ends

                def at_warm() -> None:
                    warm.extend((cpu_seconds(proc.pid), time.process_time()))

                url = f"http://127.0.0.1:{port}"
                result = asyncio.run(load(url, TOKEN, args.rate, args.duration, args.warmup, args.contacts, at_warm))
                # counted after the warm-up: the first decisions load the model and warm the caches once
                # per process (``server_warmup_cpu_s``), which is no request's steady cost
                measured = int(args.rate * args.duration)
                result["server_cpu_ms_per_request"] = round((cpu_seconds(proc.pid) - warm[0]) * 1000 / measured, 2)
                result["client_cpu_ms_per_request"] = round((time.process_time() - warm[1]) * 1000 / measured, 2)
                result["server_warmup_cpu_s"] = round(warm[0] - start, 2)
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/v1/decisions",
                    json={"contact": {"email": "person1@bench.example"}},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                ).json()
                result["policy_version"] = answer.get("policy_version")
                if result["policy_version"] != model:
                    raise SystemExit(f"the server decided with {result['policy_version']}, not the trained {model}")
            finally:
                proc.terminate()
                proc.wait(10)
                if result.get("errors"):  # what the server said about them, before its directory goes
                    said = (work / "serve.log").read_text().splitlines()
                    print("\n".join(line for line in said if " 200 " not in line)[-4000:], file=sys.stderr)
                if args.kill_switch:  # a --store-url store outlives the run
                    kill_switch(config, False)
            result["decisions_per_batch"] = decisions_per_batch(store_url)
            engine = 0.0 if args.kill_switch else engine_cpu_ms(config, args.contacts)
            result["engine_cpu_ms_per_decision"] = round(engine, 2)
            result["server_cpu_ms_outside_engine"] = round(result["server_cpu_ms_per_request"] - engine, 2)
            result["store"] = store_url.split(":", 1)[0]
            result["workers"] = args.workers
    result["loadavg_1m"] = round(os.getloadavg()[0], 2)
    print(table(result))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
