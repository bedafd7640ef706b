"""HubSpot connector cost: API calls against the minimum, through the hub's own pipeline.

Run: .venv/bin/python bench/hubspot_sync_push.py [--people 27000]
A sandbox portal of about 20,000 contacts is synced (full), every contact decided by the
sample playbook and pushed, then synced twice more: the first re-sync reads back our own
writes (echoes, which must decide nothing), the second finds nothing. The minimum is one
call per 100 records per step (HubSpot's list and batch sizes). Prints a table and one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections import Counter
from pathlib import Path

from hub.config import load_settings
from hub.demo import sandbox_settings
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.pipeline.push import push_connector
from hub.pipeline.run import chunks
from hub.pipeline.sync import sync_connector
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World, WorldConfig


def calls(world: World) -> Counter:
    return Counter({ep: n for (system, ep), n in world.log.calls.items() if system == "hubspot"})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=27_000, help="people in the market (~74%% are in HubSpot)")
    args = ap.parse_args()
    world = World(WorldConfig(n_contacts=args.people, seed=11))
    rows = []
    with start_sandbox(world) as sb, tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(sandbox_settings(sb, Path(tmp), {"hubspot"}))
        ctx = HubContext.build(settings, embedded=True)
        ctx.clock = world.now
        hs = ctx.connector("hubspot")
        hs.ensure_schema()

        def step(name, fn):
            before, ops_before = calls(world), Counter(hs.client.calls)
            t = time.perf_counter()
            out = fn()
            used = calls(world) - before
            ops = Counter(hs.client.calls) - ops_before
            contact_ops = sum(v for k, v in ops.items() if k.startswith("contacts."))
            rows.append((name, sum(used.values()), time.perf_counter() - t, contact_ops, dict(ops)))
            return out

        synced = step("full sync", lambda: sync_connector(ctx, "hubspot"))
        n = synced.records
        ids = sorted(synced.changed)
        decided = 0
        for part in chunks(ids, 500):
            decided += decide_contacts(ctx, part, "bench").decided

        def push_all():
            total = 0
            while True:
                s = push_connector(ctx, "hubspot")
                total += s.done
                if not s.more:
                    return total

        pushed = step("push", push_all)
        echo = step("re-sync (our own writes)", lambda: sync_connector(ctx, "hubspot"))
        echo_decided = sum(
            decide_contacts(ctx, part, "bench-echo").decided for part in chunks(sorted(echo.changed), 500)
        )
        quiet = step("re-sync (nothing changed)", lambda: sync_connector(ctx, "hubspot"))
        quiet_writes = step("push after quiet re-sync", push_all)
        ctx.close()
    minimum = {"full sync": math.ceil(n / 100), "push": math.ceil(pushed / 100)}
    print(
        f"{n} contacts synced, {decided} decided, {pushed} pushed; limits exceeded: {world.log.total_limits_exceeded()}"
    )
    print(f"{'step':28} {'calls':>6} {'contacts':>8} {'minimum':>8} {'ratio':>6} {'seconds':>8}  calls by operation")
    result = {
        "contacts": n,
        "decided": decided,
        "pushed": pushed,
        "echo_decisions": echo_decided,
        "limits_exceeded": world.log.total_limits_exceeded(),
    }
    for name, used, secs, contact_calls, ops in rows:
        mn = minimum.get(name)
        ratio = f"{used / mn:.3f}" if mn else "-"
        print(f"{name:28} {used:6d} {contact_calls:8d} {mn if mn else '-':>8} {ratio:>6} {secs:8.2f}  {ops}")
        result[name.replace(" ", "_").replace("(", "").replace(")", "")] = {
            "calls": used,
            "contact_calls": contact_calls,
            "minimum": mn,
            "seconds": round(secs, 3),
        }
    print(
        f"echo re-sync decided {echo_decided} contacts (target 0); quiet re-sync read {quiet.records} records with "
        f"{rows[3][3]} contact calls (target at most 2) and {rows[3][1] - rows[3][3]} activity calls (one per activity endpoint); "
        f"then pushed {quiet_writes}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
