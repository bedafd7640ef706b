"""An org the hub cannot connect to: the error says where the hub tried, why it failed and what
to do. Before, it said "Salesforce unreachable: ConnectionError" (and the login "could not reach
'<domain>': ConnectionError"): neither the address nor the cause."""

from __future__ import annotations

from hub.config import ConnectorEntry
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
