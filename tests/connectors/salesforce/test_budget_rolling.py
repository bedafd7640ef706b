"""Salesforce counts its API allocation over a rolling 24 hours: pushing pauses above the
budget share and resumes once the calls that filled it are a day old. A paused writer makes no
call, so it would never see the usage fall: it reads the usage again (one call) before refusing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.connector import SalesforceConnector
from hub.errors import RetryableError
from hub.models import Action, Identity, PushRequest
from hub.sandbox.salesforce_server import SalesforceLimits
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World

HOUR_MS = 3_600_000


@pytest.fixture
def sandbox():
    world = World(n_contacts=60, seed=5, salesforce_hub_fields=True)
    with start_sandbox(world, salesforce_limits=SalesforceLimits(daily_api_requests=1000)) as sb:
        yield sb


def _add(i: int, lead: str) -> PushRequest:
    ident = Identity(connector="sf", object_type="lead", external_id=lead)
    return PushRequest(push_id=i, identity=ident, action=Action(kind="add_to_list", payload={"list": "Hub webinar"}))


def test_pushing_resumes_when_the_calls_that_filled_the_budget_roll_out(sandbox) -> None:
    sb, world = sandbox, sandbox.world
    leads = sorted(r for r, rec in world.salesforce.objects["Lead"].items() if not rec["IsDeleted"])[:3]
    settings = SalesforceSettings(
        **sb.salesforce_password_login, objects=["Lead"], activity_objects=[], push_budget_share=0.5
    )
    conn = SalesforceConnector("sf", settings, {}, clock=lambda: datetime(2027, 1, 1, tzinfo=UTC))
    conn.client.sleep = lambda s: None
    world.clock.skip(10 * HOUR_MS)
    sb.salesforce.daily.spend(600)  # another app's calls at 10:00: 60% of the org's allocation
    (first,) = conn.push([_add(1, leads[0])])
    assert first.status == "ok"  # the writer learns the usage from this call's Sforce-Limit-Info
    with pytest.raises(RetryableError) as e:
        conn.push([_add(2, leads[1])])
    assert e.value.blocked and "pushing pauses" in str(e.value)
    world.advance_days(1)  # midnight UTC: still within 24 h of those calls
    with pytest.raises(RetryableError):
        conn.push([_add(2, leads[1])])
    world.clock.skip(10 * HOUR_MS + 60_000)  # 10:01 next day: they no longer count
    (later,) = conn.push([_add(2, leads[1])])
    assert later.status == "ok" and conn.usage()["push_paused"] is False
