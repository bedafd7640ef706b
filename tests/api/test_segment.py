"""The Segment HTTP Tracking API input through the real app: Basic write-key auth before the
body, track / identify / page / batch, messageId idempotency, limits, anonymous history joined
on identify, and /v1/events with declared event names."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from hub.api.app import create_app
from tests.api.conftest import api_section, auth, make_config, seed

KEY = "segment-write-key-0123456789abcdef"
DECLARED = [{"name": "trial_started", "event": "Trial Started"}]


def basic(key: str = KEY) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.fixture
def seg(tmp_path, store_url, api_redis_url, crm) -> Iterator[TestClient]:
    api = {**api_section(True), "segment_write_keys": [{"name": "website", "key": KEY}]}
    settings = make_config(
        tmp_path,
        store_url,
        api_redis_url,
        api=api,
        **{"decision.outcomes": DECLARED, "decision.objective": {"trial_started": 30}},
    )
    app = create_app(settings)
    seed(app.state.hub.ctx, crm)  # person0..2@example.com in the CRM, synced
    with TestClient(app, base_url="https://hub.example.com") as c:
        yield c
    app.state.hub.close()


def post(client: TestClient, path: str, body, **kw):
    return client.post(path, content=json.dumps(body), headers={**basic(), **kw.pop("headers", {})}, **kw)


def contact(client: TestClient, cid: int) -> dict:
    return client.get(f"/v1/contacts/{cid}", headers=auth("admin")).json()


def contact_id_of(client: TestClient, email: str) -> int | None:
    r = client.post("/v1/decisions", json={"contact": {"email": email}}, headers=auth("decide"))
    return r.json()["contact_id"] if r.status_code == 200 else None


def segment_activities(client: TestClient, cid: int) -> list[dict]:
    return [a for a in contact(client, cid)["activities"] if a["source"] in ("segment", "api")]


def test_identify_track_and_page_land_on_the_crm_person(seg):
    r = post(
        seg,
        "/v1/identify",
        {"userId": "u1", "messageId": "i1", "traits": {"email": "Person1@Example.com", "plan": "pro"}},
    )
    assert r.status_code == 200 and r.json() == {"success": True}
    cid = contact_id_of(seg, "person1@example.com")
    idents = {(i["connector"], i["external_id"]) for i in contact(seg, cid)["identities"]}
    assert ("segment", "u1") in idents and ("crm", "c1") in idents  # one person, two sources
    assert post(
        seg, "/v1/track", {"userId": "u1", "messageId": "t1", "event": "Trial Started", "properties": {"plan": "pro"}}
    ).json() == {"success": True}
    page = {
        "userId": "u1",
        "messageId": "p1",
        "name": "Pricing",
        "properties": {
            "url": "https://x.example/pricing",
            "path": "/pricing",
            "title": "Pricing",
            "referrer": "https://google.com",
            "other": 1,
        },
    }
    assert post(seg, "/v1/segment/page", page).status_code == 200
    acts = {a["external_id"]: a for a in segment_activities(seg, cid)}
    assert acts["m:t1"]["type"] == "custom" and acts["m:t1"]["properties"] == {"plan": "pro", "name": "Trial Started"}
    assert acts["m:p1"]["type"] == "page_view"
    assert acts["m:p1"]["properties"] == {
        "url": "https://x.example/pricing",
        "path": "/pricing",
        "title": "Pricing",
        "referrer": "https://google.com",
        "name": "Pricing",
    }


def test_a_wrong_or_missing_key_is_401_before_the_body_is_read(seg):
    junk = b"{" * (2 * 1024 * 1024)  # too large and not JSON: a 400 if it were read
    for headers in (basic("wrong-key-0123456789abcdef"), {}, auth("events"), {"Authorization": "Basic %%%"}):
        r = seg.post("/v1/batch", content=junk, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"].startswith("Basic")
        assert KEY not in r.text


def test_a_resent_message_changes_nothing(seg):
    msg = {"userId": "u2", "messageId": "dup-1", "event": "form_submit", "traits": {}}
    assert (
        post(
            seg, "/v1/identify", {"userId": "u2", "messageId": "i2", "traits": {"email": "person2@example.com"}}
        ).status_code
        == 200
    )
    cid = contact_id_of(seg, "person2@example.com")
    for _ in range(3):
        assert post(seg, "/v1/track", msg).status_code == 200
    assert [a["type"] for a in segment_activities(seg, cid)] == ["form_submit"]
    # the same messageId inside a batch is the same message too
    assert post(seg, "/v1/batch", {"batch": [{**msg, "type": "track"}]}).json() == {"success": True}
    assert len(segment_activities(seg, cid)) == 1


def test_a_bad_message_in_a_batch_is_named_while_the_rest_are_stored(seg):
    batch = [
        {"type": "identify", "userId": "u0", "messageId": "b0", "traits": {"email": "person0@example.com"}},
        {"type": "track", "messageId": "b1", "event": "Trial Started"},  # no userId, no anonymousId
        {"type": "track", "userId": "u0", "messageId": "b2", "event": "Trial Started"},
        {"type": "track", "userId": "u0", "messageId": "b3"},  # no event
        {"type": "alias", "userId": "u0", "messageId": "b4"},
        "not an object",
        {"type": "page", "userId": "u0", "messageId": "b6", "timestamp": "yesterday"},
        {"type": "page", "userId": "u0", "messageId": "b7", "properties": {"path": "/x" * 20_000}},  # over 32 KB
        {"type": "page", "userId": "u0", "messageId": "b8", "properties": {"path": "/ok"}},
    ]
    r = post(seg, "/v1/batch", {"batch": batch})
    assert r.status_code == 200 and r.json()["success"] is True
    errors = {e["index"]: e for e in r.json()["errors"]}
    assert sorted(errors) == [1, 3, 4, 5, 6, 7]
    assert errors[1]["messageId"] == "b1" and "userId or an anonymousId" in errors[1]["message"]
    assert "event" in errors[3]["message"] and "32 KB" in errors[7]["message"]
    cid = contact_id_of(seg, "person0@example.com")
    assert sorted(a["external_id"] for a in segment_activities(seg, cid)) == ["m:b2", "m:b8"]


def test_anonymous_history_is_joined_when_identify_links_it(seg):
    for i, body in enumerate(
        [
            {"anonymousId": "anon-7", "event": "Viewed Pricing"},
            {"anonymousId": "anon-7", "event": "Trial Started"},
        ]
    ):
        assert post(seg, "/v1/track", {**body, "messageId": f"a{i}"}).status_code == 200
    assert (
        post(seg, "/v1/page", {"anonymousId": "anon-7", "messageId": "a2", "properties": {"path": "/docs"}}).status_code
        == 200
    )
    ident = {"anonymousId": "anon-7", "userId": "u7", "messageId": "a3", "traits": {"email": "person2@example.com"}}
    assert post(seg, "/v1/identify", ident).status_code == 200
    cid = contact_id_of(seg, "person2@example.com")
    types = sorted(a["type"] for a in segment_activities(seg, cid))
    assert types == ["custom", "custom", "page_view"]
    # later events under the anonymous id land on the contact directly
    assert post(seg, "/v1/track", {"anonymousId": "anon-7", "messageId": "a4", "event": "Clicked"}).status_code == 200
    assert len(segment_activities(seg, cid)) == 4
    # a track under a userId seen before its identify waits for that identify too
    assert post(seg, "/v1/track", {"userId": "u8", "messageId": "a5", "event": "Early"}).status_code == 200
    assert (
        post(
            seg, "/v1/identify", {"userId": "u8", "messageId": "a6", "traits": {"email": "person0@example.com"}}
        ).status_code
        == 200
    )
    early = segment_activities(seg, contact_id_of(seg, "person0@example.com"))
    assert [a["properties"].get("name") for a in early] == ["Early"]


def test_a_new_person_on_a_shared_browser_is_not_credited_to_its_last_user(seg):
    """person0 identified on browser anon-s; then bob, new to the hub, tracks on it with his
    own userId and email: held for bob, stored on bob by his identify, never on person0; after
    bob's identify the browser's anonymous events are bob's."""
    alice = {"userId": "alice", "anonymousId": "anon-s", "messageId": "s0", "traits": {"email": "person0@example.com"}}
    assert post(seg, "/v1/identify", alice).status_code == 200
    person0 = contact_id_of(seg, "person0@example.com")
    tracks = [
        {"userId": "bob", "anonymousId": "anon-s", "messageId": "s1", "event": "Signed Up"},
        {
            "userId": "bob",
            "anonymousId": "anon-s",
            "messageId": "s2",
            "event": "Trial Started",
            "context": {"traits": {"email": "bob@new.example.com"}},
        },
    ]
    for t in tracks:
        assert post(seg, "/v1/track", t).status_code == 200
    assert segment_activities(seg, person0) == []
    # person0 comes back to the browser before bob's identify arrives: bob's events stay held
    back = {"userId": "alice", "anonymousId": "anon-s", "messageId": "s3", "event": "Came Back"}
    assert post(seg, "/v1/track", back).status_code == 200
    assert [a["external_id"] for a in segment_activities(seg, person0)] == ["m:s3"]
    bob = {"userId": "bob", "anonymousId": "anon-s", "messageId": "s4", "traits": {"email": "bob@new.example.com"}}
    assert post(seg, "/v1/identify", bob).status_code == 200
    bob_id = contact_id_of(seg, "bob@new.example.com")
    assert bob_id != person0
    assert sorted(a["external_id"] for a in segment_activities(seg, bob_id)) == [
        "segment:m:s1",
        "segment:m:s2",
    ]  # stitched from the hold
    # the browser is bob's now: an anonymous page lands on him
    assert post(seg, "/v1/page", {"anonymousId": "anon-s", "messageId": "s5"}).status_code == 200
    assert "m:s5" in {a["external_id"] for a in segment_activities(seg, bob_id)}
    assert [a["external_id"] for a in segment_activities(seg, person0)] == ["m:s3"]


