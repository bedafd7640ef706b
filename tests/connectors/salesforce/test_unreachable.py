"""An org the hub cannot connect to: the error says where the hub tried, why it failed and what
to do. Before, it said "Salesforce unreachable: ConnectionError" (and the login "could not reach
'<domain>': ConnectionError"): neither the address nor the cause."""

from __future__ import annotations

from hub.config import ConnectorEntry
from hub.models import Action, ActionKind, Identity, PushRequest
from hub.plugins import build_plugin_manager
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World


def _connector(sb):
    entry = ConnectorEntry(type="salesforce", settings=sb.salesforce_password_login)
    conn = build_plugin_manager().build("sf", entry, None)
    conn.client.sleep = lambda s: None
    return conn


def test_an_org_that_stops_answering_is_named_with_the_cause_and_what_to_do():
    with start_sandbox(World(n_contacts=20, seed=3, salesforce_hub_fields=True)) as sb:
        port = sb._servers[1].port
        before = _connector(sb)  # logs in while the org answers
        assert before.check().ok
        sb._servers[1].stop()
        before.client.http.close()  # a server going down drops its kept-alive connections too
        fresh = _connector(sb)  # logs in after it stopped
        try:
            (mid_session,) = before.check().problems
            (at_login,) = fresh.check().problems
        finally:
            before.close()
            fresh.close()
    for said in (mid_session, at_login):
        assert f"127.0.0.1:{port}" in said and "connection refused" in said, said
        assert "check" in said and "retry by themselves" in said, said


def test_an_org_whose_certificate_is_not_trusted_says_to_check_ca_bundle(tmp_path):
    """`hub sandbox serve` makes a new CA each time it starts; a hub.yaml keeping the last run's
    ca_bundle got "cannot connect to https://127.0.0.1:18433 (SSLError); check the domain
    setting": neither what failed (the certificate) nor the setting to fix (ca_bundle)."""
    import shutil

    with start_sandbox(World(n_contacts=20, seed=3, salesforce_hub_fields=True)) as old:
        stale = shutil.copy(old.ca_cert_path, tmp_path / "old-ca.pem")  # the last run's CA
    with start_sandbox(World(n_contacts=20, seed=3, salesforce_hub_fields=True)) as sb:
        entry = ConnectorEntry(type="salesforce", settings={**sb.salesforce_password_login, "ca_bundle": str(stale)})
        conn = build_plugin_manager().build("sf", entry, None)
        conn.client.sleep = lambda s: None
        try:
            (said,) = conn.check().problems
        finally:
            conn.close()
    assert "certificate" in said and "ca_bundle" in said and "SSLError" not in said, said
    assert "domain setting" not in said, said


def test_writes_to_an_org_that_stops_answering_wait_without_spending_attempts():
    """No write is at fault when the org gives no answer: the connector reports its writes
    blocked (each push waits with where and why and keeps its attempts), not retryable, which
    spent one attempt per pass and failed every queued write after `push.max_attempts` passes
    of an outage (5-10 minutes with the defaults)."""
    with start_sandbox(World(n_contacts=60, seed=8, salesforce_hub_fields=True)) as sb:
        contact = next(iter(sb.world.salesforce.objects["Contact"]))
        port = sb._servers[1].port
        conn = _connector(sb)
        try:
            assert conn.check().ok  # logged in while the org answered
            sb._servers[1].stop()
            conn.client.http.close()
            write = PushRequest(
                push_id=1,
                identity=Identity(connector="sf", object_type="contact", external_id=contact),
                action=Action(kind=ActionKind.SET_FIELDS, payload={"fields": {"next_best_action": "wait"}}),
            )
            (res,) = conn.push([write])
        finally:
            conn.close()
    assert res.status == "blocked", res
    assert f"127.0.0.1:{port}" in res.reason and "connection refused" in res.reason, res.reason
    assert res.retry_after and res.retry_after >= 60
