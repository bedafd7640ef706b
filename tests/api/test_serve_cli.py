"""`hub serve` validates the config before it binds a port."""

from __future__ import annotations

import yaml

from tests.test_config import run_hub


def test_serve_with_a_bad_api_section_exits_2_naming_the_key(tmp_path):
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({"api": {"tokens": [{"name": "x", "token": "short", "scopes": ["decide"]}]}}))
    out = run_hub("serve", "-c", str(path), "--port", "1")
    assert out.returncode == 2
    assert "api.tokens[0].token" in out.stderr and "short" not in out.stderr.replace("a token needs", "")


def test_serve_with_two_workers_answers_from_the_config_file(tmp_path, api_redis_url):
    import os
    import signal
    import subprocess
    import time

    import httpx

    from tests.api.conftest import TOKENS, make_config
    from tests.api.test_console_browser import _free_port
    from tests.conftest import ROOT
    from tests.integration.workers import HUB

    make_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", api_redis_url, embedded=False)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), **{f"HUB_TEST_TOKEN_{k.upper()}": v for k, v in TOKENS.items()}}
    proc = subprocess.Popen(
        [HUB, "serve", "-c", str(tmp_path / "hub.yaml"), "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline, status = time.time() + 30, None
        while time.time() < deadline and status is None:
            try:
                status = httpx.get(
                    f"http://127.0.0.1:{port}/v1/status", headers={"Authorization": f"Bearer {TOKENS['admin']}"}
                ).json()
            except httpx.TransportError:
                time.sleep(0.2)
        assert status is not None, proc.stderr.read1().decode() if proc.poll() is not None else "no answer"
        assert status["mode"] == "celery" and status["connectors"][0]["name"] == "crm"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def test_two_workers_decide_side_by_side_and_record_every_decision(tmp_path, store_url, api_redis_url, crm):
    """`hub serve --workers 2` on SQLite (WAL, busy timeout) and PostgreSQL: concurrent real-time
    decisions in both processes all answer 200, each recorded once."""
    import os
    import signal
    import subprocess
    import time
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from hub.pipeline.context import HubContext
    from hub.store import decisions as decision_store
    from tests.api.conftest import TOKENS, make_config, seed
    from tests.api.test_console_browser import _free_port
    from tests.conftest import ROOT
    from tests.integration.workers import HUB

    settings = make_config(tmp_path, store_url, api_redis_url, embedded=False)
    ctx = HubContext.build(settings)
    seed(ctx, crm, n=5)
    with ctx.store.connect() as conn:
        before = len(decision_store.recent_decisions(conn, limit=10_000))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), **{f"HUB_TEST_TOKEN_{k.upper()}": v for k, v in TOKENS.items()}}
    proc = subprocess.Popen(
        [HUB, "serve", "-c", str(tmp_path / "hub.yaml"), "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url, headers = f"http://127.0.0.1:{port}/v1/decisions", {"Authorization": f"Bearer {TOKENS['decide']}"}
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)

        def one(i: int) -> tuple[int, int]:
            with httpx.Client(timeout=30) as c:  # a connection each: the kernel spreads them over the workers
                r = c.post(url, json={"contact": {"email": f"person{i % 5}@example.com"}}, headers=headers)
                return r.status_code, r.json().get("decision_id", -1)

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, range(60)))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    assert [s for s, _ in answers] == [200] * 60, proc.stderr.read().decode()[-2000:]
    with ctx.store.connect() as conn:
        stored = decision_store.recent_decisions(conn, limit=10_000)
    ctx.close()
    assert len(stored) == before + 60 and {i for _, i in answers} <= {d.id for d in stored}


def test_serve_on_a_port_in_use_says_so_and_what_to_do_without_claiming_to_serve(tmp_path):
    """A second `hub serve` on a taken port printed "Serving the API and console on ...", then
    uvicorn's "[Errno 98] ... address already in use" and exited 3 (no code the README
    documents): it said it served when it did not, and not what to do."""
    import socket

    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({"store_url": f"sqlite:///{tmp_path / 'hub.db'}"}))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run_hub("serve", "-c", str(path), "--host", "127.0.0.1", "--port", str(port))
    assert out.returncode == 1, out.stderr
    said = " ".join(out.stderr.split())
    assert "Serving" not in said, said
    assert f"127.0.0.1:{port} is in use" in said and "--port" in said, said
