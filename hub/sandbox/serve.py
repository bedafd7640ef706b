"""Start both fake vendors on free localhost ports, for the demo, the CLI and tests.

How the unmodified SDKs connect (what tests/sandbox/conftest.py does)::

    with start_sandbox(World(WorldConfig(n_contacts=2000, seed=0))) as sb:
        hs = HubSpot(access_token=sb.hubspot_token, host=sb.hubspot_url,
                     base_url=sb.hubspot_url)  # base_url: for hs.api_request (email events)
        sf = Salesforce(username=sb.salesforce_username, password=sb.salesforce_password,
                        security_token=sb.salesforce_security_token,
                        domain=sb.salesforce_domain,  # "127.0.0.1:PORT/sflogin?d="
                        session=sb.salesforce_session())  # trusts sb.ca_cert_path
        sb.world.advance_days(1)          # the market acts on what the hub wrote
        sb.hubspot_faults.set(error_rate=0.1)

``domain`` works because simple-salesforce builds ``https://{domain}.salesforce.com/...``;
the query string swallows the suffix. Build sessions with ``trust_env = False`` (see
``salesforce_session``) or REQUESTS_CA_BUNDLE silently replaces ``verify``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from types import TracebackType

import requests

from hub.sandbox.httpkit import Faults, ServerThread
from hub.sandbox.hubspot_server import HubSpotApp, HubSpotLimits
from hub.sandbox.salesforce_server import (
    SalesforceApp,
    SalesforceCredentials,
    SalesforceLimits,
)
from hub.sandbox.tls import make_tls
from hub.sandbox.world import World, WorldConfig


@dataclass
class SandboxHandle:
    """Where the servers listen and how to log in; ``stop()`` (or ``with``) shuts them down."""

    world: World
    hubspot_url: str
    salesforce_url: str
    hubspot_token: str
    salesforce_username: str
    salesforce_password: str
    salesforce_security_token: str
    salesforce_consumer_key: str
    salesforce_consumer_secret: str
    salesforce_domain: str  # pass as simple-salesforce's ``domain=``
    ca_cert_path: str
    hubspot: HubSpotApp
    salesforce: SalesforceApp
    _servers: list[ServerThread] = field(default_factory=list, repr=False)
    _tls_dir: str = ""

    @property
    def salesforce_password_login(self) -> dict[str, str]:
        """The Salesforce connector's settings for a password login to this org, over its TLS."""
        return {
            "username": self.salesforce_username,
            "password": self.salesforce_password,
            "security_token": self.salesforce_security_token,
            "domain": self.salesforce_domain,
            "ca_bundle": self.ca_cert_path,
        }

    @property
    def hubspot_faults(self) -> Faults:
        return self.hubspot.faults

    @property
    def salesforce_faults(self) -> Faults:
        return self.salesforce.faults

    def salesforce_session(self) -> requests.Session:
        """A requests session that trusts the sandbox CA (for ``Salesforce(session=...)``).

        Trap: with ``trust_env`` on, requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``
        override ``session.verify`` (psf/requests#3829), so it is switched off here; that
        also keeps proxy variables away from 127.0.0.1.
        """
        s = requests.Session()
        s.verify = self.ca_cert_path
        s.trust_env = False
        return s

    def stop(self) -> None:
        for s in self._servers:
            s.stop()
        self._servers.clear()
        if self._tls_dir:
            shutil.rmtree(self._tls_dir, ignore_errors=True)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_sandbox(
    world: World,
    hubspot_port: int = 0,
    salesforce_port: int = 0,
    hubspot_token: str = "pat-sandbox-0000",
    hubspot_limits: HubSpotLimits | None = None,
    salesforce_limits: SalesforceLimits | None = None,
    salesforce_credentials: SalesforceCredentials | None = None,
    tls_dir: str | None = None,
) -> SandboxHandle:
    """Serve ``world`` as HubSpot (plain HTTP) and Salesforce (HTTPS) in background threads."""
    tls = make_tls(tls_dir)
    creds = salesforce_credentials or SalesforceCredentials()
    hs_app = HubSpotApp(world, hubspot_token, hubspot_limits)
    sf_app = SalesforceApp(world, creds, salesforce_limits)
    hs = ServerThread(hs_app, hubspot_port).start()
    sf = ServerThread(sf_app, salesforce_port, tls.server_context()).start()
    sf_app.base_url = f"https://127.0.0.1:{sf.port}"
    return SandboxHandle(
        world=world,
        hubspot_url=f"http://127.0.0.1:{hs.port}",
        salesforce_url=sf_app.base_url,
        hubspot_token=hubspot_token,
        salesforce_username=creds.username,
        salesforce_password=creds.password,
        salesforce_security_token=creds.security_token,
        salesforce_consumer_key=creds.consumer_key,
        salesforce_consumer_secret=creds.consumer_secret,
        salesforce_domain=f"127.0.0.1:{sf.port}/sflogin?d=",
        ca_cert_path=str(tls.ca_cert_path),
        hubspot=hs_app,
        salesforce=sf_app,
        _servers=[hs, sf],
        _tls_dir="" if tls_dir else str(tls.directory),
    )


def served_world(contacts: int, seed: int) -> World:
    """The world `hub sandbox serve` serves: on the wall clock, as the hub that reads it is (see
    SimClock); its days pass when the caller advances them."""
    return World(WorldConfig(n_contacts=contacts, seed=seed, wall_clock=True))
