"""The governance part of the learn schedule: expire approvals, run monitoring when due.

Called by the ``hub.learn`` task and by ``hub run --once`` after the learn step, so one
beat entry drives learning, expiry and alerts alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hub.governance import approvals
from hub.governance.alerts import MonitorReport, monitor_step
from hub.pipeline.context import HubContext


@dataclass
class GovernanceReport:
    expired: int = 0
    monitor: MonitorReport = field(default_factory=MonitorReport)


def governance_step(ctx: HubContext, now: datetime | None = None) -> GovernanceReport:
    now = now or ctx.clock()
    with ctx.store.begin() as conn:
        expired = approvals.expire_due(conn, now)
    return GovernanceReport(expired=expired, monitor=monitor_step(ctx, now))
