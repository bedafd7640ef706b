"""The console in a real browser: Debian's headless Chromium driven by Playwright.

`hub serve` runs as its own process on loopback against a store seeded through the real
pipeline. The browser logs in, opens every page, uses its actions (Retry on a failed push,
search and inspect a decision, acknowledge alerts, flip a kill switch) and reads what the
page shows. Each page is saved as a screenshot under reports/console/; a failing step saves
one under reports/browser/.

Needs `apt-get install chromium` and the `playwright` Python package (dev extra); without
them these tests FAIL with that message instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from hub.pipeline.context import HubContext
from hub.store import pushes as push_store
from tests.api.conftest import PASSWORD, TOKENS, fail_one_push, make_config, seed
from tests.conftest import ROOT
from tests.integration.workers import HUB

CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ROOT / "reports" / "browser"
CONSOLE_SHOTS = ROOT / "reports" / "console"  # one screenshot per page, for a person to look at


def _browser_or_fail():
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: `apt-get install -y chromium` (or set HUB_TEST_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[dev]'")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def hub_serve(config: Path, log_path: Path) -> Iterator[str]:
    """`hub serve` on a free loopback port, in its own process; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), **{f"HUB_TEST_TOKEN_{k.upper()}": v for k, v in TOKENS.items()}}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [HUB, "serve", "-c", str(config), "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 90  # on a loaded shared machine start-up took over 30 s
            while True:
                try:
                    if httpx.get(f"{base}/console/login", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"hub serve did not start: {log_path.read_text()}")
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture
def served(tmp_path, api_redis_url, crm) -> Iterator[tuple[str, HubContext]]:
    """`hub serve` on a free loopback port, with a failed push waiting in its store."""
    settings = make_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", api_redis_url)
    ctx = HubContext.build(settings, embedded=True)
    seed(ctx, crm)
    fail_one_push(ctx, crm)
    try:
        with hub_serve(tmp_path / "hub.yaml", tmp_path / "serve.log") as base:
            yield base, ctx
    finally:
        ctx.close()


@contextmanager
def screenshot_on_failure(page, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        raise


def shoot(page, name: str) -> None:
    """A full-page screenshot of what the browser shows, kept under reports/console/."""
    CONSOLE_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(CONSOLE_SHOTS / f"{name}.png"), full_page=True)


def test_log_in_open_every_page_and_run_the_hub(served):
    """Every page renders and its key parts are visible; the actions work from the page:
    retry a failed push, search a decision by e-mail and inspect it, tick all alerts and
    acknowledge them, flip a kill switch; the audit page shows who did each."""
    from decision.monitoring import Alert
    from hub.governance.alerts import store_alerts

    base, ctx = served
    sync_playwright = _browser_or_fail()
    with ctx.store.connect() as conn:
        (failed,) = push_store.list_pushes(conn, state="failed")
    with ctx.store.begin() as conn:
        found = [Alert("drift", f"feature_{i}", 0.4, 0.25, "warning", f"feature_{i} drifted") for i in range(2)]
        store_alerts(conn, found, ctx.settings.governance.alerts, ctx.clock())
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        with screenshot_on_failure(page, "console"):
            page.goto(f"{base}/console/")
            assert page.url.endswith("/console/login")
            page.fill("input[name=username]", "ops")
            page.fill("input[name=password]", "wrong")
            page.click("button[type=submit]")
            assert "Wrong user name or password" in page.inner_text("[role=alert]")

            page.fill("input[name=username]", "ops")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/console/")
            row = page.inner_text("tr[data-connector=crm]")
            assert "memory_crm" in row and "ok" in row
            for tile in ("#kpi-decisions", "#kpi-push", "#kpi-alerts", "#kpi-approvals"):
                assert page.locator(tile).is_visible(), tile
            assert page.inner_text("#kpi-decisions .v") == "3" and page.inner_text("#kpi-alerts .v") == "2"
            assert page.locator("#chart-decisions svg").is_visible() and page.locator("#chart-push svg").is_visible()
            shoot(page, "overview")

            page.click("#kpi-push")  # every tile leads to its page
            page.wait_for_url(f"{base}/console/queues")
            assert page.locator("tr[data-queue]").count() == 4
            group = page.locator("tr[data-group]")
            assert group.count() == 1 and "INVALID_FIELD: rejected by the CRM" in group.inner_text()
            assert group.locator("button", has_text="Retry all 1 like this").is_visible()
            shoot(page, "queues")
            group.locator("a").click()
            page.wait_for_url(f"{base}/console/failures/*")
            failed_row = page.locator(f"tr[data-push='{failed.id}']")
            failed_row.locator("button", has_text="Retry").click()
            page.wait_for_load_state()
            assert f"Push {failed.id} queued again" in page.inner_text("[role=status]")
            assert page.locator("tr[data-group]").count() == 0
            with ctx.store.connect() as conn:
                assert [p.state for p in push_store.list_pushes(conn, state=None) if p.id == failed.id] == ["pending"]

            page.click("header >> text=Decisions")
            page.wait_for_url(f"{base}/console/decisions")
            assert page.locator("tr[data-decision]").count() == 3
            page.fill("#search input[name=q]", "person0@example.com")
            page.click("#search button")
            page.wait_for_url("**q=person0**")
            assert page.locator("tr[data-decision]").count() == 1
            shoot(page, "decisions")
            page.locator("tr[data-decision] td a").first.click()
            page.wait_for_url(f"{base}/console/decisions/*")
            assert page.locator("#reason").is_visible() and page.locator("#pushes").is_visible()
            shoot(page, "inspector")
            page.click("text=person0@example.com")
            page.wait_for_url(f"{base}/console/contacts/*")
            assert page.locator("#timeline tr.decision").count() >= 1
            assert page.locator("#timeline tr.activity").count() >= 1

            page.click("header >> text=Alerts")
            page.wait_for_url(f"{base}/console/alerts")
            assert page.locator("tr[data-alert]").count() == 2
            page.check("#alerts input[data-all]")  # console.js ticks every row
            assert page.locator("#alerts input[name=id]:checked").count() == 2
            shoot(page, "alerts")
            page.click("#ack button")
            page.wait_for_load_state()
            assert "Acknowledged 2 alerts by ops" in page.inner_text("[role=status]")
            switch = page.locator("tr[data-switch=scoring]")
            switch.locator("input[name=note]").fill("scores look off")
            switch.locator("button", has_text="Turn on").click()
            page.wait_for_load_state()
            assert "Kill switch scoring on" in page.inner_text("[role=status]")
            assert "ON (legacy)" in page.inner_text("tr[data-switch=scoring]")

            page.click("header >> text=Models")
            assert "No model saved yet" in page.inner_text("#models")
            shoot(page, "models")
            page.click("header >> text=Experiments")
            assert page.locator("#arm-metrics tr[data-arm='rules']").count() > 0
            shoot(page, "experiments")
            page.click("header >> text=Audit")
            audit = page.inner_text("#audit")
            for action in ("push_retry", "alert_ack", "kill_switch_on"):
                assert action in audit, action
            assert "scores look off" in audit and "ops" in audit
            shoot(page, "audit")
            page.click("header >> text=Config")
            config = page.inner_text("#config")
            assert "store_url" in config and "********" in config and "s" * 40 not in config
            shoot(page, "config")

            page.click("text=Log out")
            page.wait_for_url(f"{base}/console/login")
            page.goto(f"{base}/console/queues")
            assert page.url.endswith("/console/login")
        browser.close()
