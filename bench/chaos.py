"""Chaos run: sync -> decide -> push through 3 real `hub worker` processes while things break.

Run: .venv/bin/python bench/chaos.py [--contacts 100000] [--quick | --ci] [--trace]
(--quick: 3,000 people, what tests/soak/test_chaos.py runs with HUB_SOAK=1;
 --ci: 600 people on a faster pace, what tests/integration/test_chaos_ci.py runs in the default
 test command: every fault kind still happens once, only the waits between them are shorter.)

The sandbox HubSpot server runs in this process; the store is a throw-away PostgreSQL
database; the broker is this run's own redis-server. While the hub works, the sandbox answers
20% of calls with 5xx, drops 2% of connections and every 30 s refuses every call for 3 s with
HubSpot's ten-secondly 429 (a rolling window filled by someone else); one worker is
SIGKILLed mid push batch and restarted; Redis is killed and restarted (all queued tasks and
locks lost); every store connection is terminated once; 2% of CRM records are edited by
"someone in the CRM". Then faults stop, the hub drains, and everything is checked against the
sandbox's own write log. Prints a table and one JSON line; exit 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos_infra import HubWorker, OwnDatabase, OwnRedis, overlaps, sync_intervals  # noqa: E402
from hub.config import load_settings  # noqa: E402
from hub.demo import sandbox_settings  # noqa: E402
from hub.pipeline.context import HubContext  # noqa: E402
from hub.pipeline.sweep import undecided_contacts  # noqa: E402
from hub.sandbox.serve import SandboxHandle, start_sandbox  # noqa: E402
from hub.sandbox.world import World, WorldConfig  # noqa: E402
from hub.store import Store  # noqa: E402
from hub.store.schema import decisions, identities, pushes, sync_state  # noqa: E402

TERMINAL = ("done", "skipped", "superseded", "failed")


@dataclass(frozen=True)
class Pace:
    """How long the run waits between things. The faults are the same in every mode; a short
    run only spends less time between them (and a shorter lease, so the batch of the killed
    worker is re-sent sooner)."""

    lease_seconds: int = 60  # push lease and push lock TTL: the killed batch waits this long
    event_gap: float = 10  # at most this long from one chaos event to the next
    burst_every: float = 30  # a 3-second 429 window (and a beat-like sweep) this often
    sweep_grace: float = 30  # the drain's sweep: contacts changed longer ago and undecided
    quiet: float = 6  # the drain ends after this long with nothing open or owed
    drain_tick: float = 2
    drop_rate: float = 0.02  # dropped connections; a short run makes fewer calls, so more of them


FULL = Pace()
CI = Pace(lease_seconds=30, event_gap=4, burst_every=30, sweep_grace=10, quiet=3, drain_tick=2, drop_rate=0.04)


def write_config(sb: SandboxHandle, workdir: Path, store_url: str, broker_url: str, pace: Pace = FULL) -> Path:
    path = sandbox_settings(sb, workdir, {"hubspot"})
    cfg = yaml.safe_load(path.read_text())
    cfg.update(
        store_url=store_url,
        broker_url=broker_url,
        celery={"visibility_timeout": 30, "restore_interval": 2, "task_time_limit": 600},
        push={
            "lease_seconds": pace.lease_seconds,
            "backoff_base": 0.5,
            "backoff_max": 10,
            "max_attempts": 8,
            "batch_limit": 500,
        },
    )
    cfg["connectors"]["hubspot"]["settings"]["max_retries"] = 6
    # HubSpot's few seconds after a 502/504 (the connector's default, tested in
    # tests/connectors/hubspot/test_transient_statuses.py) at this run's 20% 5xx would measure
    # sleeping: a short pause keeps the run about the faults, and its figures comparable
    cfg["connectors"]["hubspot"]["settings"]["gateway_wait_seconds"] = 0.2
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


class Chaos:
    def __init__(self, args: argparse.Namespace, workdir: Path):
        self.args, self.workdir = args, workdir
        self.pace: Pace = CI if args.ci else FULL
        # set first, so stop() can clean up whatever was started before a failure
        self.redis: OwnRedis | None = None
        self.db: OwnDatabase | None = None
        self.store: Store | None = None
        self.sb: SandboxHandle | None = None
        self.workers: list[HubWorker] = []
        self.events: dict[str, float] = {}
        self.edited: list[str] = []
        self.supervisor_restarts: list[str] = []
        self.archived: list[str] = []
        self.t0 = time.monotonic()
        self._traced = -1e9
        self._sender = None

    def setup(self) -> None:
        """Start what the run owns; ``stop`` undoes whatever of it got started."""
        self.redis = OwnRedis(self.workdir).start()
        self.db = OwnDatabase()
        self.store = Store(self.db.url, auto_migrate=True)
        self.world = World(WorldConfig(n_contacts=self.args.contacts, seed=self.args.seed))
        self.sb = start_sandbox(self.world)
        self.config = write_config(self.sb, self.workdir, self.db.url, self.redis.url, self.pace)

    # -- what the store says -----------------------------------------------------------------
    def push_states(self) -> Counter:
        with self.store.connect() as conn:
            return Counter(dict(conn.execute(select(pushes.c.state, func.count()).group_by(pushes.c.state)).all()))

    def sender(self):
        """A Celery app of our own for sending, on this run's Redis. Not the shared ``tasks.app``:
        its connection pool keeps the first broker URL it was configured with, so in a pytest
        process where other tests configured it first, our tasks went to their Redis."""
        if self._sender is None:
            from celery import Celery

            from tasks.app import ROUTES

            self._sender = Celery("hub-chaos-sender", broker=self.redis.url, set_as_current=False)
            self._sender.conf.update(task_routes=ROUTES, task_default_queue="sync")
        return self._sender

    def send(self, task: str, *args: object) -> None:
        try:
            self.sender().send_task(task, args=list(args))
        except Exception as exc:  # noqa: BLE001 - the broker may be down on purpose; beat would retry too
            print(f"  (could not enqueue {task}: {type(exc).__name__})", file=sys.stderr)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    # -- the run -------------------------------------------------------------------------------
    def start_workers(self) -> None:
        settings = load_settings(self.config)
        ctx = HubContext.build(settings, embedded=True)
        ctx.connector("hubspot").ensure_schema()
        ctx.close()
        for i in range(3):
            self.workers.append(HubWorker(self.config, self.workdir / f"worker{i}.log", f"w{i}"))
        for w in self.workers:
            w.wait_ready()

    def supervise(self) -> None:
        """Restart a worker that exited by itself, as systemd or a container restart policy
        would. Counted and printed: a worker that dies on its own is a finding."""
        for w in self.workers:
            if w.proc is not None and w.proc.poll() is not None:
                self.supervisor_restarts.append(f"{w.name} exited with {w.proc.returncode} at {self.elapsed():.0f}s")
                w.start()

    def edit_crm(self, share: float = 0.02) -> None:
        """Someone edits records in the CRM UI while the hub runs (not through the API)."""
        hs = self.world.hubspot
        with self.world.lock:
            live = [rid for rid, r in hs.records.items() if not r["archived"]]
            picked = random.Random(self.args.seed).sample(live, max(1, int(len(live) * share)))
            for k, rid in enumerate(picked):
                hs.set_properties(rid, {"jobtitle": f"Chaos Engineer {k}"}, endpoint="ui", source="ui")
        self.edited = picked
        self.events["crm_edits"] = self.elapsed()

    def archive_some(self, n: int = 10) -> None:
        """Someone deletes records in the CRM that have writes queued: those pushes cannot land
        and must end ``failed`` with a reason (or ``skipped`` if a sync saw the delete first)."""
        with self.store.connect() as conn:
            ext = list(conn.execute(select(pushes.c.external_id).where(pushes.c.state == "pending").limit(n)).scalars())
        with self.world.lock:
            for rid in ext:
                if rid in self.world.hubspot.records:
                    self.world.hubspot.archive(rid, endpoint="ui")
        self.archived = ext
        self.events["crm_archives"] = self.elapsed()

    def step_events(self, states: Counter) -> None:
        total = sum(states.values())
        done = states.get("done", 0)
        if "crm_archives" not in self.events and states.get("pending", 0) >= 10:
            self.archive_some()
        if "kill" not in self.events and states.get("sending", 0) > 0:
            busy = [w for w in self.workers if w.pushing()]
            if busy:
                busy[0].kill()  # SIGKILL mid push batch: its claimed rows stay "sending"
                self.events["kill"] = self.elapsed()
                self.events["kill_in_flight"] = states.get("sending", 0)
                busy[0].start()
        gap = self.pace.event_gap
        since = self.elapsed() - max(self.events.get("kill", 1e9), self.events.get("redis_restart", -1e9))
        if "kill" in self.events and "redis_restart" not in self.events and (done >= 0.3 * total or since > gap):
            self.redis.restart()  # queued tasks, locks and rate-limit logs are all lost
            self.events["redis_restart"] = self.elapsed()
        since = self.elapsed() - self.events.get("redis_restart", 1e9)
        if "redis_restart" in self.events and "store_drop" not in self.events and (done >= 0.5 * total or since > gap):
            self.events["store_drop"] = self.elapsed()
            self.events["store_connections_dropped"] = self.db.drop_connections()
        if "store_drop" in self.events and "crm_edits" not in self.events:
            self.edit_crm()

    def run(self) -> dict:
        self.start_workers()
        faults = self.sb.hubspot_faults
        # latency makes a push batch take long enough to be killed in the middle of
        faults.set(error_rate=0.2, drop_rate=self.pace.drop_rate, latency_s=0.1, seed=self.args.seed)
        self.events["faults_on"] = self.elapsed()
        deadline = time.monotonic() + self.args.timeout
        next_beat = next_burst = time.monotonic()
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_beat:  # what beat does, faster
                self.send("hub.sync", "hubspot")
                self.send("hub.push", "hubspot")
                next_beat = now + 3
            if now >= next_burst:
                faults.set(throttle_s=3)
                self.send("hub.sweep", 2 * self.pace.sweep_grace)
                next_burst = now + self.pace.burst_every
            self.supervise()
            states = self.push_states()
            self.trace(states)
            self.step_events(states)
            if "crm_edits" in self.events:
                break
            time.sleep(0.05 if "kill" not in self.events else 0.25)
        # 5xx, drops and 429 bursts stay on until the end: the hub has to converge under them
        return self.drain(deadline + 120)

    def drain(self, deadline: float) -> dict:
        """Faults off: keep beat-like ticks going until a sync after the CRM edits has finished
        and nothing is open or undecided."""
        settings = load_settings(self.config)
        ctx = HubContext.build(settings, embedded=True)
        quiet_since = None
        pace = self.pace
        next_burst = time.monotonic() + pace.burst_every
        try:
            while time.monotonic() < deadline:
                self.send("hub.sync", "hubspot")
                self.send("hub.push", "hubspot")
                if time.monotonic() >= next_burst:  # what beat does, faster
                    self.sb.hubspot_faults.set(throttle_s=3)
                    self.send("hub.sweep", pace.sweep_grace)
                    next_burst = time.monotonic() + pace.burst_every
                time.sleep(pace.drain_tick)
                self.supervise()
                states = self.push_states()
                open_ = states.get("pending", 0) + states.get("sending", 0)
                synced_after = self._synced_after_edits()
                owed = len(undecided_contacts(ctx, 0))
                self.trace(states, f"synced after edits: {synced_after}, undecided: {owed}")
                if open_ == 0 and synced_after and owed == 0:
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since > pace.quiet:
                        break
                else:
                    quiet_since = None
        finally:
            ctx.close()
        self.events["drained"] = self.elapsed()
        self.sb.hubspot_faults.clear()
        return self.events

    def trace(self, states: Counter, extra: str = "") -> None:
        """With --trace: push states about every 5 s on stderr (where a slow run spends its time)."""
        if not self.args.trace or self.elapsed() - self._traced < 5:
            return
        self._traced = self.elapsed()
        print(f"  [{self.elapsed():6.1f}s] pushes {dict(states)} {extra}", file=sys.stderr)

    def _synced_after_edits(self) -> bool:
        start = self.events.get("crm_edits")
        with self.store.connect() as conn:
            fin = conn.execute(
                select(sync_state.c.last_finished_at, sync_state.c.last_status).where(sync_state.c.stream == "contacts")
            ).first()
        if start is None or fin is None or fin.last_finished_at is None or fin.last_status != "ok":
            return False
        return fin.last_finished_at.timestamp() > time.time() - (self.elapsed() - start)

    def stop(self) -> None:
        """Stop workers, sandbox, Redis and drop the database; each step runs even if one
        before it failed (the first error is raised at the end)."""
        steps: list[Callable[[], None]] = [w.stop for w in self.workers]
        steps += [self._sender.close] if self._sender is not None else []
        steps += [s for s in (self.sb and self.sb.stop, self.store and self.store.dispose) if s]
        steps += [s for s in (self.redis and self.redis.stop, self.db and self.db.drop) if s]
        errors: list[BaseException] = []
        for step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - clean up the rest, then raise the first
                errors.append(exc)
        if errors:
            raise errors[0]


def check(chaos: Chaos) -> dict:
    """Every invariant, counted from the sandbox's write log and the store."""
    log = chaos.world.log
    writes = Counter(
        (e.record_id, e.new) for e in log.entries if e.system == "hubspot" and e.field == "hub_decision_id"
    )
    with chaos.store.connect() as conn:
        rows = conn.execute(
            select(pushes.c.external_id, pushes.c.decision_id, pushes.c.state, pushes.c.last_error, pushes.c.payload)
        ).all()
        decided = conn.execute(select(func.count()).select_from(decisions)).scalar()
        origins = Counter(k.split("-")[0] for k in conn.execute(select(decisions.c.request_key)).scalars())
        stored = {
            r.external_id: r.record for r in conn.execute(select(identities.c.external_id, identities.c.record)).all()
        }
    done = [r for r in rows if r.state == "done"]
    landed = [r for r in done if writes[(r.external_id, str(r.decision_id))] == 1]
    lost = [r for r in done if writes[(r.external_id, str(r.decision_id))] == 0]
    doubled = [r for r in done if writes[(r.external_id, str(r.decision_id))] > 1]
    hs = chaos.world.hubspot
    final_wrong = 0
    newest: dict[str, int] = {}
    for r in done:
        newest[r.external_id] = max(newest.get(r.external_id, 0), r.decision_id)
    with chaos.world.lock:
        for ext, did in newest.items():
            rec = hs.records.get(ext)
            if rec and rec["properties"].get("hub_decision_id") != str(did):
                final_wrong += 1
        live = {rid: r for rid, r in hs.records.items() if not r["archived"]}
        missed = sum(
            1
            for rid, r in live.items()
            if rid not in stored or (stored[rid].get("job_title") or None) != (r["properties"].get("jobtitle") or None)
        )
        missed_edits = sum(
            1
            for rid in chaos.edited
            if stored.get(rid, {}).get("job_title") != hs.records[rid]["properties"]["jobtitle"]
        )
    failed = [r for r in rows if r.state == "failed"]
    archived = set(chaos.archived)
    archived_outcome = Counter(r.state for r in rows if r.external_id in archived)
    intervals = sync_intervals([w.log for w in chaos.workers])
    return {
        "contacts_in_crm": len(live),
        "decisions": decided,
        "decisions_by_origin": dict(origins),
        "pushes": len(rows),
        "push_states": dict(Counter(r.state for r in rows)),
        "done_landed_once": len(landed),
        "done_lost": len(lost),
        "done_doubled": len(doubled),
        "final_value_wrong": final_wrong,
        "open_at_end": sum(1 for r in rows if r.state not in TERMINAL),
        "crm_records_missed": missed,
        "crm_edits": len(chaos.edited),
        "crm_edits_missed": missed_edits,
        "sync_runs": len(intervals),
        "sync_overlaps": overlaps(intervals),
        "limits_exceeded": log.total_limits_exceeded(),
        "faults_injected": {k: v for (s, k), v in log.faults.items() if s == "hubspot"},
        "crm_archived_with_queued_writes": len(archived),
        "crm_archived_still_in_store": sum(1 for rid in archived if rid in stored),
        "their_push_states": dict(archived_outcome),
        "failed": len(failed),
        "failed_without_reason": sum(1 for r in failed if not (r.last_error or "").strip()),
        "failed_reasons": dict(Counter((r.last_error or "")[:80] for r in failed).most_common(3)),
        "events_s": {k: round(v, 1) for k, v in chaos.events.items()},
        "workers_died_by_themselves": chaos.supervisor_restarts,
    }


