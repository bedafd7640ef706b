"""Throughput of the Segment input: /v1/batch of identify, then track and page messages,
through the real FastAPI app in-process (TestClient), embedded mode (outcomes attributed inline,
nobody re-decided: ``redecide_on: []``), on SQLite or PostgreSQL.

    python bench/segment_ingest.py                   # 2,000 people, batches of 100, SQLite
    python bench/segment_ingest.py --people 5000 --store-url postgresql://postgres@127.0.0.1/bench_db

Prints messages per second per phase and one JSON line (the last line).
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from hub.api.app import create_app
from hub.config import parse_settings
from hub.store import Store

KEY = "bench-segment-key-0123456789abcdef"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--store-url", default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="segment-bench-"))
    url = args.store_url or f"sqlite:///{tmp / 'hub.db'}"
    Store(url, auto_migrate=True).dispose()
    settings = parse_settings(
        {
            "store_url": url,
            "decision": {"policy": "rules", "outcomes": [{"name": "trial_started", "event": "Trial Started"}]},
            "api": {"embedded": True, "redecide_on": [], "segment_write_keys": [{"name": "bench", "key": KEY}]},
        }
    )
    app = create_app(settings)
    auth = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()}

    def phase(name: str, make) -> float:  # noqa: ANN001 - message factory
        msgs = [make(i) for i in range(args.people)]
        start = time.perf_counter()
        for k in range(0, len(msgs), args.batch):
            r = client.post("/v1/batch", content=json.dumps({"batch": msgs[k : k + args.batch]}), headers=auth)
            assert r.status_code == 200 and r.json() == {"success": True}, r.text[:300]
        rate = len(msgs) / (time.perf_counter() - start)
        print(f"{name:>9}: {len(msgs):,} messages, {rate:,.0f}/s")
        return rate

    with TestClient(app) as client:
        out = {
            "identify": phase(
                "identify",
                lambda i: {
                    "type": "identify",
                    "userId": f"u{i}",
                    "messageId": f"i{i}",
                    "traits": {"email": f"p{i}@x.example"},
                },
            ),
            "track": phase(
                "track",
                lambda i: {"type": "track", "userId": f"u{i}", "messageId": f"t{i}", "event": "Trial Started"},
            ),
            "page": phase(
                "page",
                lambda i: {"type": "page", "anonymousId": f"a{i}", "messageId": f"p{i}", "properties": {"path": "/"}},
            ),
            "resend": phase(
                "resend",
                lambda i: {"type": "track", "userId": f"u{i}", "messageId": f"t{i}", "event": "Trial Started"},
            ),
        }
    app.state.hub.close()
    print(json.dumps({"store": url.split(":")[0], "people": args.people, "batch": args.batch, "per_second": out}))


if __name__ == "__main__":
    main()
