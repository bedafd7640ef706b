"""POST /v1/events: idempotent activities, anonymous stitching, decide again, both dispatch modes."""

from __future__ import annotations

import redis

from hub.api.app import create_app
from hub.store import decisions as decision_store
from tests.api.conftest import auth, make_config, seed


def event(client, **body):
    body.setdefault("type", "page_view")
    return client.post("/v1/events", json=body, headers=auth("events"))


def activities(client, contact_id):
    return client.get(f"/v1/contacts/{contact_id}", headers=auth("admin")).json()["activities"]


def test_event_is_stored_once_however_often_it_is_sent(client):
    first = event(client, event_id="ev-1", identity={"email": "person1@example.com"}, properties={"path": "/a"})
    assert first.status_code == 202 and first.json()["status"] == "stored"
    again = event(client, event_id="ev-1", identity={"email": "person1@example.com"})
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    acts = [a for a in activities(client, first.json()["contact_id"]) if a["source"] == "api"]
    assert len(acts) == 1 and acts[0]["properties"] == {"path": "/a"}


def test_anonymous_events_are_held_then_stitched_on_identify(client):
    held = [event(client, event_id=f"anon-{i}", identity={"anonymous_id": "visitor-9"}) for i in range(2)]
    assert [h.json()["status"] for h in held] == ["held", "held"]
    ident = event(
        client,
        event_id="id-1",
        type="form_submit",
        identity={"anonymous_id": "visitor-9", "email": "person2@example.com"},
    )
    assert ident.json()["status"] == "stored" and ident.json()["stitched"] == 2
    cid = ident.json()["contact_id"]
    later = event(client, event_id="anon-3", identity={"anonymous_id": "visitor-9"})
    assert later.json()["status"] == "stored" and later.json()["contact_id"] == cid
    ids = {a["external_id"] for a in activities(client, cid)}
    assert {"anon-0", "anon-1", "id-1", "anon-3"} <= ids
    assert event(client, event_id="anon-0", identity={"anonymous_id": "visitor-9"}).json()["status"] == "duplicate"


def test_unknown_email_is_held_until_the_contact_shows_up_in_an_event(client):
    r = event(client, event_id="early", identity={"email": "later@example.com"})
    assert r.json()["status"] == "held"


def test_events_that_matter_decide_again_inline_in_embedded_mode(client):
    ctx = client.app.state.hub.ctx
    with ctx.store.connect() as conn:
        before = len(decision_store.recent_decisions(conn, limit=1000))
    r = event(client, event_id="f1", type="form_submit", identity={"external": {"connector": "crm", "id": "c2"}})
    assert r.json()["redecide"] == "decided"
    custom = event(client, event_id="c1", type="custom", name="played_video", identity={"email": "person2@example.com"})
    assert custom.json()["redecide"] == "not_needed"
    with ctx.store.connect() as conn:
        assert len(decision_store.recent_decisions(conn, limit=1000)) == before + 1


def test_with_a_broker_events_enqueue_hub_decide(tmp_path, api_redis_url, crm):
    settings = make_config(tmp_path, f"sqlite:///{tmp_path / 'b.db'}", api_redis_url, embedded=False)
    app = create_app(settings)
    seed(app.state.hub.ctx, crm)
    from fastapi.testclient import TestClient

    r = redis.Redis.from_url(api_redis_url)
    with TestClient(app) as client:
        out = event(client, event_id="q1", type="form_submit", identity={"email": "person0@example.com"})
        assert out.json()["redecide"] == "queued"
        assert r.llen("decide") == 1 and r.llen("learn") == 1
        assert client.get("/v1/status", headers=auth("admin")).json()["mode"] == "celery"
    app.state.hub.close()
    r.close()


def test_bad_events_are_422_problems(client):
    bad = [
        {"event_id": "", "type": "page_view", "identity": {"anonymous_id": "a"}},
        {"event_id": "x", "type": "page_viewed", "identity": {"anonymous_id": "a"}},
        {"event_id": "x", "type": "page_view", "identity": {}},
        {"event_id": "x", "type": "page_view", "identity": {"anonymous_id": "a"}, "properties": {"k": {"nested": 1}}},
        {"event_id": "x", "type": "page_view", "identity": {"anonymous_id": "a"}, "occurred_at": "yesterday"},
        {"event_id": "x" * 161, "type": "page_view", "identity": {"anonymous_id": "a"}},
    ]
    for body in bad:
        r = client.post("/v1/events", json=body, headers=auth("events"))
        assert r.status_code == 422, body
        assert r.headers["content-type"] == "application/problem+json"