def test_an_older_identify_arriving_late_does_not_overwrite_newer_traits(seg):
    """A library retry delivers last month's identify after today's: today's traits stay."""
    now = datetime.now(UTC)
    new = {"email": "order@x.example", "firstName": "Newname", "title": "VP Engineering"}
    old = {"email": "order@x.example", "firstName": "Oldname", "title": "Intern", "plan": "free"}
    for mid, traits, at in (("o1", new, now), ("o2", old, now - timedelta(days=30))):
        body = {"userId": "order-1", "messageId": mid, "timestamp": at.isoformat(), "traits": traits}
        assert post(seg, "/v1/identify", body).status_code == 200
    profile = contact(seg, contact_id_of(seg, "order@x.example"))["profile"]
    assert (profile["first_name"], profile["job_title"]) == ("Newname", "VP Engineering")
    assert profile["properties"].get("plan") == "free"  # only the old one said it
    # a newer identify still replaces
    newer = {"email": "order@x.example", "firstName": "Newest", "title": "CTO"}
    body = {"userId": "order-1", "messageId": "o3", "timestamp": (now + timedelta(seconds=1)).isoformat()}
    assert post(seg, "/v1/identify", {**body, "traits": newer}).status_code == 200
    profile = contact(seg, contact_id_of(seg, "order@x.example"))["profile"]
    assert (profile["first_name"], profile["job_title"]) == ("Newest", "CTO")
    # two in one batch, the newer first: the newer wins there too
    batch = [
        {"type": "identify", "userId": "b-1", "messageId": "ob1", "timestamp": now.isoformat(), "traits": new},
        {**body, "type": "identify", "userId": "b-1", "messageId": "ob2", "traits": {**old, "email": "b@x.example"}},
    ]
    batch[0]["traits"] = {**new, "email": "b@x.example"}
    batch[1]["timestamp"] = (now - timedelta(days=1)).isoformat()
    assert post(seg, "/v1/batch", {"batch": batch}).status_code == 200
    profile = contact(seg, contact_id_of(seg, "b@x.example"))["profile"]
    assert (profile["first_name"], profile["properties"].get("plan")) == ("Newname", "free")


