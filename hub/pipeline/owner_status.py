"""The configured sales owners as routing sees them now: capacity, load and the CRMs' view.

`hub status` and the console's Overview show this so an admin sees why a configured owner gets
no leads: routing (hub/pipeline/routing.py) skips an owner a CRM reported deactivated at its last
sync, and one no CRM reports once some CRM reports owners, whatever ``decision.owners[].active``
says. Load comes from :func:`owner_load`, the same
count routing fills capacity with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from hub.config import Settings
from hub.pipeline.routing import owner_load
from hub.pipeline.targets import day_start
from hub.store import owners as owner_store


@dataclass(frozen=True)
class OwnerStatus:
    """One ``decision.owners`` entry; ``crm``: connector -> active, as its last sync read it."""

    id: str
    configured_active: bool
    max_open_leads: int
    max_new_per_day: int
    open_leads: int
    assigned_today: int
    crm: dict[str, bool]
    crm_reports_owners: bool  # some CRM reports owners at all: then an id none reports is suspect

    @property
    def deactivated_in(self) -> list[str]:
        """The CRMs that deactivated this owner, when none holds them active (routing's rule)."""
        return [] if any(self.crm.values()) else sorted(self.crm)

    @property
    def unknown(self) -> bool:
        """No CRM reports this id though some report owners: a typo or a removed user."""
        return self.crm_reports_owners and not self.crm

    @property
    def crm_view(self) -> str:
        if self.deactivated_in:
            return f"deactivated in {', '.join(self.deactivated_in)}"
        if self.crm:
            return "active"
        return "not reported" if self.crm_reports_owners else "no CRM reports owners"

    @property
    def eligible(self) -> bool:
        """Routing may give them leads (capacity aside): active in hub.yaml, not deactivated
        in every CRM that reports them, and known to one when any reports owners."""
        return self.configured_active and not self.deactivated_in and not self.unknown


def owner_statuses(settings: Settings, conn: Connection, now: datetime) -> list[OwnerStatus]:
    """Every configured owner with today's load and what the CRMs last reported about them."""
    configured = settings.decision.owners
    if not configured:
        return []
    open_leads, today = owner_load(conn, [o.id for o in configured], day_start(now))
    reported = owner_store.reported(conn)
    return [
        OwnerStatus(
            id=o.id,
            configured_active=o.active,
            max_open_leads=o.capacity.max_open_leads,
            max_new_per_day=o.capacity.max_new_per_day,
            open_leads=open_leads.get(o.id, 0),
            assigned_today=today.get(o.id, 0),
            crm=reported.get(o.id, {}),
            crm_reports_owners=bool(reported),
        )
        for o in configured
    ]


def owner_warnings(statuses: list[OwnerStatus]) -> list[str]:
    """Plain sentences for the owners a CRM keeps from routing or does not know, with what to do."""
    out = []
    off = [s for s in statuses if s.configured_active and s.deactivated_in]
    if off:
        names = "; ".join(f"{s.id} ({s.crm_view} at the last sync)" for s in off)
        out.append(
            f"Owners getting no leads: {names}. Reactivate them in the CRM, "
            "or remove them from decision.owners in hub.yaml and reassign their open leads."
        )
    unknown = [s.id for s in statuses if s.unknown]
    if unknown:
        out.append(
            f"Owners no CRM reports get no leads: {', '.join(unknown)} (the CRM would refuse the "
            "assignments). Check the ids in decision.owners in hub.yaml against the CRM's users."
        )
    return out
