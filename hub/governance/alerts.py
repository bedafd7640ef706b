"""Monitoring alerts: run the checks on the learn schedule, keep what they raise, and stop a
use case when configured.

:func:`monitor_step` runs :func:`hub.pipeline.monitoring.monitor` at most every
``governance.alerts.interval`` seconds (the learn task and ``hub run --once`` call it each
time; the interval keeps the year-long history scan off the 5-minute learn beat). An alert
that is already open (same kind and subject) is refreshed, not duplicated, so a drift that
persists for a week is one alert a person acknowledges once. Acknowledging means "I know":
while the same condition keeps showing up at the same or a lower severity, the acknowledged
alert is refreshed (value, last seen) and neither re-raised nor allowed to flip its kill
switches again. It is re-raised only if it gets worse (warning to critical), or if it clears
(a run without it marks it ``cleared``) and later comes back.

Hysteresis: the checks raise at ``alpha`` and report a condition still seen at the laxer
``clear_alpha`` as *held* (decision/monitoring.py); a held finding refreshes an open or
acknowledged alert but never raises a new one, escalates one or flips a switch, and an open alert that is not seen even at
the clearing level is cleared, unless it holds a kill switch (those wait for a person).

If ``governance.alerts.kill_switch`` lists use cases for the alert's kind (and the alert is
at least ``min_severity``), those kill switches go on with source ``alert``. They stay on
until a person acknowledges every open alert holding them (``hub alerts ack ID``): a model
that drifted is not trusted again because the numbers wobbled back under a threshold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, insert, select, update

from decision.monitoring import Alert, Thresholds
from hub.errors import GovernanceError, NotFoundError
from hub.governance import audit, killswitch
from hub.governance.settings import AlertSettings
from hub.pipeline.context import HubContext
from hub.store.contacts import aware
from hub.store.schema import alerts as alerts_table
from hub.store.schema import kill_switches, monitor_runs

log = logging.getLogger(__name__)
MONITOR = "monitor"
_RANK = {"warning": 0, "critical": 1}


@dataclass(frozen=True)
class StoredAlert:
    id: int
    kind: str
    subject: str
    severity: str
    value: float
    threshold: float
    message: str
    use_cases: list[str]
    state: str
    raised_at: datetime
    last_seen_at: datetime
    acked_by: str | None


@dataclass
class MonitorReport:
    ran: bool = False
    raised: int = 0
    refreshed: int = 0
    still_acknowledged: int = 0
    cleared: int = 0
    switched: list[str] = field(default_factory=list)
    error: str | None = None


def thresholds(s: AlertSettings) -> Thresholds:
    return Thresholds(
        psi_warning=s.psi_warning,
        psi_critical=s.psi_critical,
        min_auc=s.min_auc,
        max_brier_increase=s.max_brier_increase,
        max_ece=s.max_ece,
        min_reward_ratio=s.min_reward_ratio,
        min_rows=s.min_rows,
        min_exploration=s.min_exploration,
        max_exploration=s.max_exploration,
        alpha=s.alpha,
        clear_alpha=s.clear_alpha,
    )


def _row(r) -> StoredAlert:  # noqa: ANN001
    return StoredAlert(
        r.id,
        r.kind,
        r.subject,
        r.severity,
        r.value,
        r.threshold,
        r.message,
        list(r.use_cases or []),
        r.state,
        aware(r.raised_at),
        aware(r.last_seen_at),
        r.acked_by,
    )


def none_listed(state: str | None) -> str:
    """What `hub alerts list` and the console say when no alert is in ``state`` (None: any)."""
    return "No alerts yet." if state is None else f"No {state} alerts."


def list_alerts(conn: Connection, state: str | None = "open", limit: int = 100) -> list[StoredAlert]:
    q = select(alerts_table).order_by(alerts_table.c.id.desc()).limit(limit)
    if state:
        q = q.where(alerts_table.c.state == state)
    return [_row(r) for r in conn.execute(q)]


def last_run(conn: Connection) -> datetime | None:
    at = conn.execute(select(func.max(monitor_runs.c.at))).scalar()
    return aware(at) if at else None


def due(conn: Connection, s: AlertSettings, now: datetime) -> bool:
    last = last_run(conn)
    return s.enabled and (last is None or now - last >= timedelta(seconds=s.interval))


def _latest(conn: Connection, kind: str, subject: str, state: str):  # noqa: ANN202
    return conn.execute(
        select(alerts_table.c.id, alerts_table.c.severity, alerts_table.c.use_cases)
        .where(alerts_table.c.state == state, alerts_table.c.kind == kind, alerts_table.c.subject == subject)
        .order_by(alerts_table.c.id.desc())
        .limit(1)
    ).first()


def store_alerts(conn: Connection, found: list[Alert], s: AlertSettings, now: datetime) -> MonitorReport:
    """Insert new alerts, refresh open and acknowledged ones, clear acknowledged ones no longer
    seen, and flip the kill switches the config asks for."""
    report = MonitorReport(ran=True)
    seen: set[int] = set()
    for a in found:
        cases = s.kill_switch.get(a.kind, []) if _RANK[a.severity] >= _RANK[s.min_severity] else []
        values = {
            "severity": a.severity,
            "value": float(a.value),
            "threshold": float(a.threshold),
            "message": a.message,
            "last_seen_at": now,
        }
        open_row = _latest(conn, a.kind, a.subject, "open")
        acked = None if open_row is not None else _latest(conn, a.kind, a.subject, "acknowledged")
        # a held finding (seen only at the clearing level) keeps an alert alive but never raises,
        # escalates or flips; an acknowledged one seen again, not worse, is a person already knowing
        if a.hold or (acked is not None and _RANK[a.severity] <= _RANK.get(acked.severity, 0)):
            kept = open_row if open_row is not None else acked
            if kept is None:
                continue
            conn.execute(
                update(alerts_table).where(alerts_table.c.id == kept.id).values(**{**values, "severity": kept.severity})
            )
            seen.add(kept.id)
            if kept is open_row:
                report.refreshed += 1
            else:
                report.still_acknowledged += 1
            continue
        if open_row is not None:
            alert_id = open_row.id
            # an escalated warning records the switches it now flips, so acknowledging releases them
            holds = sorted(set(open_row.use_cases or []) | set(cases))
            conn.execute(update(alerts_table).where(alerts_table.c.id == alert_id).values(**values, use_cases=holds))
            report.refreshed += 1
        else:
            if acked is not None:  # worse than what was acknowledged: that one is superseded
                conn.execute(update(alerts_table).where(alerts_table.c.id == acked.id).values(state="cleared"))
            alert_id = conn.execute(
                insert(alerts_table).values(
                    kind=a.kind, subject=a.subject, use_cases=list(cases), state="open", raised_at=now, **values
                )
            ).inserted_primary_key[0]
            report.raised += 1
            log.warning("alert %s raised: %s", alert_id, a.message)
        seen.add(alert_id)
        for uc in cases:
            if killswitch.flip(conn, uc, True, MONITOR, a.message, now, source="alert", alert_id=alert_id):
                report.switched.append(uc)
    gone = update(alerts_table).where(alerts_table.c.state == "acknowledged")
    if seen:
        gone = gone.where(alerts_table.c.id.not_in(seen))
    report.cleared = conn.execute(gone.values(state="cleared")).rowcount or 0
    # an open alert whose condition is gone (not even at the clearing level) clears, unless it
    # holds a kill switch: a person acknowledges those, however the numbers wobble back
    idle = update(alerts_table).where(alerts_table.c.state == "open")
    if seen:
        idle = idle.where(alerts_table.c.id.not_in(seen))
    holding = _holding_switches(conn)
    stale = [
        r for r in list_alerts(conn, "open", 10_000) if r.id not in seen and not r.use_cases and r.id not in holding
    ]
    if stale:
        report.cleared += (
            conn.execute(idle.where(alerts_table.c.id.in_([r.id for r in stale])).values(state="cleared")).rowcount or 0
        )
    conn.execute(insert(monitor_runs).values(at=now, alerts=len(found), error=None))
    return report


def _holding_switches(conn: Connection) -> set[int]:
    """Alerts that switched on a kill switch still on (an alert cleared under it would leave it
    on with nothing to acknowledge)."""
    q = select(kill_switches.c.alert_id).where(
        kill_switches.c.is_on, kill_switches.c.source == "alert", kill_switches.c.alert_id.is_not(None)
    )
    return set(conn.execute(q).scalars())


def monitor_step(ctx: HubContext, now: datetime | None = None, *, force: bool = False) -> MonitorReport:
    """Run monitoring if due (or ``force``); store its alerts. Never raises for a failed check:
    a monitoring bug must not stop learning, so the error is logged and stored with the run."""
    from hub.pipeline.monitoring import monitor

    s = ctx.settings.governance.alerts
    now = now or ctx.clock()
    with ctx.store.connect() as conn:
        if not force and not due(conn, s, now):
            return MonitorReport()
    from hub.pipeline.features import ensure_features

    ensure_features(ctx)  # declared columns are watched against the rows they were fitted on
    declared = getattr(ctx.policy, "declared", None)
    try:
        found = monitor(
            ctx.store,
            now,
            ctx.settings.decision.scoring,
            thresholds(s),
            window_days=s.window_days,
            weights=ctx.settings.decision.objective,
            reward_horizon_days=s.reward_horizon_days,
            declared=declared,
            connectors=list(ctx.settings.enabled_connectors()),
            outcomes=ctx.settings.decision.outcomes,
            sync_lease_seconds=ctx.settings.push.lease_seconds,
        )
    except (ValueError, ArithmeticError, LookupError) as exc:  # numeric trouble in a check, not a hub fault
        log.exception("monitoring failed")
        with ctx.store.begin() as conn:
            conn.execute(insert(monitor_runs).values(at=now, alerts=0, error=f"{type(exc).__name__}: {exc}"))
        return MonitorReport(ran=True, error=str(exc))
    with ctx.store.begin() as conn:
        return store_alerts(conn, found, s, now)


def acknowledge(conn: Connection, alert_id: int, by: str, note: str | None, now: datetime) -> list[str]:
    """Acknowledge an open alert; returns the kill switches this released (audited)."""
    if not by.strip():
        raise GovernanceError("say who acknowledges (--by NAME).")
    row = conn.execute(select(alerts_table).where(alerts_table.c.id == alert_id)).first()
    if row is None:
        raise NotFoundError(f"there is no alert {alert_id}; see `hub alerts list`.")
    if row.state == "acknowledged":
        raise GovernanceError(f"alert {alert_id} is already acknowledged by {row.acked_by}.")
    if row.state != "open":
        raise GovernanceError(
            f"alert {alert_id} is {row.state}: its condition went away, so there is nothing to acknowledge"
            " (a kill switch it left on goes off with `hub killswitch off USE_CASE --by NAME`)."
        )
    conn.execute(
        update(alerts_table)
        .where(alerts_table.c.id == alert_id)
        .values(state="acknowledged", acked_by=by, acked_at=now)
    )
    audit.record(conn, now, by, "alert_ack", f"alert {alert_id}", note, {"kind": row.kind, "subject": row.subject})
    released = []
    # the switches this alert flipped, even those a row written before use_cases were kept forgot
    flipped = conn.execute(select(kill_switches.c.use_case).where(kill_switches.c.alert_id == alert_id)).scalars()
    for uc in sorted(set(row.use_cases or []) | set(flipped)):
        sw = conn.execute(select(kill_switches).where(kill_switches.c.use_case == uc)).first()
        if sw is None or not sw.is_on or sw.source != "alert":
            continue  # a person's switch stays until a person turns it off
        still = [a for a in list_alerts(conn, "open", 10_000) if uc in a.use_cases]
        if still:
            continue
        killswitch.flip(conn, uc, False, by, f"alert {alert_id} acknowledged", now, source="alert", alert_id=alert_id)
        released.append(uc)
    return released
