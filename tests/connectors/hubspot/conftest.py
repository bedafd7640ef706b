"""A sandbox HubSpot portal and connectors built through the plugin manager, as the hub does."""

from __future__ import annotations

import pytest

from hub.config import ConnectorEntry
from hub.connector import Runtime
from hub.plugins import build_plugin_manager
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from tests.faults_met import unmet_faults


@pytest.fixture
def world():
    return World(n_contacts=600, seed=7)


@pytest.fixture
def sandbox(world):
    with start_sandbox(world) as sb:
        yield sb
        assert not unmet_faults(sb), f"faults queued but never met: {unmet_faults(sb)}"


def make_connector(sb, runtime: Runtime | None = None, name: str = "hs", **settings):
    entry = ConnectorEntry(
        type="hubspot", settings={"access_token": sb.hubspot_token, "base_url": sb.hubspot_url, **settings}
    )
    return build_plugin_manager().build(name, entry, runtime)


def oauth_connector(sb, name: str = "hs", **settings):
    """A connector on the sandbox's OAuth app (refresh-token rotation) instead of a private-app token."""
    oauth = {
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "refresh_token": "sandbox-refresh-0",
    }
    return build_plugin_manager().build(
        name, ConnectorEntry(type="hubspot", settings={"oauth": oauth, "base_url": sb.hubspot_url, **settings})
    )


@pytest.fixture
def connector(sandbox):
    c = make_connector(sandbox)
    c.client.sleep = lambda s: None  # retries and limit waits are tested for counts, not seconds
    yield c
    c.close()


def drain(pages):
    items, rejects, deleted, cursor = [], [], [], None
    for p in pages:
        items += p.items
        rejects += p.rejects
        deleted += p.deleted
        cursor = p.cursor
    return items, rejects, deleted, cursor
