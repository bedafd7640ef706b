"""The request guard: token before body, body caps while streaming, JSON depth and item caps.

The streaming tests drive the ASGI app directly with a ``receive`` that makes its chunks on
demand and counts them, so they see exactly how much of a body the server read.
"""

from __future__ import annotations

import asyncio
import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.api.guard import json_shape_problem, limits_for
from hub.api.webhooks import hubspot_signature
from tests.api.conftest import HUBSPOT_SECRET, TOKENS

CHUNK = 1_000_000


def _call(app, path: str, headers: dict[str, str], chunks: int, chunk: bytes = b" " * CHUNK) -> tuple[int, int, dict]:
    """POST ``chunks`` chunks lazily; returns (status, chunks the app asked for, body)."""
    asked = 0
    out: dict = {"status": None, "body": b""}

    async def receive():
        nonlocal asked
        if asked >= chunks:
            await asyncio.sleep(3600)  # the client has nothing more to say
        asked += 1
        return {"type": "http.request", "body": chunk, "more_body": asked < chunks}

    async def send(msg):
        if msg["type"] == "http.response.start":
            out["status"] = msg["status"]
        elif msg["type"] == "http.response.body":
            out["body"] += msg.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.9", 5555),
        "server": ("hub.example.com", 443),
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 60))
    body = json.loads(out["body"]) if out["body"] else {}
    return out["status"], asked, body


def test_an_unauthenticated_huge_body_is_refused_before_a_byte_is_read(client):
    app = client.app
    status, asked, body = _call(app, "/v1/decisions", {"content-type": "application/json"}, chunks=160)
    assert status == 401 and asked == 0, (status, asked)
    status, asked, body = _call(
        app, "/v1/decisions", {"content-type": "application/json", "authorization": "Bearer wrong-token"}, 160
    )
    assert status == 401 and asked == 0 and body["detail"] == "the API token is not valid"


def test_a_body_without_content_length_is_cut_off_at_the_cap(client):
    headers = {"content-type": "application/json", "authorization": f"Bearer {TOKENS['decide']}"}
    size, _ = limits_for("/v1/decisions")
    status, asked, body = _call(client.app, "/v1/decisions", headers, chunks=160, chunk=b" " * 64_000)
    assert status == 413 and asked <= size // 64_000 + 1, (status, asked)
    assert str(size) in body["detail"]


def test_a_lying_content_length_does_not_lift_the_cap(client):
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {TOKENS['decide']}",
        "content-length": "20",
    }
    status, asked, _ = _call(client.app, "/v1/decisions", headers, chunks=50, chunk=b" " * 64_000)
    assert status == 413 and asked <= 5


def test_a_declared_oversize_body_is_refused_unread(client):
    headers = {"authorization": f"Bearer {TOKENS['events']}", "content-length": str(10**9)}
    status, asked, _ = _call(client.app, "/v1/events", headers, chunks=1000)
    assert status == 413 and asked == 0


def test_a_deep_or_wide_json_body_is_a_clear_400(client):
    h = {"Authorization": f"Bearer {TOKENS['decide']}", "content-type": "application/json"}
    deep = b"[" * 50_000 + b"]" * 50_000
    r = client.post("/v1/decisions", content=deep, headers=h)
    assert r.status_code == 400 and "nested" in r.json()["detail"]
    wide = json.dumps({"contact": {"contact_id": 1}, "context": {"properties": {}}, "x": list(range(10_000))})
    r = client.post("/v1/decisions", content=wide, headers=h)
    assert r.status_code == 400 and "items" in r.json()["detail"]
    # a string that looks deep is not deep
    ok = json.dumps({"contact": {"contact_id": 1}, "context": {"page": "[" * 2000}})
    assert client.post("/v1/decisions", content=ok, headers=h).status_code == 200


def test_a_signed_webhook_nested_100000_deep_is_a_clear_400(client):
    url = "https://hub.example.com/v1/webhooks/hubspot?connector=crm"
    body = b"[" * 100_000 + b"]" * 100_000
    ts = str(int(time.time() * 1000))
    headers = {
        "X-HubSpot-Signature-v3": hubspot_signature(HUBSPOT_SECRET, "POST", url, body, ts),
        "X-HubSpot-Request-Timestamp": ts,
        "content-type": "application/x-www-form-urlencoded",  # the route parses JSON whatever the type says
    }
    r = client.post(url, content=body, headers=headers)
    assert r.status_code == 400 and "nested" in r.json()["detail"]


def test_an_unsigned_webhook_is_refused_before_its_body_is_scanned(client, monkeypatch):
    """The guard leaves webhook bodies to their route, which scans them once the signature
    holds: an unsigned megabyte had cost the event loop a scan before its 401."""
    from hub.api import guard

    scanned = []
    real = guard.json_shape_problem
    monkeypatch.setattr(guard, "json_shape_problem", lambda body, items: scanned.append(len(body)) or real(body, items))
    body = b'["a",' + b'"a",' * 200_000 + b'"a"]'
    r = client.post("/v1/webhooks/hubspot?connector=crm", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 401 and scanned == []


def _depth(v) -> int:
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    return 0


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}",\\ab\u00e9'),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet='[]{}"\\a'), inner, max_size=4),
    max_leaves=30,
)


@given(_json)
@settings(max_examples=300, deadline=None)
def test_the_depth_scan_agrees_with_the_parser(value):
    body = json.dumps(value, ensure_ascii=False).encode()
    d = _depth(value)
    assert (json_shape_problem(body, 10**6, max_depth=d) is None) and (
        d == 0 or json_shape_problem(body, 10**6, max_depth=d - 1) is not None
    )