def passed(res: dict) -> dict[str, bool]:
    return {
        "every done push landed exactly once": res["done_lost"] == 0 and res["done_doubled"] == 0,
        "final CRM values are the newest decision": res["final_value_wrong"] == 0,
        "nothing left open": res["open_at_end"] == 0,
        "no CRM change missed by the next sync": res["crm_records_missed"] == 0
        and res["crm_edits_missed"] == 0
        and res["crm_archived_still_in_store"] == 0,
        "no overlapping syncs": res["sync_overlaps"] == 0,
        "rate limit never exceeded": res["limits_exceeded"] == 0,
        "every failure has its reason": res["failed_without_reason"] == 0,
        "every fault kind was injected": all(res["faults_injected"].get(k, 0) > 0 for k in ("error", "429", "drop")),
        "all chaos events happened": all(
            k in res["events_s"] for k in ("kill", "redis_restart", "store_drop", "crm_edits", "crm_archives")
        ),
    }


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(143)


def main(argv: list[str] | None = None, report: Callable[[str], None] = print) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=100_000, help="people in the sandbox market")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="3,000 people (the HUB_SOAK=1 soak test)")
    mode.add_argument("--ci", action="store_true", help="600 people, shorter waits (the default test command)")
    ap.add_argument("--trace", action="store_true", help="push states every 5 s on stderr")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (worker logs)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds for the chaos phase")
    args = ap.parse_args(argv)
    if args.quick:
        args.contacts = 3000
        args.timeout = min(args.timeout, 240)
    if args.ci:
        args.contacts = 600
        args.timeout = min(args.timeout, 150)
    t = time.monotonic()
    # so `finally` stops workers, Redis, the database; put back afterwards (pytest runs this)
    old_handler = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    tmp = tempfile.mkdtemp(prefix="hub-chaos-")
    try:
        chaos = Chaos(args, Path(tmp))
        try:
            chaos.setup()
            chaos.run()
            res = check(chaos)
        except BaseException:
            for w in chaos.workers:
                if w.log.exists():
                    print(w.log.read_text(errors="replace")[-1500:], file=sys.stderr)
            raise
        finally:
            chaos.stop()
    finally:
        signal.signal(signal.SIGTERM, old_handler)
        if args.keep:
            report(f"work directory kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    res["seconds"] = round(time.monotonic() - t, 1)
    # what it started, so a caller can check it is all gone (tests/integration/test_chaos_ci.py)
    res["owned"] = {
        "database": chaos.db.name,
        "redis_port": chaos.redis.port,
        "worker_pids": [p for w in chaos.workers for p in w.pids],
    }
    res["checks"] = passed(res)
    for k, v in res.items():
        if k not in ("checks", "owned"):
            report(f"{k:28} {v}")
    for name, ok in res["checks"].items():
        report(f"{'PASS' if ok else 'FAIL'}  {name}")
    report(json.dumps(res, default=str))
    return res


if __name__ == "__main__":
    out = main()
    sys.exit(0 if all(out["checks"].values()) else 1)