def test_a_batchs_own_sent_at_and_context_apply_to_its_messages(seg):
    """analytics-python and -node put sentAt (and a shared context) on the batch body: a sender
    whose clock is two hours behind still gets its events' real time, and the batch's
    context.traits name the person for a message that carries none of its own."""
    now = datetime.now(UTC)
    client_now = now - timedelta(hours=2)
    track = {"type": "track", "anonymousId": "b-anon", "event": "form_submit", "messageId": "bs1"}
    track["timestamp"] = (client_now - timedelta(seconds=10)).isoformat()
    own = {**track, "messageId": "bs2", "context": {"traits": {"email": "person0@example.com"}, "page": {"x": 1}}}
    body = {
        "batch": [track, own],
        "sentAt": client_now.isoformat(),
        "context": {"traits": {"email": "person1@example.com"}, "library": {"name": "analytics-python"}},
    }
    assert post(seg, "/v1/batch", body).json() == {"success": True}
    (act,) = segment_activities(seg, contact_id_of(seg, "person1@example.com"))
    at = datetime.fromisoformat(act["occurred_at"].replace("Z", "+00:00"))
    assert abs((at - (now - timedelta(seconds=10))).total_seconds()) < 5
    # the message's own context wins over the batch's
    assert [a["external_id"] for a in segment_activities(seg, contact_id_of(seg, "person0@example.com"))] == ["m:bs2"]


