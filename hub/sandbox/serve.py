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
from collections.abc import Collection
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import requests
import yaml

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

    def hub_connectors(self, connector_types: Collection[str] = ("hubspot", "salesforce")) -> dict[str, Any]:
        """hub.yaml's ``connectors`` section for these servers (`hub demo`'s, and what
        `hub sandbox serve` prints)."""
        connectors: dict[str, Any] = {}
        if "hubspot" in connector_types:
            connectors["hubspot"] = {
                "type": "hubspot",
                # a simulated day passes in seconds: walk the archived list (deletions) on every sync,
                # not at most hourly as on a real portal
                "settings": {
                    "access_token": self.hubspot_token,
                    "base_url": self.hubspot_url,
                    "archived_walk_seconds": 0,
                },
            }
        if "salesforce" in connector_types:
            connectors["salesforce"] = {
                "type": "salesforce",
                "settings": {
                    # OAuth client credentials, as a new org's connected app runs it (SOAP password
                    # login is off in new orgs); the username is the user field permissions are granted to
                    "consumer_key": self.salesforce_consumer_key,
                    "consumer_secret": self.salesforce_consumer_secret,
                    "username": self.salesforce_username,
                    "domain": self.salesforce_domain,
                    "ca_bundle": self.ca_cert_path,
                },
            }
        return connectors

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


def how_to_connect(sb: SandboxHandle, day_seconds: float) -> str:
    """What `hub sandbox serve` prints under its URLs: the connectors to paste, the commands that
    follow, and when outcomes show (the world is on the wall clock, see :func:`served_world`)."""
    section = yaml.safe_dump({"connectors": sb.hub_connectors()}, sort_keys=False)
    if day_seconds > 0:
        pace = (
            f"A simulated day passes every {day_seconds:g} s: at its end the market answers what the hub "
            "wrote that day, stamped on the wall clock as your hub is, so the next `hub run --once` "
            "syncs the answers and credits them to the decisions (`hub report lift`, the console)."
        )
    else:
        pace = (
            "No simulated day passes (--day-seconds 0): the market answers nothing the hub writes. "
            "Restart with --day-seconds 60 to see outcomes credited."
        )
    return (
        "Point a hub at it: `hub init` writes hub.yaml; replace its `connectors: {}` with\n\n"
        f"{section}\n"
        "then `hub connectors setup -c hub.yaml` (a new portal and org lack the hub's fields) and "
        "`hub run --once -c hub.yaml`, again after each simulated day (or `hub worker` and `hub beat` to keep going).\n"
        f"{pace} The engine learns from a decision once its attribution window closes "
        "on the wall clock (each action's `attribution_days`, 7 unless set): days, not minutes."
    )
