"""Console login attacks: user-name enumeration, lockout of an admin by a stranger, Redis down.

Each client below is a different client address on the same app (TestClient's ``client``).
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from hub.console import passwords
from hub.console.throttle import ADDRESS_FAILURES, NAME_FAILURES, PAIR_FAILURES
from tests.api.conftest import PASSWORD, make_config
from tests.api.test_console import csrf_of


def _from(app, ip: str) -> TestClient:
    return TestClient(app, base_url="https://hub.example.com", client=(ip, 40000))


def _login(c: TestClient, name: str, password: str) -> int:
    token = csrf_of(c.get("/console/login").text)
    r = c.post("/console/login", data={"csrf": token, "username": name, "password": password}, follow_redirects=False)
    return r.status_code


def test_made_up_names_are_answered_like_the_real_one(client):
    app = client.app
    spray = _from(app, "198.51.100.1")
    for i in range(12):  # more than the old shared bucket of unknown names allowed
        assert _login(spray, f"ghost{i}", "guess") == 401
    assert _login(spray, "ghost-new", "guess") == _login(spray, "ops", "guess") == 401
    # the same sequence of answers for a real and a made-up name, each from its own address
    real = [_login(_from(app, "198.51.100.2"), "ops", "guess") for _ in range(PAIR_FAILURES + 2)]
    fake = [_login(_from(app, "198.51.100.3"), "nobody", "guess") for _ in range(PAIR_FAILURES + 2)]
    assert real == fake == [401] * PAIR_FAILURES + [429, 429]


def test_an_unknown_name_costs_the_same_hashing_as_a_real_one(client):
    passwords._DUMMY.clear()
    assert _login(_from(client.app, "198.51.100.4"), "nobody", "guess") == 401
    real_iterations = passwords.iterations_of(
        client.app.state.hub.settings.api.users[0].password_hash.get_secret_value()
    )
    assert list(passwords._DUMMY) == [real_iterations]


def test_a_stranger_cannot_lock_the_admin_out(client, monkeypatch):
    # the slow-down's size is not what this test is about: milliseconds instead of up to 3 s a try
    monkeypatch.setattr("hub.console.throttle.SLOW_STEP", 0.001)
    monkeypatch.setattr("hub.console.throttle.SLOW_MAX", 0.004)
    app = client.app
    admin = _from(app, "192.0.2.10")
    assert _login(admin, "ops", PASSWORD) == 303  # the admin's usual address
    strangers = [_from(app, f"203.0.113.{i}") for i in range(1, 5)]
    for s in strangers:  # 4 addresses x PAIR_FAILURES wrong passwords: past NAME_FAILURES in all
        for _ in range(PAIR_FAILURES):
            assert _login(s, "ops", "guess") == 401
        assert _login(s, "ops", PASSWORD) == 429  # the stranger's own address is blocked
    assert len(strangers) * PAIR_FAILURES > NAME_FAILURES
    assert _login(_from(app, "192.0.2.10"), "ops", PASSWORD) == 303
    throttle = app.state.login_throttle
    assert throttle.check("ops", "192.0.2.10").slow == 0  # the known address is not slowed
    assert throttle.check("ops", "192.0.2.99").slow > 0  # a new one is slowed, never refused
    assert _login(_from(app, "192.0.2.99"), "ops", PASSWORD) == 303


def test_one_address_cannot_spray_many_names(client):
    spray = _from(client.app, "198.51.100.50")
    answers = [_login(spray, f"name{i}", "guess") for i in range(ADDRESS_FAILURES + 1)]
    assert answers == [401] * ADDRESS_FAILURES + [429]
    assert _login(_from(client.app, "198.51.100.51"), "ops", PASSWORD) == 303


def test_login_works_with_redis_down_in_celery_mode(tmp_path):
    settings = make_config(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", "redis://127.0.0.1:9/0", embedded=False)
    from hub.api.app import create_app

    app = create_app(settings)
    with TestClient(app, base_url="https://hub.example.com") as c:
        assert _login(c, "ops", "guess") == 401
        assert _login(c, "ops", PASSWORD) == 303
        assert c.get("/console/", follow_redirects=False).status_code == 200
    app.state.hub.close()


def _cookie(c: TestClient) -> str:
    return c.cookies.get("hub_session", path="/console")


def _with_cookie(app, cookie: str) -> TestClient:
    c = _from(app, "192.0.2.77")
    c.cookies.set("hub_session", cookie, path="/console")
    return c


def test_logout_ends_a_copied_session_cookie(client):
    assert _login(client, "ops", PASSWORD) == 303
    stolen = _cookie(client)
    assert _with_cookie(client.app, stolen).get("/console/", follow_redirects=False).status_code == 200
    token = csrf_of(client.get("/console/").text)
    assert client.post("/console/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    r = _with_cookie(client.app, stolen).get("/console/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"


def test_an_idle_session_ends(client):
    from datetime import timedelta

    from sqlalchemy import update

    from hub.store.schema import console_sessions

    assert _login(client, "ops", PASSWORD) == 303
    assert client.get("/console/", follow_redirects=False).status_code == 200
    idle = client.app.state.hub.settings.api.session_idle_timeout
    with client.app.state.hub.ctx.store.begin() as conn:  # the clock moves on: age the last request
        conn.execute(
            update(console_sessions).values(last_seen_at=console_sessions.c.last_seen_at - timedelta(seconds=idle + 1))
        )
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_a_password_change_ends_the_users_sessions(tmp_path, client):
    from pydantic import SecretStr

    from hub.api.app import create_app
    from hub.console.passwords import hash_password

    assert _login(client, "ops", PASSWORD) == 303
    cookie = _cookie(client)
    settings = client.app.state.hub.settings
    changed = settings.model_copy(deep=True)
    changed.api.users[0].password_hash = SecretStr(hash_password("a new password entirely", iterations=1000))
    app = create_app(changed)
    try:
        assert _with_cookie(app, cookie).get("/console/", follow_redirects=False).status_code == 303
        assert _with_cookie(client.app, cookie).get("/console/", follow_redirects=False).status_code == 200
    finally:
        app.state.hub.close()


def test_odd_console_input_is_a_clear_answer_not_a_500(client):
    assert _login(client, "ops", PASSWORD) == 303
    r = client.get("/console/decisions", params={"contact": "²"})
    assert r.status_code == 200 and "No contact has the e-mail, record id or contact id" in r.text
    ticked = client.post("/console/alerts/ack", data={"csrf": csrf_of(r.text), "id": "²"})
    assert ticked.status_code == 200 and "Tick at least one alert first." in ticked.text
    for params in ({"arm": "a\x00b"}, {"contact": "\x00"}):
        assert client.get("/console/decisions", params=params).status_code == 400, params
    token = csrf_of(client.get("/console/").text)
    r = client.post("/console/approvals/1", data={"csrf": token, "decision": "reject", "note": "no\x00pe"})
    assert r.status_code == 400 and "NUL" in r.json()["detail"]


def test_a_password_hash_can_be_made_from_a_pipe():
    """Provisioning scripts have no terminal: one line on stdin is the password, not an EOFError."""
    import subprocess
    import sys

    run = [sys.executable, "-m", "hub.console.passwords"]
    made = subprocess.run(run, input="a-long-secret-phrase\n", capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert passwords.verify_password("a-long-secret-phrase", made.stdout.strip())
    empty = subprocess.run(run, input="", capture_output=True, text=True, timeout=60)
    assert empty.returncode == 1 and "No password given" in empty.stderr


def test_a_console_without_users_says_how_to_add_one(tmp_path):
    from hub.api.app import create_app
    from tests.api.conftest import api_section

    api = {**api_section(True), "users": []}
    settings = make_config(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", "redis://127.0.0.1:9/0", api=api)
    app = create_app(settings)
    with TestClient(app, base_url="https://hub.example.com") as c:
        page = c.get("/console/login").text
    app.state.hub.close()
    assert "The console is off" in page and "python -m hub.console.passwords" in page


def test_the_hash_tool_answers_help_and_refuses_arguments_instead_of_hashing_stdin():
    """`python -m hub.console.passwords --help` ignored --help and hashed whatever came on stdin
    (or said "No password given"): a user asking how to use it got a hash of their next line."""
    import subprocess
    import sys

    def run(*args: str):
        cmd = [sys.executable, "-m", "hub.console.passwords", *args]
        return subprocess.run(cmd, input="typed-by-mistake\n", capture_output=True, text=True, timeout=60)

    helped = run("--help")
    assert helped.returncode == 0 and "pbkdf2" not in helped.stdout and "hub.yaml" in helped.stdout, helped
    wrong = run("s3cret")
    assert wrong.returncode == 2 and "pbkdf2" not in wrong.stdout and "stdin" in wrong.stderr, wrong
    piped = run()
    assert piped.returncode == 0 and piped.stdout.startswith("pbkdf2_sha256$"), piped
