"""The Approvals page in a real browser: log in, approve one held push, see it leave the queue.

Same setup as test_console_browser.py (Debian's Chromium through Playwright, `hub serve` in
its own process), with field writes configured to need approval.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.governance import approvals
from hub.pipeline.context import HubContext
from hub.store import pushes as push_store
from tests.api.conftest import PASSWORD, make_config, seed
from tests.api.test_console_browser import ARGS, CHROMIUM, _browser_or_fail, hub_serve, screenshot_on_failure


@pytest.fixture
def served_held(tmp_path, api_redis_url, crm) -> Iterator[tuple[str, HubContext]]:
    governance = {"autonomy": {"kinds": {"set_fields": "needs_approval"}}}
    settings = make_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", api_redis_url, governance=governance)
    ctx = HubContext.build(settings, embedded=True)
    seed(ctx, crm)
    try:
        with hub_serve(tmp_path / "hub.yaml", tmp_path / "serve.log") as base:
            yield base, ctx
    finally:
        ctx.close()


def test_approve_a_held_push_in_the_browser(served_held):
    base, ctx = served_held
    sync_playwright = _browser_or_fail()
    with ctx.store.connect() as conn:
        first = approvals.list_approvals(conn)[0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        with screenshot_on_failure(page, "approvals"):
            page.goto(f"{base}/console/login")
            page.fill("input[name=username]", "ops")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/console/")
            assert "Approvals waiting: 3" in page.inner_text("#waiting")
            page.click("header >> text=Approvals")
            page.wait_for_url(f"{base}/console/approvals")
            assert page.locator("tr[data-approval]").count() == 3
            assert page.locator("td.why").first.inner_text().strip()  # each shows why it was decided
            page.locator(f"tr[data-approval='{first.id}'] input[name=id]").check()
            page.fill("#bulk input[name=note]", "checked the account")
            page.click("#bulk button:has-text('Approve ticked')")
            page.wait_for_load_state()
            assert f"Approval {first.id} approved by ops" in page.inner_text("[role=status]")
            assert page.locator("tr[data-approval]").count() == 2
            assert "checked the account" in page.inner_text(f"tr[data-decided='{first.id}']")
        browser.close()
    with ctx.store.connect() as conn:
        assert approvals.get(conn, first.id).state == "approved"
        states = {p.id: p.state for p in push_store.list_pushes(conn, state=None, limit=100)}
    assert states[first.push_id] == "pending"  # due now: the next push run sends it
