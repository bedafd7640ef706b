"""An OAuth connector's access token runs out (HubSpot: ``expires_in`` 1800 s) and its calls go on.

HubSpot says to refresh by the token's lifetime, not on a 401 (usage guidelines), so the
lifetime is checked before every try, retries included: a call that waits out 429 windows can
outlive the token it started with. A 401 EXPIRED_AUTHENTICATION that comes anyway (the two
clocks disagree) is answered by one refresh and the call sent again, never a loop.
"""

from __future__ import annotations

from tests.connectors.hubspot.conftest import oauth_connector
from tests.connectors.hubspot.test_push import live, req


def _list_push(world):
    return [req(1, live(world)[0], "add_to_list", list="oauth-expiry")]


def test_a_token_that_runs_out_while_a_call_waits_is_refreshed_before_the_retry(world, sandbox):
    c = oauth_connector(sandbox)
    assert c.client.api is not None and sandbox.hubspot.refreshes == 1

    def wait(_seconds: float) -> None:  # the 429 window passes, and with it the token's lifetime
        sandbox.hubspot.expire_access_tokens()
        c.client._token_expires = 0

    c.client.sleep = wait
    sandbox.hubspot_faults.set(burst_429=1)
    assert [r.status for r in c.push(_list_push(world))] == ["ok"]
    assert sandbox.hubspot.refreshes == 2


def test_a_token_hubspot_calls_expired_before_its_time_is_refreshed_once_and_the_call_sent_again(world, sandbox):
    c = oauth_connector(sandbox)
    assert c.client.api is not None
    sandbox.hubspot.expire_access_tokens(ago_s=5)  # HubSpot's clock is ahead of ours
    assert [r.status for r in c.push(_list_push(world))] == ["ok"]
    assert sandbox.hubspot.refreshes == 2


def test_a_token_refused_again_after_a_refresh_blocks_the_pushes_without_looping(world, sandbox):
    # the zone set: the account-details read before the first call would take refreshes of its own
    c = oauth_connector(sandbox, portal_timezone="America/New_York")
    sandbox.hubspot.token_lifetime_s = 0  # every token HubSpot issues is dead on arrival
    (result,) = c.push(_list_push(world))
    assert result.status == "blocked" and "EXPIRED" in result.reason.upper()
    # a lifetime of 0 is over at once: a refresh before each of the call's two tries, no third
    assert sandbox.hubspot.refreshes == 3
