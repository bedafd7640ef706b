"""Fixtures: small worlds and running sandboxes, real vendor SDKs pointed at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hubspot import HubSpot
from simple_salesforce import Salesforce

from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World
from tests.faults_met import unmet_faults


@pytest.fixture
def world() -> World:
    # these tests are about other things than setup: the org's admin created the hub's fields
    return World(n_contacts=1500, seed=11, salesforce_hub_fields=True)


@pytest.fixture
def sandbox(world: World) -> Iterator[SandboxHandle]:
    with start_sandbox(world) as sb:
        yield sb
        assert not unmet_faults(sb), f"faults queued but never met: {unmet_faults(sb)}"


def hubspot_client(sb: SandboxHandle, token: str | None = None) -> HubSpot:
    # base_url is what HubSpot.api_request (legacy endpoints such as email events) uses.
    return HubSpot(access_token=token or sb.hubspot_token, host=sb.hubspot_url, base_url=sb.hubspot_url)


def salesforce_client(sb: SandboxHandle) -> Salesforce:
    """simple-salesforce built from username/password/token, so it can re-login."""
    return Salesforce(
        username=sb.salesforce_username,
        password=sb.salesforce_password,
        security_token=sb.salesforce_security_token,
        domain=sb.salesforce_domain,
        session=sb.salesforce_session(),
    )


@pytest.fixture
def hs(sandbox: SandboxHandle) -> HubSpot:
    return hubspot_client(sandbox)


@pytest.fixture
def sf(sandbox: SandboxHandle) -> Salesforce:
    return salesforce_client(sandbox)
