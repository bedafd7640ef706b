"""Scale: how the hub's costs grow with the number of contacts in a PostgreSQL store.

Run: .venv/bin/python bench/scale.py [--contacts 1000000] [--activities 3]

Contacts, identities, emails and activity history are generated straight into a throw-away
PostgreSQL database with INSERT ... SELECT generate_series (not through a CRM). Then, at a
small store and again once it holds ``--contacts``:

- incremental sync of 1,000 changed records and a no-change sync, through the real
  ``sync_connector`` and the Redis-backed test CRM (tests/plugins/memory_crm.py) on this
  run's own redis-server: their cost must not grow with the total;
- decide throughput with 1, 2 and 4 worker processes (real ``decide_contacts``, the engine
  policy, pushes queued), the 2 / 1 worker ratio, and each worker's peak memory (max RSS), as
  the medians of ``--rounds`` interleaved rounds (each round's ratio printed);
- the profile of one 200-contact decide batch: the share of its time in store reads,
  featurize, the engine, governance and writes, so the bottleneck is visible;
- store size per contact.

Full sync (a first sync into an empty store) is timed through the same path at 10,000 records
and at ``--contacts`` (pass ``--full 10000 30000`` for a quick run, extrapolated linearly);
against HubSpot, the vendor's rate limit bounds it anyway (printed).
Prints a table with growth ratios and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos_infra import OwnDatabase, OwnRedis  # noqa: E402
from hub.config import load_settings  # noqa: E402
from hub.pipeline.context import HubContext  # noqa: E402
from hub.pipeline.decide import decide_contacts  # noqa: E402
from hub.pipeline.run import chunks  # noqa: E402
from hub.pipeline.sync import sync_connector  # noqa: E402
from hub.store import Store  # noqa: E402
from hub.store.planner import DECIDE_TABLES  # noqa: E402

RULES = [
    {
        "name": "hot",
        "when": "activities_30d['page_view'] >= 3",
        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "sales_outreach"}}],
    },
    {"name": "nurture", "when": "True", "actions": [{"kind": "set_fields", "fields": {"next_best_action": "nurture"}}]},
]


def write_config(workdir: Path, store_url: str, redis_url: str, namespace: str) -> Path:
    cfg = {
        "store_url": store_url,
        "broker_url": redis_url,
        "plugins": ["tests.plugins.memory_crm"],
        "connectors": {
            "crm": {
                "type": "memory_crm",
                "settings": {"redis_url": redis_url, "namespace": namespace, "page_size": 100},
            }
        },
        "decision": {"chunk_size": 200, "rules": RULES},
    }
    path = workdir / f"{namespace}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def generate(url: str, lo: int, hi: int, activities: int) -> float:
    """Insert contacts lo..hi with an identity, an email and ``activities`` events each."""
    t = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO contacts (id, primary_email, first_name, last_name, company_name, industry, employees,
                 country, job_title, lifecycle_stage, email_opt_out, do_not_contact, properties, updated_at,
                 created_at, changed_at)
               SELECT g, 'p' || g || '@scale.example', 'First' || g, 'Last' || g, 'Company ' || (g %% 50000),
                 (ARRAY['Software','Retail','Finance','Health'])[1 + g %% 4], 10 + g %% 5000, 'US',
                 CASE WHEN g %% 7 = 0 THEN 'Engineer' ELSE 'Manager' END, 'lead', g %% 50 = 0, false, '{}',
                 now(), now() - interval '1 day', now() - interval '1 day'
               FROM generate_series(%s::bigint, %s::bigint) g""",
            (lo, hi),
        )
        conn.execute(
            "INSERT INTO contact_emails (email, contact_id) "
            "SELECT 'p' || g || '@scale.example', g FROM generate_series(%s::bigint, %s::bigint) g",
            (lo, hi),
        )
        conn.execute(
            """INSERT INTO identities (contact_id, connector, object_type, external_id, record, record_hash,
                 crm_fields, lists, owner, source_updated_at, synced_at)
               SELECT g, 'crm', 'contact', g::text,
                 json_build_object('emails', json_build_array('p' || g || '@scale.example'),
                                   'first_name', 'First' || g, 'last_name', 'Last' || g),
                 md5(g::text), '{}', '[]', NULL, now(), now()
               FROM generate_series(%s::bigint, %s::bigint) g""",
            (lo, hi),
        )
        if activities:
            conn.execute(
                """INSERT INTO activities (contact_id, type, channel, occurred_at, properties, source, external_id)
                   SELECT g, CASE WHEN k %% 2 = 0 THEN 'page_view' ELSE 'email_open' END, 'web',
                     now() - (k * interval '5 days') - (g %% 1000) * interval '1 minute', '{}', 'crm',
                     'a' || g || '-' || k
                   FROM generate_series(%s::bigint, %s::bigint) g, generate_series(1, %s) k""",
                (lo, hi, activities),
            )
        conn.execute("SELECT setval(pg_get_serial_sequence('contacts', 'id'), (SELECT max(id) FROM contacts))")
        conn.execute("ANALYZE")
    return time.perf_counter() - t


