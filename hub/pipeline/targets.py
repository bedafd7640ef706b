"""Which CRM records an action is written to, and the day a daily cap counts from.

Shared by the decide step and the governance plan (which holds, routes and adds writes), so
neither has to import the other."""

from __future__ import annotations

from datetime import datetime

from hub.models import Contact, Identity
from hub.pipeline.context import HubContext


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def push_targets(ctx: HubContext, contact: Contact, connector: str | None, kind: str) -> list[Identity]:
    """The contact's newest record in every enabled connector that receives ``kind`` (or only
    in ``connector`` when the action names one)."""
    newest: dict[str, Identity] = {}
    for ident in contact.identities:  # ordered oldest first; the newest record per connector wins
        newest[ident.connector] = ident
    out = []
    for name, ident in newest.items():
        entry = ctx.settings.connectors.get(name)
        if entry is None or not entry.enabled or kind not in entry.receives:
            continue
        if connector is None or connector == name:
            out.append(ident)
    return out
