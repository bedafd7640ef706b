"""GET /v1/contacts/{id}, /v1/status, /metrics, the OpenAPI document and unknown paths."""

from __future__ import annotations

import re

from tests.api.conftest import auth, fail_one_push


def test_contact_timeline_has_profile_identities_activities_decisions_and_push_results(client, crm):
    fail_one_push(client.app.state.hub.ctx, crm)
    cid = client.post(
        "/v1/decisions", json={"contact": {"email": "person1@example.com"}}, headers=auth("decide")
    ).json()["contact_id"]
    body = client.get(f"/v1/contacts/{cid}", headers=auth("admin")).json()
    assert body["profile"]["emails"] == ["person1@example.com"] and body["profile"]["first_name"] == "P1"
    assert body["identities"][0]["connector"] == "crm" and body["identities"][0]["external_id"] == "c1"
    assert len(body["decisions"]) == 2  # the pipeline's and the real-time one, newest first
    rt, batch = body["decisions"]
    assert rt["pushes"] == [] and rt["explanation"] == "Matched rule 'nurture'"
    assert batch["pushes"][0]["state"] == "failed"
    assert "INVALID_FIELD" in batch["pushes"][0]["last_error"]


def test_contact_errors(client):
    assert client.get("/v1/contacts/424242", headers=auth("admin")).status_code == 404
    for bad in ("0", "-1", "abc", str(2**70)):
        r = client.get(f"/v1/contacts/{bad}", headers=auth("admin"))
        assert r.status_code == 422, bad
        assert r.headers["content-type"] == "application/problem+json"


def test_status_reports_connectors_and_queues(client, crm):
    fail_one_push(client.app.state.hub.ctx, crm)
    st = client.get("/v1/status", headers=auth("admin")).json()
    crm_status = st["connectors"][0]
    assert crm_status["name"] == "crm" and crm_status["records"] == 3 and crm_status["last_status"] == "ok"
    assert crm_status["failed"] == 1 and crm_status["done"] == 2
    assert st["queues"] == {"sync": 0, "decide": 0, "push": 0, "learn": 0}


def test_metrics_are_prometheus_text(client, crm):
    fail_one_push(client.app.state.hub.ctx, crm)
    r = client.get("/metrics", headers=auth("admin"))
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = r.text.splitlines()
    sample = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? -?[0-9.e+]+$')
    assert all(line.startswith("# ") or sample.match(line) for line in lines), r.text
    assert 'hub_pushes{connector="crm",state="failed"} 1' in lines
    assert 'hub_pushes{connector="crm",state="done"} 2' in lines
    assert 'hub_records{connector="crm"} 3' in lines
    assert 'hub_sync_records{connector="crm",stream="contacts"} 3' in lines
    assert 'hub_queue_depth{queue="decide"} 0' in lines
    assert any(line.startswith('hub_policy_info{policy="rules",version="') for line in lines)
    # the business metrics of hub/reports/metrics.py, per arm: three contacts decided by the rules
    assert 'hub_arm_contacts{arm="rules"} 3' in lines
    assert any(line.startswith('hub_arm_metric_per_contact{arm="rules",metric="reward"} ') for line in lines)
    # this process's real-time batching: its current wait, from the settings (half the 12 ms objective)
    # until decisions move it, and no engine call yet
    assert "hub_realtime_batch_window_seconds 0.006" in lines
    assert "hub_realtime_decisions_per_batch 0" in lines
    assert 'hub_sync_last_ok{connector="crm",stream="contacts"} 1' in lines
    assert 'hub_sync_warning{connector="crm",stream="contacts"} 0' in lines


def test_a_stream_synced_without_a_part_is_ok_with_a_warning_in_metrics(client, crm):
    """A sync that went on without a source its token may not read (hub/pipeline/sync.py) did its
    job: an alert on hub_sync_last_ok must not fire for it forever; hub_sync_warning says it."""
    from datetime import UTC, datetime

    from hub.store import sync_state

    ctx = client.app.state.hub.ctx
    fail_one_push(ctx, crm)  # a sync has run: the streams have rows
    with ctx.store.begin() as conn:
        sync_state.mark_finished(conn, "crm", "activities", datetime.now(UTC), "warning", "calls not synced: a scope")
    lines = client.get("/metrics", headers=auth("admin")).text.splitlines()
    assert 'hub_sync_last_ok{connector="crm",stream="activities"} 1' in lines
    assert 'hub_sync_warning{connector="crm",stream="activities"} 1' in lines


def test_openapi_and_unknown_paths(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/decisions", "/v1/events", "/v1/webhooks/hubspot", "/v1/contacts/{contact_id}", "/metrics"} <= set(
        spec["paths"]
    )
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    wrong_method = client.get("/v1/decisions")
    assert wrong_method.status_code == 405 and wrong_method.headers["content-type"] == "application/problem+json"


def test_a_kill_switch_turned_on_shows_in_status_and_metrics(client):
    """An ops admin watching /v1/status or /metrics sees that the legacy rules decide: the
    real-time answers named them while both still showed only the engine (found by walk2)."""
    from hub.governance.killswitch import flip
    from hub.models import utcnow

    assert client.get("/v1/status", headers=auth("admin")).json()["kill_switches_on"] == []
    with client.app.state.hub.ctx.store.begin() as conn:
        flip(conn, "next_best_action", True, "ops", "walk", utcnow())
    assert client.get("/v1/status", headers=auth("admin")).json()["kill_switches_on"] == ["next_best_action"]
    lines = client.get("/metrics", headers=auth("admin")).text.splitlines()
    assert 'hub_kill_switch{use_case="next_best_action"} 1' in lines
    assert 'hub_kill_switch{use_case="routing"} 0' in lines


def test_a_running_sync_keeps_the_last_result_and_an_interrupted_one_has_its_own_gauge(client, crm):
    """Starting a sync overwrote the stream's last result with "running", so hub_sync_last_ok
    read 0 during every sync (an alert on it fired each time), and a sync whose process was
    killed had no metric at all. The last finished result now stays while one runs; running and
    interrupted are gauges of their own, read by the same function as `hub status`."""
    from datetime import UTC, datetime, timedelta

    from hub.status import connector_status
    from hub.store import sync_state

    ctx = client.app.state.hub.ctx
    fail_one_push(ctx, crm)  # a sync has run and finished ok
    now = datetime.now(UTC)
    with ctx.store.begin() as conn:
        sync_state.mark_started(conn, "crm", "contacts", now, now)  # the next one runs
        lease = timedelta(seconds=ctx.settings.push.lease_seconds + 5)  # killed: no beat for over a lease
        sync_state.mark_started(conn, "crm", "activities", now - lease, now - lease)
    lines = client.get("/metrics", headers=auth("admin")).text.splitlines()
    for stream, running, interrupted in (("contacts", 1, 0), ("activities", 0, 1)):
        labels = f'{{connector="crm",stream="{stream}"}}'
        assert f"hub_sync_last_ok{labels} 1" in lines, lines
        assert f"hub_sync_running{labels} {running}" in lines, lines
        assert f"hub_sync_interrupted{labels} {interrupted}" in lines, lines
    (st,) = connector_status(ctx.settings, ctx.store)
    assert (st.last_status, st.last_result) == ("interrupted", "ok")  # hub status tells the same story
    assert st.sync_summary.startswith("interrupted (last finished sync: ok)"), st.sync_summary
    (out,) = client.get("/v1/status", headers=auth("admin")).json()["connectors"]  # what the Overview renders
    assert (out["sync_summary"], out["last_result"], out["sync_tone"]) == (st.sync_summary, "ok", "warn"), out
