"""The burst limit follows what HubSpot reports for this app and portal, not a fixed figure."""

from __future__ import annotations

from hub.sandbox.hubspot_server import HubSpotLimits
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from tests.connectors.hubspot.conftest import make_connector


def test_a_starter_portal_is_paced_at_its_own_limit_and_never_refused():
    """Free/Starter portals and public OAuth apps get 100-110 calls per 10 s (anchors: usage
    guidelines), and HubSpot says so in ``X-HubSpot-RateLimit-Max``; a client assuming the
    Professional 180 would be refused from the 101st call on."""
    world = World(n_contacts=200, seed=5)
    with start_sandbox(world, hubspot_limits=HubSpotLimits.tier("starter")) as sb:
        c = make_connector(sb)
        api = c.client.api.crm.owners.owners_api
        for _ in range(110):
            c.client.call("owners.list", api.get_page, limit=1)
        assert c.client.burst.calls == 95 and world.log.total_limits_exceeded() == 0
        c.close()


def test_a_professional_portal_raises_the_pace_to_what_hubspot_reports_and_a_cap_holds():
    world = World(n_contacts=200, seed=5)
    with start_sandbox(world, hubspot_limits=HubSpotLimits.tier("professional")) as sb:
        c = make_connector(sb)
        assert c.client.burst.calls == 95  # before HubSpot has said anything
        c.client.call("owners.list", c.client.api.crm.owners.owners_api.get_page, limit=1)
        assert c.client.burst.calls == 180 and c.client.general.limits[0].calls == 180
        assert c.client.search_limit.limits[0].calls == 180
        capped = make_connector(sb, name="capped", requests_per_ten_seconds=120)
        capped.client.call("owners.list", capped.client.api.crm.owners.owners_api.get_page, limit=1)
        assert capped.client.burst.calls == 120
        c.close()
        capped.close()
