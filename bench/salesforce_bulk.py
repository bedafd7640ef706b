"""Benchmark: a first sync of a big Salesforce org over REST against Bulk API 2.0, in one run.

For each size, an org of that many Leads (other objects empty) is read from nothing by the
connector's ``pull_contacts`` twice on the same sandbox: once REST only (``bulk_threshold:
None``, query/queryMore pages of 2,000 rows) and once through a Bulk API 2.0 query job
(``bulk_threshold: 1``; results pages of ``bulk_page_records`` = 50,000 rows). Both reads must
yield the same people (checked by a digest). Counts the calls the sandbox served (logins
excluded) against each transport's minimum (REST: one per 2,000 rows; Bulk: create, the polls
the sandbox's job takes to finish, ``SalesforceLimits.bulk_polls`` + 1 = 3, one per 50,000 rows);
the describe and, for Bulk, the COUNT() that chooses it are the overhead. Wall time
covers the read and the mapping to hub contacts, not the store's writes (the same for both);
sandbox and connector share this process, so the sandbox's work is in the time too. Bulk
polls sleep ``--poll`` seconds, then twice that (the sandbox's jobs finish after two polls).

    .venv/bin/python bench/salesforce_bulk.py [--sizes 100000,1000000] [--poll 0.5]

Last run (3 December 2026, load 36-46 on 2 shared cores; bench/results/salesforce_bulk.txt):
300,000 rows REST 151 calls in 425.8 s, Bulk 12 calls in 268.9 s, the same people. The
1,000,000-row size did not finish in the time at that load.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import random
import time
from typing import Any

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from hub.connectors_setup import setup_connector
from hub.sandbox.salesforce_server import SalesforceLimits
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World

REST_PAGE = 2000
BULK_PAGE = 50_000


def build_world(rows: int, seed: int) -> World:
    """A tiny world topped up with ``rows`` Leads modified over the past year (3% deleted)."""
    world = World(n_contacts=100, seed=seed)
    sf = world.salesforce
    for rid in list(sf.objects["Lead"]):
        del sf.objects["Lead"][rid]
    for rid in list(sf.objects["Contact"]):
        del sf.objects["Contact"][rid]
    rng = random.Random(seed)
    now = sf.clock.now_ms()
    industries = ["Software", "Retail", "Finance", "Health", None]
    for k in range(rows):
        at = now - rng.randrange(365 * 86_400_000)
        rid = sf.create(
            "Lead",
            {
                "FirstName": f"First{k}",
                "LastName": f'Last, "{k}"' if k % 97 == 0 else f"Last{k}",  # quoting in the CSV
                "Email": f"lead{k}@bulk.example.com" if k % 13 else None,
                "Company": f"Company {k % 5000}",
                "Industry": industries[k % 5],
                "NumberOfEmployees": rng.randrange(1, 5000),
                "AnnualRevenue": round(rng.random() * 1e7, 2) if k % 3 else None,
                "Country": "US",
                "Status": "Open - Not Contacted",
                "LeadSource": "Web",
                "HasOptedOutOfEmail": k % 11 == 0,
                "OwnerId": sf.users[k % len(sf.users)],
            },
            at_ms=at,
        )
        if k % 33 == 0:
            sf.objects["Lead"][rid]["IsDeleted"] = True
    return world


def connector_for(sb: SandboxHandle, bulk: bool, poll: float) -> SalesforceConnector:
    settings = SalesforceSettings(
        **sb.salesforce_password_login,
        objects=["Lead"],
        bulk_threshold=1 if bulk else None,
        bulk_poll_seconds=poll,
        bulk_page_records=BULK_PAGE,
    )
    return SalesforceConnector("salesforce", settings, {})


def set_up(conn: SalesforceConnector) -> None:
    """`hub connectors setup` first, as a user runs it (a new org has none of the hub's fields,
    which the sync reads back), in its own connector: its calls are not the benchmark's."""
    try:
        done = setup_connector(conn)
    finally:
        conn.close()
    if not done.ok:
        raise SystemExit(f"sandbox setup did not verify: {done.as_dict()}")


def first_sync(sb: SandboxHandle, bulk: bool, poll: float) -> dict[str, Any]:
    conn = connector_for(sb, bulk, poll)
    assert conn.client.sf is not None  # log in first: logins are not calls
    used0, t0 = sb.salesforce.daily.used, time.perf_counter()
    digest = 0
    people = deleted = 0
    for page in conn.pull_contacts(None):
        for c in page.items:
            key = f"{c.identities[0].external_id}|{c.emails}|{c.last_name}|{c.company.annual_revenue}|{c.consent}"
            digest ^= int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
        people += len(page.items)
        deleted += len(page.deleted)
    seconds = time.perf_counter() - t0
    calls = sb.salesforce.daily.used - used0
    conn.close()
    return {"people": people, "deleted": deleted, "calls": calls, "seconds": round(seconds, 2), "digest": digest}


def run(rows: int, seed: int, poll: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    world = build_world(rows, seed)
    built = time.perf_counter() - t0
    with start_sandbox(world) as sb:
        set_up(connector_for(sb, False, poll))
        rest = first_sync(sb, bulk=False, poll=poll)
        bulk = first_sync(sb, bulk=True, poll=poll)
    n = rest["people"] + rest["deleted"]
    polls = SalesforceLimits().bulk_polls + 1
    minimum = {"rest": math.ceil(n / REST_PAGE), "bulk": 1 + polls + math.ceil(n / BULK_PAGE)}
    out = {
        "rows": rows,
        "build_seconds": round(built, 1),
        "rest": rest,
        "bulk": bulk,
        "min_calls": minimum,
        "same_people": rest["digest"] == bulk["digest"] and rest["people"] == bulk["people"],
        "call_ratio_rest_over_bulk": round(rest["calls"] / bulk["calls"], 1),
        "time_ratio_rest_over_bulk": round(rest["seconds"] / bulk["seconds"], 2),
    }
    del world
    gc.collect()
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'rows':>9} {'transport':<9} {'calls':>6} {'minimum':>8} {'seconds':>8} {'rows/s':>8}"]
    for r in results:
        for t in ("rest", "bulk"):
            x = r[t]
            n = x["people"] + x["deleted"]
            lines.append(
                f"{r['rows']:>9} {t:<9} {x['calls']:>6} {r['min_calls'][t]:>8} {x['seconds']:>8.1f} "
                f"{round(n / x['seconds']):>8}"
            )
        lines.append(
            f"{'':>9} REST/Bulk: {r['call_ratio_rest_over_bulk']}x calls, {r['time_ratio_rest_over_bulk']}x time; "
            f"same people: {r['same_people']}"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--poll", type=float, default=0.5, help="first wait between Bulk job polls (seconds)")
    args = ap.parse_args()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        results.append(run(size, args.seed, args.poll))
        print(json.dumps({k: v for k, v in results[-1].items()}, sort_keys=True), flush=True)
    print(table(results))
    if not all(r["same_people"] for r in results):
        raise SystemExit("REST and Bulk read different people")


if __name__ == "__main__":
    main()
