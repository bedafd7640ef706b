"""Warehouse connector cost: rows read per second from a PostgreSQL source, and a whole sync.

Run: .venv/bin/python bench/warehouse_sync.py [--rows 100000] [--sync-rows 20000] [--page-size 1000]
Creates a throw-away PostgreSQL database (HUB_TEST_PG_URL, default the local `test` server),
fills a contacts table, then (1) walks every page through the connector alone (keyset queries
and row mapping, no store), and (2) syncs ``--sync-rows`` of them through the hub's own sync into
a SQLite store, then syncs again (the lookback re-read, which must change nothing). Prints one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine

from connectors.warehouse.config import WarehouseSettings
from connectors.warehouse.connector import WarehouseConnector
from hub.config import parse_settings
from hub.pipeline.context import HubContext
from hub.pipeline.sync import sync_connector
from hub.store import Store

PG_ADMIN = os.environ.get("HUB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def fill(url: str, n: int, table_name: str) -> None:
    engine = create_engine(url)
    md = MetaData()
    table = Table(
        table_name,
        md,
        Column("id", Integer),
        Column("email", String(200)),
        Column("first_name", String(100)),
        Column("industry", String(100)),
        Column("plan", String(50)),
        Column("updated_at", DateTime(timezone=True)),
    )
    md.create_all(engine)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for start in range(0, n, 10_000):
            conn.execute(
                table.insert(),
                [
                    {
                        "id": i,
                        "email": f"u{i}@example.com",
                        "first_name": f"F{i}",
                        "industry": "Software",
                        "plan": "pro",
                        "updated_at": t0 + timedelta(seconds=i // 3),  # ties of three
                    }
                    for i in range(start, min(n, start + 10_000))
                ],
            )
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--sync-rows", type=int, default=20_000)
    ap.add_argument("--page-size", type=int, default=1000)
    args = ap.parse_args()
    name = f"hub_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    out: dict = {"rows": args.rows, "sync_rows": args.sync_rows, "page_size": args.page_size}
    try:
        fill(url, args.rows, "people")
        fill(url, args.sync_rows, "people_small")
        contacts = {"table": "people", "properties": ["plan"], "page_size": args.page_size}
        wh = WarehouseConnector("wh", WarehouseSettings.model_validate({"url": url, "contacts": contacts}), {})
        t = time.perf_counter()
        read = sum(len(p.items) for p in wh.pull_contacts(None))
        pull = time.perf_counter() - t
        wh.close()
        out.update(pulled=read, pull_seconds=round(pull, 2), pull_rows_per_second=round(read / pull))

        with tempfile.TemporaryDirectory() as tmp:
            store_url = f"sqlite:///{Path(tmp) / 'hub.db'}"
            Store(store_url, auto_migrate=True).dispose()
            entry = {
                "type": "warehouse",
                "receives": [],
                "settings": {"url": url, "contacts": {**contacts, "table": "people_small"}},
            }
            settings = parse_settings({"store_url": store_url, "connectors": {"wh": entry}})
            ctx = HubContext.build(settings, embedded=True)
            t = time.perf_counter()
            first = sync_connector(ctx, "wh")
            sync = time.perf_counter() - t
            t = time.perf_counter()
            again = sync_connector(ctx, "wh")
            resync = time.perf_counter() - t
            ctx.close()
        out.update(
            sync_records=first.records,
            sync_created=first.created,
            sync_seconds=round(sync, 2),
            sync_rows_per_second=round(first.records / sync),
            resync_records=again.records,
            resync_changed=len(again.changed),
            resync_seconds=round(resync, 2),
        )
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(out))


if __name__ == "__main__":
    main()