def test_limits_and_bad_bodies_are_400(seg):
    big = {"userId": "u1", "messageId": "big", "event": "x", "properties": {"blob": "x" * 40_000}}
    r = post(seg, "/v1/track", big)
    assert r.status_code == 400 and "32 KB" in r.json()["detail"]
    batch = {
        "batch": [
            {"type": "track", "userId": "u1", "messageId": f"m{i}", "event": "x", "properties": {"b": "y" * 20_000}}
            for i in range(30)
        ]
    }
    r = post(seg, "/v1/batch", batch)
    assert r.status_code == 400 and "500 KB" in r.json()["detail"]
    for raw in (b"not json", b'{"userId": NaN}', b"[" * 50_000 + b"]" * 50_000):
        r = seg.post("/v1/batch", content=raw, headers=basic())
        assert r.status_code == 400, raw[:20]
    # the item cap holds whatever the Content-Type claims (a form type skipped it: 250,000 items
    # were each parsed, answered and logged)
    many = json.dumps({"batch": [1] * 200_000}, separators=(",", ":")).encode()
    for ctype in ("application/json", "application/x-www-form-urlencoded", "text/xml"):
        r = seg.post("/v1/batch", content=many, headers={**basic(), "content-type": ctype})
        assert r.status_code == 400 and "items" in r.json()["detail"], ctype
    r = post(seg, "/v1/track", {"event": "Trial Started", "messageId": "anon-less"})
    assert r.status_code == 400 and r.json()["messageId"] == "anon-less" and r.json()["success"] is False
    assert post(seg, "/v1/batch", {"messages": []}).status_code == 400
    reserved = {"event": "x", "messageId": "reserved", "anonymousId": "user:alice", "traits": {"email": "m@x.example"}}
    r = post(seg, "/v1/track", reserved)
    assert r.status_code == 400 and "anonymousId" in r.json()["detail"]


def test_events_api_takes_declared_names_and_refuses_undeclared_ones(seg):
    ok = seg.post(
        "/v1/events",
        json={"event_id": "e1", "type": "Trial Started", "identity": {"email": "person1@example.com"}},
        headers=auth("events"),
    )
    assert ok.status_code == 202 and ok.json()["status"] == "accepted"  # a website token learns nothing more
    acts = [
        a for a in contact(seg, contact_id_of(seg, "person1@example.com"))["activities"] if a["external_id"] == "e1"
    ]
    assert acts[0]["type"] == "custom" and acts[0]["properties"]["name"] == "Trial Started"
    bad = seg.post(
        "/v1/events",
        json={"event_id": "e2", "type": "Trial Sarted", "identity": {"email": "person1@example.com"}},
        headers=auth("events"),
    )
    assert bad.status_code == 422 and "Trial Started" in bad.json()["detail"]
    assert bad.json()["declared"] == ["Trial Started"]
    builtin = seg.post(
        "/v1/events",
        json={"event_id": "e3", "type": "page_view", "identity": {"anonymous_id": "v"}},
        headers=auth("events"),
    )
    assert builtin.status_code == 202


def test_the_write_key_is_never_logged_or_shown(seg, caplog, tmp_path):
    import logging

    import yaml

    from tests.test_config import run_hub

    with caplog.at_level(logging.DEBUG):
        post(seg, "/v1/batch", {"batch": [{"type": "track", "messageId": "k1", "event": "x"}]})
        seg.post("/v1/track", content=b"{", headers=basic(KEY + "x"))
        post(seg, "/v1/track", {"userId": "u1", "messageId": "k2", "event": "x", "properties": {"k": "v" * 40_000}})
    assert "k1" in caplog.text  # the bad message was logged ...
    assert KEY not in caplog.text  # ... and the key never
    path = tmp_path / "segment.yaml"
    path.write_text(yaml.safe_dump({"api": {"segment_write_keys": [{"name": "web", "key": "${SEG_KEY}"}]}}))
    shown = run_hub("config", "validate", "-c", str(path), env={"SEG_KEY": KEY})
    assert shown.returncode == 0 and KEY not in shown.stdout + shown.stderr
    short = run_hub("config", "validate", "-c", str(path), env={"SEG_KEY": "short"})
    assert short.returncode == 2 and "api.segment_write_keys[0].key" in short.stdout + short.stderr
    assert "short" not in (short.stdout + short.stderr).replace("shorter", "")


def test_a_trait_the_store_cannot_hold_refuses_only_its_identify(seg):
    batch = [
        {
            "type": "identify",
            "userId": "u5",
            "messageId": "x0",
            "traits": {"email": "p5@x.example", "firstName": "x" * 300},
        },
        {"type": "identify", "userId": "u6", "messageId": "x1", "traits": {"email": "person1@example.com"}},
        {"type": "track", "userId": "u6", "messageId": "x2", "event": "Trial Started"},
    ]
    r = post(seg, "/v1/batch", {"batch": batch})
    assert r.status_code == 200
    (err,) = r.json()["errors"]
    assert err["index"] == 0 and "first_name" in err["message"]
    assert contact_id_of(seg, "p5@x.example") is None  # nothing of it was stored
    cid = contact_id_of(seg, "person1@example.com")
    assert [a["external_id"] for a in segment_activities(seg, cid)] == ["m:x2"]
    # the refused message was not marked done: fixed and resent, it is stored
    fixed = {**batch[0], "traits": {"email": "p5@x.example", "firstName": "Pat"}}
    assert post(seg, "/v1/batch", {"batch": [fixed]}).json() == {"success": True}
    assert contact_id_of(seg, "p5@x.example") is not None
