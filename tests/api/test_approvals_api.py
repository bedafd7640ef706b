"""GET /v1/approvals, POST /v1/approvals/{id}, and the console's Approvals page (CSRF)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.pipeline.push import push_connector
from tests.api.conftest import auth, make_config, seed
from tests.api.test_console import csrf_of, login

HOLD = {"governance": {"autonomy": {"kinds": {"set_fields": "needs_approval"}}}}


@pytest.fixture
def held(tmp_path, api_redis_url, crm) -> Iterator[TestClient]:
    """Three contacts decided through the pipeline; their field writes await approval."""
    from hub.api.app import create_app

    settings = make_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", api_redis_url, **HOLD)
    app = create_app(settings)
    seed(app.state.hub.ctx, crm)
    with TestClient(app, base_url="https://hub.example.com") as c:
        yield c
    app.state.hub.close()


def test_list_and_decide_over_the_api(held, crm):
    r = held.get("/v1/approvals", headers=auth("admin"))
    assert r.status_code == 200
    waiting = r.json()
    assert len(waiting) == 3 and {a["kind"] for a in waiting} == {"set_fields"}
    assert all(a["state"] == "awaiting" and "next_best_action" in a["payload"]["fields"] for a in waiting)

    ok = held.post(
        f"/v1/approvals/{waiting[0]['id']}", json={"decision": "approve", "by": "ana"}, headers=auth("admin")
    )
    assert ok.status_code == 200 and ok.json()["state"] == "approved"
    assert ok.json()["decided_by"] == "ana (token admin)"
    no = held.post(
        f"/v1/approvals/{waiting[1]['id']}",
        json={"decision": "reject", "by": "ana", "note": "wrong segment"},
        headers=auth("admin"),
    )
    assert no.status_code == 200 and no.json()["state"] == "rejected"
    push_connector(held.app.state.hub.ctx, "crm")
    assert {e["record"] for e in crm.effects()} == {waiting[0]["external_id"]}

    again = held.post(
        f"/v1/approvals/{waiting[0]['id']}", json={"decision": "reject", "by": "x", "note": "n"}, headers=auth("admin")
    )
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert "already approved" in again.json()["detail"]
    assert len(held.get("/v1/approvals", headers=auth("admin")).json()) == 1
    assert len(held.get("/v1/approvals?state=all", headers=auth("admin")).json()) == 3


def test_approving_what_a_newer_write_overtook_is_a_conflict(held, crm):
    """The system withdraws it instead (it would be superseded at push time, never sent): a 409
    saying so, not a 200 the caller reads as "will be sent"."""
    from hub.store import pushes as push_store

    ctx = held.app.state.hub.ctx
    a = held.get("/v1/approvals", headers=auth("admin")).json()[0]
    newer = {k: a[k] for k in ("decision_id", "contact_id", "connector", "external_id", "kind")}
    newer |= {"object_type": "contact", "payload": {"fields": {"next_best_action": "sales_outreach"}}}
    with ctx.store.begin() as conn:
        push_store.enqueue(conn, [newer], ctx.clock())  # straight into the queue, past governance
    r = held.post(f"/v1/approvals/{a['id']}", json={"decision": "approve", "by": "ana"}, headers=auth("admin"))
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert "not approved" in r.json()["detail"] and "newer decision" in r.json()["detail"]
    (now,) = [x for x in held.get("/v1/approvals?state=all", headers=auth("admin")).json() if x["id"] == a["id"]]
    assert (now["state"], now["decided_by"]) == ("rejected", "system")


def test_console_says_who_decided_when_it_was_not_the_user(held, crm):
    """An approval the system expired or withdrew is not "expired by ops": the message names who
    decided (the stored decided_by) and says it was not what the user asked."""
    from datetime import datetime, timedelta

    from hub.store import pushes as push_store

    ctx = held.app.state.hub.ctx
    first, second, third = held.get("/v1/approvals", headers=auth("admin")).json()
    newer = {k: second[k] for k in ("decision_id", "contact_id", "connector", "external_id", "kind")}
    newer |= {"object_type": "contact", "payload": {"fields": {"next_best_action": "sales_outreach"}}}
    with ctx.store.begin() as conn:
        push_store.enqueue(conn, [newer], ctx.clock())
    login(held)
    token = csrf_of(held.get("/console/approvals").text)
    r = held.post(
        "/console/approvals/bulk", data={"csrf": token, "decision": "approve", "id": [first["id"], second["id"]]}
    )
    flash = r.text
    assert f"1 approved ({first['id']}) by ops." in flash
    assert f"Approval {second['id']} was not approved: rejected by system (replaced: a newer decision" in flash
    assert "2 approved" not in flash and "rejected by ops" not in flash
    ctx.clock = lambda: datetime.fromisoformat(third["expires_at"]) + timedelta(seconds=1)
    r = held.post(f"/console/approvals/{third['id']}", data={"csrf": token, "decision": "approve"})
    assert f"Approval {third['id']} was not approved: expired by system." in r.text
    assert "expired by ops" not in r.text


def test_bad_input_and_scopes_are_problems(held):
    aid = held.get("/v1/approvals", headers=auth("admin")).json()[0]["id"]
    cases = [
        ({"decision": "reject", "by": "ana"}, 422, "rejection needs a note"),
        ({"decision": "maybe", "by": "ana"}, 422, "decision"),
        ({"decision": "approve", "by": ""}, 422, "by"),
        ({"decision": "approve", "by": "   "}, 422, "by"),  # was accepted: an approval by nobody
        ({"decision": "approve", "by": "\t\n"}, 422, "by"),
        ({"decision": "approve", "by": "ana", "extra": 1}, 422, "extra"),
    ]
    for body, status, words in cases:
        r = held.post(f"/v1/approvals/{aid}", json=body, headers=auth("admin"))
        assert r.status_code == status and r.headers["content-type"] == "application/problem+json", body
        assert words in r.text, (body, r.text)
    named = held.post(f"/v1/approvals/{aid}", json={"decision": "approve", "by": "  ana "}, headers=auth("admin"))
    assert named.status_code == 200 and named.json()["decided_by"] == "ana (token admin)"
    missing = held.post("/v1/approvals/999999", json={"decision": "approve", "by": "ana"}, headers=auth("admin"))
    assert missing.status_code == 404 and "no approval 999999" in missing.json()["detail"]
    assert held.get("/v1/approvals", headers=auth("decide")).status_code == 403
    assert held.post(f"/v1/approvals/{aid}", json={"decision": "approve", "by": "a"}).status_code == 401
    assert held.get("/v1/approvals?state=bogus", headers=auth("admin")).status_code == 422


def test_console_approves_with_csrf_and_records_the_user(held, crm):
    assert held.get("/console/approvals", follow_redirects=False).status_code == 303
    login(held)
    html = held.get("/console/approvals").text
    aid = held.get("/v1/approvals", headers=auth("admin")).json()[0]["id"]
    assert f'data-approval="{aid}"' in html
    forged = held.post(
        f"/console/approvals/{aid}", data={"csrf": "forged", "decision": "approve"}, follow_redirects=False
    )
    assert forged.status_code == 403
    r = held.post(f"/console/approvals/{aid}", data={"csrf": csrf_of(html), "decision": "approve", "note": "fine"})
    assert r.status_code == 200 and f"Approval {aid} approved by ops" in r.text
    assert f'data-approval="{aid}"' not in r.text and f'data-decided="{aid}"' in r.text
    overview = held.get("/console/").text
    assert "Approvals waiting: 2" in overview and "No open alerts." in overview

    from decision.monitoring import Alert
    from hub.governance.alerts import list_alerts, monitor_step, store_alerts

    ctx = held.app.state.hub.ctx
    # three brand-new contacts are not drift (nothing to compare them with): no false alarm
    assert monitor_step(ctx, force=True).raised == 0
    found = [Alert("drift", "page_view_7d", 0.4, 0.25, "critical", "feature page_view_7d drifted: PSI 0.400")]
    with ctx.store.begin() as conn:
        assert store_alerts(conn, found, ctx.settings.governance.alerts, ctx.clock()).raised == 1
    with ctx.store.connect() as conn:
        raised = list_alerts(conn)
    overview = held.get("/console/").text
    assert all(f'data-alert="{a.id}"' in overview for a in raised) and "No open alerts." not in overview


def test_realtime_decisions_honour_the_kill_switch_within_the_refresh_time(client):
    import time

    from hub.governance import killswitch

    state = client.app.state.hub
    body = {"contact": {"contact_id": 1}}
    before = client.post("/v1/decisions", json=body, headers=auth("decide")).json()
    assert not before["explanation"].startswith("Kill switch on")
    with state.ctx.store.begin() as conn:
        killswitch.flip(conn, "next_best_action", True, "ana", "incident", state.ctx.clock())
    time.sleep(state.settings.api.policy_refresh_seconds)  # the documented bound (1 s)
    during = client.post("/v1/decisions", json=body, headers=auth("decide")).json()
    assert during["explanation"].startswith("Kill switch on: legacy rules") and during["policy"] == "rules"


def test_hub_approvals_list_writes_each_held_write_as_the_approvals_page_does(held, tmp_path):
    """`hub approvals list` wrote ``crm:c0 {'fields': {...}}`` (a Python repr, cut at 70
    characters) and the page ``set_fields {'fields': ...} to crm c0``: one write, two spellings.
    Both write ``next_best_action=... (+2 fields) to crm c0`` now (the whole payload was a table
    of wrapped JSON): the summary `hub decisions` writes."""
    import html
    import re

    from typer.testing import CliRunner

    from hub.cli import app as cli

    login(held)
    page = held.get("/console/approvals").text
    shown = {
        i: html.unescape(re.sub(r"<[^>]+>", "", w))
        for i, w in re.findall(r'<tr data-approval="(\d+)">.*?<td class="why">.*?</td>\s*<td>(.*?)</td>', page, re.S)
    }
    listed = CliRunner().invoke(cli, ["approvals", "list", "-c", str(tmp_path / "hub.yaml")])
    rows: dict[str, list[str]] = {}
    for line in listed.output.splitlines():  # a folded cell goes on under a blank id
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if line.strip().startswith("│") and cells[0].isdigit():
            rows[cells[0]] = cells
        elif line.strip().startswith("│") and rows:
            last = rows[list(rows)[-1]]
            rows[last[0]] = [" ".join(p for p in pair if p) for pair in zip(last, cells, strict=True)]
    assert len(shown) == 3 and set(shown) == set(rows), (shown, listed.output)
    for i, write in shown.items():
        # short, as `hub decisions` writes an action; the whole write is the page's hover text and --json's
        assert write.startswith("next_best_action=") and " to crm " in write and "{" not in write, write
        assert write in rows[i], (write, rows[i])
