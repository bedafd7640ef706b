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