def seed_crm(ctx: HubContext, ids: list[str], **fields: Any) -> None:
    from tests.plugins.memory_crm import MemoryCRM

    s = ctx.settings.connectors["crm"].settings
    crm = MemoryCRM(s["redis_url"], s["namespace"])
    name = fields.get("first_name")
    for k in range(0, len(ids), 10_000):
        part = ids[k : k + 10_000]
        if name is None:
            crm.put_new_contacts({i: {"email": f"p{i}@scale.example", "first_name": f"First{i}"} for i in part})
        else:
            for i in part:
                crm.put_contact(i, email=f"p{i}@scale.example", first_name=name)


def timed_sync(ctx: HubContext) -> tuple[float, int]:
    t = time.perf_counter()
    res = sync_connector(ctx, "crm")
    return time.perf_counter() - t, res.records


def full_sync_rate(workdir: Path, redis_url: str, n: int) -> float:
    """Records per second of a first sync of ``n`` new records into an empty store."""
    db = OwnDatabase()
    try:
        Store(db.url, auto_migrate=True).dispose()
        ctx = HubContext.build(load_settings(write_config(workdir, db.url, redis_url, f"full{n}")), embedded=True)
        seed_crm(ctx, [f"new{i}" for i in range(n)])
        secs, records = timed_sync(ctx)
        ctx.close()
        return records / secs
    finally:
        db.drop()


