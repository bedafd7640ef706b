"""Many properties on a read: the first sync's list walk (GET) names every property it reads in
its query string, and a long list is a 414 URI Too Long that no retry mends and that stops every
page of the walk. The walk reads such pages as ids on the list, then properties by batch read
(POST, properties in the body), so every contact comes with every property."""

from __future__ import annotations

import pytest

from hub.errors import FatalConnectorError
from hub.sandbox.serve import SandboxHandle
from hub.sandbox.world import World
from tests.connectors.hubspot.conftest import drain, make_connector

N_PROPS = 300  # ~12,600 bytes of ``&properties=...``: over the sandbox's 8,192 and the ~8 KB reported for HubSpot


def _props() -> list[str]:
    return [f"decision_feature_property_{k:04d}" for k in range(N_PROPS)]


def _define(world: World, names: list[str]) -> None:
    template = dict(world.hubspot.properties["company"], hubspotDefined=False, groupName="contactinformation")
    with world.lock:
        for n in names:
            world.hubspot.properties[n] = dict(template, name=n, label=n)


def test_a_first_sync_reading_hundreds_of_properties_gets_every_contact_and_value(
    world: World, sandbox: SandboxHandle
) -> None:
    names = _props()
    _define(world, names)
    live = sorted((rid for rid, r in world.hubspot.records.items() if not r["archived"]), key=int)
    valued = live[::7]
    with world.lock:
        for rid in valued:
            world.hubspot.set_properties(rid, {names[-1]: f"v{rid}", names[0]: "first"}, "test", source="market")
    conn = make_connector(sandbox)
    conn.client.sleep = lambda s: None
    conn.extra_properties = tuple(names)
    items, rejects, _, _ = drain(conn.pull_contacts(None))
    got = [c.identities[0].external_id for c in items] + [r.external_id for r in rejects]
    assert sorted(got, key=int) == live and len(got) == len(set(got))
    props = {c.identities[0].external_id: c.properties for c in items}
    assert all(props[rid].get(names[-1]) == f"v{rid}" and props[rid].get(names[0]) == "first" for rid in valued)
    emails = {rid: (r["properties"].get("email") or "").lower() for rid, r in world.hubspot.records.items()}
    assert all(
        c.emails == ([emails[c.identities[0].external_id]] if emails[c.identities[0].external_id] else [])
        for c in items[:50]
    )  # the core properties too
    assert conn.client.calls["contacts.read"] == conn.client.calls["contacts.list"]  # one batch read a page
    conn.close()


def test_a_uri_too_long_is_fatal_at_once_not_retried(sandbox: SandboxHandle) -> None:
    """A 414 is the same answer every time: no retry, and a hub error that names it (not the
    client's own exception escaping the connector)."""
    conn = make_connector(sandbox)
    conn.client.sleep = lambda s: None
    api = conn.client.api.crm.contacts.basic_api
    with pytest.raises(FatalConnectorError, match="414"):
        conn.client.call("contacts.list", api.get_page, limit=1, properties=_props())
    assert conn.client.calls["contacts.list"] == 1
    conn.close()
