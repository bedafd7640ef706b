"""The console over HTTP: login, CSRF on every form, each page, Retry on a failed push."""

from __future__ import annotations

import re

from hub.store import pushes as push_store
from tests.api.conftest import PASSWORD, fail_one_push


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the form carries no CSRF token"
    return m.group(1)


def login(client, password: str = PASSWORD):
    token = csrf_of(client.get("/console/login").text)
    return client.post(
        "/console/login", data={"csrf": token, "username": "ops", "password": password}, follow_redirects=False
    )


def test_pages_need_a_login(client):
    for path in ("/console/", "/console/queues", "/console/decisions", "/console/contacts/1", "/console/models"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/console/login", path


def test_wrong_password_and_missing_csrf_are_refused(client):
    wrong = login(client, "guess")
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    no_csrf = client.post("/console/login", data={"username": "ops", "password": PASSWORD}, follow_redirects=False)
    assert no_csrf.status_code == 403
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_login_shows_every_page(client, crm):
    fail_one_push(client.app.state.hub.ctx, crm)
    r = login(client)
    assert r.status_code == 303 and r.headers["location"] == "/console/"
    overview = client.get("/console/").text
    assert 'data-connector="crm"' in overview and "memory_crm" in overview
    queues = client.get("/console/queues").text
    assert "INVALID_FIELD: rejected by the CRM" in queues and 'data-queue="decide"' in queues
    decisions = client.get("/console/decisions").text
    assert "person1@example.com" in decisions and "Matched rule" in decisions
    assert "person1@example.com" not in client.get("/console/decisions?contact=1").text
    assert "positive number" in client.get("/console/decisions?contact=abc").text
    contact = client.get("/console/contacts/1").text
    assert "person0@example.com" in contact and "decision" in contact and "page_view" in contact
    assert client.get("/console/contacts/999").status_code == 404
    assert "No model saved yet" in client.get("/console/models").text  # the rules policy: nothing learned
    experiments = client.get("/console/experiments").text
    assert 'data-arm="rules"' in experiments and 'data-metric="reward"' in experiments


def test_retry_requeues_a_failed_push_and_needs_csrf(client, crm):
    ctx = client.app.state.hub.ctx
    fail_one_push(ctx, crm)
    login(client)
    with ctx.store.connect() as conn:
        failed = push_store.list_pushes(conn, state="failed")
    assert len(failed) == 1
    pid = failed[0].id
    forged = client.post(f"/console/pushes/{pid}/retry", data={"csrf": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    token = csrf_of(client.get("/console/queues").text)
    r = client.post(f"/console/pushes/{pid}/retry", data={"csrf": token})
    assert r.status_code == 200 and f"Push {pid} queued again" in r.text
    assert "INVALID_FIELD" not in r.text  # gone from the failed list
    with ctx.store.connect() as conn:
        assert [p.state for p in push_store.list_pushes(conn, state=None) if p.id == pid] == ["pending"]


def test_logout_ends_the_session(client):
    login(client)
    token = csrf_of(client.get("/console/").text)
    assert client.post("/console/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_forged_cookie_is_no_session(client):
    client.cookies.set("hub_session", "eyJ1c2VyIjoib3BzIn0.AAAA", path="/console")
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_login_attempts_are_throttled_per_user_and_address(client):
    from hub.console.throttle import PAIR_FAILURES

    for _ in range(PAIR_FAILURES):
        assert login(client, "guess").status_code == 401
    blocked = login(client)  # even the right password waits now, from this address
    assert blocked.status_code == 429 and "Too many login attempts" in blocked.text


def test_pages_forbid_framing_and_outside_sources(client):
    r = client.get("/console/login")
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "http://" not in r.text and "https://" not in r.text  # nothing loaded from outside


def test_queues_page_with_a_broker_shows_depths_and_live_workers(tmp_path, api_redis_url, crm):
    import redis
    from fastapi.testclient import TestClient

    from hub.api.app import create_app
    from tests.api.conftest import make_config, seed

    settings = make_config(tmp_path, f"sqlite:///{tmp_path / 'q.db'}", api_redis_url, embedded=False)
    app = create_app(settings)
    seed(app.state.hub.ctx, crm)
    redis.Redis.from_url(api_redis_url).rpush("push", "x", "y")  # two waiting messages
    with TestClient(app) as client:
        login(client)
        page = client.get("/console/queues").text
    assert re.search(r'data-queue="push"><td>push</td><td>2</td>', page)
    assert "Workers alive: <strong>0</strong>" in page  # none on this test broker
    app.state.hub.close()