def peak_rss_kb() -> int:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux keeps that across exec,
    so a spawned worker would report the RSS of the bench process it was forked from."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def backend_cpu(url: str, app: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving connections named ``app``, read
    from /proc (so only for a server on this machine; empty otherwise)."""
    with psycopg.connect(url, autocommit=True) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid()", (app,)
        ).fetchall()
    out = {}
    for (pid,) in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return out


def _decide_worker(
    config: str, ids: list[int], key: str, chunk: int, start: Any
) -> tuple[float, int, int, float, float]:
    app = f"scale-decide-{os.getpid()}"
    os.environ["PGAPPNAME"] = app  # libpq names this worker's connections, so its backends can be found
    ctx = HubContext.build(load_settings(config), embedded=True)
    # no ANALYZE while timed: one worker adds twice the rows of each of two, so its analyzer
    # fired in the 1-worker run and not in the 2-worker one (the bench analyzes before each run)
    ctx.decide_growth.enabled = False
    decide_contacts(ctx, ids[:10], f"{key}-warmup")  # connections and policy built before timing
    # every worker starts its clock together: a worker still importing would otherwise take a
    # core from one already timing, and the 2 / 1 ratio would measure start-up, not decide
    start.wait()
    pg = backend_cpu(ctx.settings.store_url, app)
    t, cpu = time.perf_counter(), time.process_time()
    decided = sum(decide_contacts(ctx, part, key).decided for part in chunks(ids, chunk))
    secs, cpu = time.perf_counter() - t, time.process_time() - cpu
    pg_cpu = sum(v - pg.get(pid, 0.0) for pid, v in backend_cpu(ctx.settings.store_url, app).items())
    ctx.close()
    return secs, decided, peak_rss_kb(), cpu, pg_cpu


#: stage -> the functions whose cumulative time it is (one decide batch under cProfile)
STAGES = {
    "store reads": (
        "hub/store/decisions.py:existing_requests",
        "hub/store/decisions.py:decided_since_change",
        "hub/store/contacts.py:load_contacts",
        "hub/store/profiles.py:load_profiles",
        "hub/store/decisions.py:recent_actions",
        "hub/store/decisions.py:handoffs_since",
        "hub/pipeline/learn.py:ensure_current",
    ),
    "featurize": ("decision/engine.py:features",),
    "engine (without featurize)": ("decision/engine.py:decide",),
    "governance (scores, routing)": ("hub/governance/plan.py:after_policy",),
    "writes (decisions, pushes)": (
        "hub/store/decisions.py:insert_decisions",
        "hub/governance/plan.py:enqueue",
    ),
}


def decide_profile(config: Path, ids: list[int], key: str) -> dict[str, float]:
    """Share of one decide batch's time per stage (cProfile cumulative times, so the Python-
    heavy stages are inflated alike; the shares show the bottleneck), and its wall seconds."""
    import cProfile
    import pstats

    ctx = HubContext.build(load_settings(config), embedded=True)
    decide_contacts(ctx, ids[:10], f"{key}-warmup")
    prof = cProfile.Profile()
    prof.enable()
    decide_contacts(ctx, ids, key)
    prof.disable()
    ctx.close()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    cum: dict[str, float] = {}
    for (file, _, func), (_, _, _, ct, _) in stats.items():
        for stage, names in STAGES.items():
            if any(file.endswith(n.split(":")[0]) and func == n.split(":")[1] for n in names):
                cum[stage] = cum.get(stage, 0.0) + ct
    total = sum(ct for (file, _, func), (_, _, _, ct, _) in stats.items() if func == "decide_contacts")
    cum["engine (without featurize)"] = cum.get("engine (without featurize)", 0.0) - cum.get("featurize", 0.0)
    out = {stage: round(100 * cum.get(stage, 0.0) / total, 1) for stage in STAGES}
    out["other (%)"] = round(100 - sum(out.values()), 1)
    out["batch of contacts"] = len(ids)
    out["profiled seconds"] = round(total, 3)
    return out


def decide_throughput(config: Path, ids: list[int], procs: int, key: str) -> dict[str, float]:
    """Contacts decided per second over ``procs`` processes, the largest worker RSS (MB), and
    the CPU per contact of the workers and of their PostgreSQL backends (a ratio below 1 with
    neither growing means the processes wait on each other; growing CPU means they share cores)."""
    parts = [ids[i::procs] for i in range(procs)]
    with psycopg.connect(load_settings(config).store_url, autocommit=True) as conn:
        conn.execute(f"ANALYZE {', '.join(DECIDE_TABLES)}")  # every run starts from fresh estimates
    spawn = mp.get_context("spawn")
    with spawn.Manager() as manager, spawn.Pool(procs) as pool:
        start = manager.Barrier(procs)
        results = pool.starmap(_decide_worker, [(str(config), p, key, 200, start) for p in parts])
    wall = max(r[0] for r in results)
    decided = max(1, sum(r[1] for r in results))
    out = {
        f"decide, {procs} worker(s) (contacts/s)": decided / wall,
        f"peak RSS per worker, {procs} worker(s) (MB)": max(r[2] for r in results) / 1024,
        f"worker CPU per contact, {procs} worker(s) (ms)": 1000 * sum(r[3] for r in results) / decided,
        f"PostgreSQL CPU per contact, {procs} worker(s) (ms)": 1000 * sum(r[4] for r in results) / decided,
    }
    print(f"  decide with {procs} process(es): {decided} contacts in {wall:.2f} s", file=sys.stderr)
    return out


def store_bytes(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def measure(
    ctx: HubContext, config: Path, db: OwnDatabase, total: int, sample: int, tag: str, rounds: int
) -> tuple[dict[str, float], list[float]]:
    step = max(1, total // 1000)
    changed = [str(i) for i in range(1, total + 1, step)][:1000]
    seed_crm(ctx, changed, first_name="Changed")
    inc, inc_records = timed_sync(ctx)
    quiet, _ = timed_sync(ctx)
    ids = list(range(total - sample + 1, total + 1))
    out: dict[str, float] = {
        "incremental sync, 1,000 changed (s)": inc,
        "no-change sync (s)": quiet,
        "store bytes per contact": store_bytes(db.url) / total,
    }
    assert inc_records == len(changed), (inc_records, len(changed))
    # an untimed pass first, so every timed run finds the store alike: the sample decided once
    # and its pushes pending (each run folds them), and the decisions table not empty when a
    # worker plans its foreign-key checks (planned on an empty table, each check scans it)
    for part in chunks(ids, 200):
        decide_contacts(ctx, part, f"{tag}-prime")
    # rounds of 1, 2 and 4 processes, interleaved so a slow spell of the host falls on one round,
    # not on one process count; each figure is the median round's, the ratio the median of the
    # rounds' own ratios (every round's ratio is printed too)
    runs = [
        {k: v for procs in (1, 2, 4) for k, v in decide_throughput(config, ids, procs, f"{tag}-{r}-{procs}").items()}
        for r in range(rounds)
    ]
    out.update({k: statistics.median(run[k] for run in runs) for k in runs[0]})
    ratios = [run["decide, 2 worker(s) (contacts/s)"] / run["decide, 1 worker(s) (contacts/s)"] for run in runs]
    out["decide scaling, 2 / 1 workers"] = statistics.median(ratios)
    print(f"  decide scaling 2 / 1 per round: {', '.join(f'{x:.2f}' for x in ratios)}", file=sys.stderr)
    return out, [round(x, 3) for x in ratios]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=50_000, help="the small store the growth is measured from")
    ap.add_argument("--activities", type=int, default=3, help="activities per contact")
    ap.add_argument("--full", type=int, nargs=2, default=None, help="full-sync sizes (default: 10,000 and --contacts)")
    ap.add_argument("--decide-sample", type=int, default=4_000, help="contacts decided per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of 1, 2 and 4 decide processes (medians)")
    args = ap.parse_args()
    args.full = args.full or [10_000, args.contacts]
    workdir = Path(tempfile.mkdtemp(prefix="hub-scale-"))
    redis = OwnRedis(workdir).start()
    db = OwnDatabase()
    rows: dict[str, dict[str, float]] = {}
    notes: dict[str, Any] = {}
    try:
        rates = {n: full_sync_rate(workdir, redis.url, n) for n in args.full}
        notes["full_sync_records_per_s"] = {str(k): round(v, 1) for k, v in rates.items()}
        key = "full_sync_s" if args.full[-1] == args.contacts else "full_sync_extrapolated_s"
        notes[key] = round(args.contacts / rates[args.full[-1]], 0)
        notes["hubspot_rate_limit_floor_s"] = round(args.contacts / 100 / 19, 0)  # 100 per page, 190 per 10 s
        Store(db.url, auto_migrate=True).dispose()
        config = write_config(workdir, db.url, redis.url, "scale")
        ctx = HubContext.build(load_settings(config), embedded=True)
        notes["generate_small_s"] = round(generate(db.url, 1, args.small, args.activities), 1)
        timed_sync(ctx)  # the cursor starts at the end of the (empty) CRM
        rows["small"], notes["decide_scaling_rounds_small"] = measure(
            ctx, config, db, args.small, args.decide_sample, "small", args.rounds
        )
        notes["generate_rest_s"] = round(generate(db.url, args.small + 1, args.contacts, args.activities), 1)
        rows["large"], notes["decide_scaling_rounds_large"] = measure(
            ctx, config, db, args.contacts, args.decide_sample, "large", args.rounds
        )
        notes["decide_batch_profile_percent"] = decide_profile(
            config, list(range(args.contacts - 399, args.contacts - 199)), "profile"
        )
        ctx.close()
    finally:
        redis.stop()
        db.drop()
    print(f"store: {args.small:,} -> {args.contacts:,} contacts, {args.activities} activities each (PostgreSQL)")
    print(f"{'metric':44} {'small':>12} {'large':>12} {'large/small':>12}")
    for metric, small in rows["small"].items():
        large = rows["large"][metric]
        print(f"{metric:44} {small:12.3f} {large:12.3f} {large / small if small else 0:12.2f}")
    for k, v in notes.items():
        if k != "decide_batch_profile_percent":
            print(f"{k}: {v}")
    print("one decide batch, share of its time per stage (cProfile):")
    for stage, pct in notes["decide_batch_profile_percent"].items():
        print(f"  {stage:42} {pct}")
    print(json.dumps({"contacts": args.contacts, "small": args.small, "rows": rows, **notes}))


if __name__ == "__main__":
    main()
