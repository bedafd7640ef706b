"""The burst limit follows what HubSpot reports for this app and portal, not a fixed figure."""

from __future__ import annotations

import threading
import time

from hub.sandbox.hubspot_server import HubSpotLimits
from hub.sandbox.ratelimit import RollingWindow
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


def test_calls_slowed_on_the_way_are_counted_until_they_end_so_fast_ones_after_them_are_not_refused(world, sandbox):
    """HubSpot counts a call when it arrives, the limiter when it grants it: calls granted
    together and held up on the way (the GIL, a loaded host, the network) are still in HubSpot's
    window when the limiter's frees their slots. Nine slow calls, then nine fast ones, on a
    window of 10 calls per second (paced at 9): counted from the grant, eight fast ones were refused."""
    sandbox.hubspot.window = RollingWindow(10, 1.0)  # reported in X-HubSpot-RateLimit-*: followed
    c = make_connector(sandbox)
    c.client.sleep = lambda s: None  # a refusal is retried at once: only the count matters here
    owners = c.client.api.crm.owners.owners_api

    def list_owners() -> None:
        c.client.call("owners.list", owners.get_page, limit=1)

    list_owners()
    assert (c.client.burst.calls, c.client.burst.seconds) == (9, 1.0)
    time.sleep(1.0)  # the window is empty again
    sandbox.hubspot_faults.set(latency_s=0.5)
    slow = [threading.Thread(target=list_owners) for _ in range(9)]
    for t in slow:
        t.start()
    for t in slow:
        t.join()
    sandbox.hubspot_faults.set(latency_s=0.0)
    for _ in range(9):
        list_owners()
    assert world.log.total_limits_exceeded() == 0
    c.close()
