"""The time zone a bare local send hour is read in when it is written to a Salesforce datetime.

Salesforce keeps no time zone per person, so the engine's bare hour ("9": send at nine, the
person's zone unknown) is placed in the org's: ``org_timezone`` when it is set, else the org's
own default (``Organization.TimeZoneSidKey``), read once per client the first time a write
needs it, else UTC. Reading the Organization object takes "View Setup and Configuration"; a
user without it is answered INVALID_TYPE, and the hour is then read in UTC with one warning
that names the setting. An outage or a spent daily limit is raised as any call's would be (the
writes fail with it too) and the next write asks again.
"""

from __future__ import annotations

import logging
import threading

from connectors.salesforce.client import DailyLimitReached, SalesforceClient
from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.mapping import ORG_ZONE_SOQL, org_time_zone
from hub.errors import FatalConnectorError

log = logging.getLogger(__name__)


class OrgZone:
    """``zone()``: the IANA zone a bare local hour is read in for this org."""

    def __init__(self, client: SalesforceClient, settings: SalesforceSettings):
        self.client = client
        self.settings = settings
        # set: it wins and the org is never asked
        self._zone: str | None = settings.org_timezone if "org_timezone" in settings.model_fields_set else None
        self._lock = threading.Lock()

    def zone(self) -> str:
        if self._zone is None:
            with self._lock:
                if self._zone is None:
                    self._zone, why = self.read()
                    if why is not None:
                        log.warning("%s", why)
        return self._zone

    def read(self) -> tuple[str, str | None]:
        """The zone asked of the org now (or the set one), and why it is UTC when it had to be
        (None: it is the org's or the set one). ``hub connectors list --check`` shows both."""
        if "org_timezone" in self.settings.model_fields_set:
            return self.settings.org_timezone, None
        self.client.sf  # log in first: a login that fails is that error, not a missing permission  # noqa: B018
        try:
            rows = [r for page in self.client.query_pages(ORG_ZONE_SOQL) for r in page]
        except DailyLimitReached:
            raise
        except FatalConnectorError as exc:
            return "UTC", (
                f"Salesforce org time zone unreadable ({exc}): a bare local send hour is read in UTC. Set "
                "settings.org_timezone (e.g. 'America/New_York') or give the API user 'View Setup and "
                "Configuration'."
            )
        zone = org_time_zone(rows)
        if zone is None:
            found = rows[0].get("TimeZoneSidKey") if rows else None
            return "UTC", (
                f"Salesforce org time zone {found!r} is not a known IANA zone: a bare local send hour is read "
                "in UTC. Set settings.org_timezone."
            )
        return zone, None
