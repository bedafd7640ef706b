"""Kill switches: per use case, back to the legacy behaviour at once.

A use case is off-the-engine when ``governance.kill_switches`` in hub.yaml says so (a
deploy-time switch nobody can flip back at run time) or when its stored switch is on
(``hub killswitch on|off``, or an alert). The stored switch is read at the start of every
decide batch: one small query, so a flip takes effect on the next batch in every worker
without a restart or a broker message.

What "legacy" means per use case: ``next_best_action`` decides with the rules policy alone
(the holdout's behaviour, for every contact); ``routing`` leaves hand-offs to the catalog's
static owner or the rules; ``scoring`` pushes the points score instead of the learned model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from hub.errors import GovernanceError
from hub.governance import audit
from hub.governance.settings import USE_CASES, GovernanceSettings
from hub.store.contacts import aware
from hub.store.schema import kill_switches


@dataclass(frozen=True)
class SwitchState:
    use_case: str
    on: bool
    configured: bool  # forced on by hub.yaml
    stored: bool
    source: str | None = None
    by: str | None = None
    reason: str | None = None
    alert_id: int | None = None
    updated_at: datetime | None = None


def check_use_case(use_case: str) -> str:
    if use_case not in USE_CASES:
        raise GovernanceError(f"unknown use case {use_case!r}; use one of {', '.join(USE_CASES)}.")
    return use_case


_ALL = select(kill_switches)  # built once: every real-time decision reads it


def states(conn: Connection, settings: GovernanceSettings) -> dict[str, SwitchState]:
    rows = {r.use_case: r for r in conn.execute(_ALL)}
    out = {}
    for uc in USE_CASES:
        r = rows.get(uc)
        configured = bool(settings.kill_switches.get(uc, False))  # type: ignore[call-overload]
        stored = bool(r and r.is_on)
        out[uc] = SwitchState(
            uc,
            configured or stored,
            configured,
            stored,
            r.source if r else None,
            r.by if r else None,
            r.reason if r else None,
            r.alert_id if r else None,
            aware(r.updated_at) if r else None,
        )
    return out


_STORED_ON = select(kill_switches.c.use_case).where(kill_switches.c.is_on)  # every real-time decision reads it


def active(conn: Connection, settings: GovernanceSettings) -> frozenset[str]:
    """The use cases switched to legacy now: configured on, or stored on (what ``states`` calls
    ``on``, without building each switch's full state on every decision)."""
    stored = set(conn.execute(_STORED_ON).scalars())
    return frozenset(
        uc
        for uc in USE_CASES
        if bool(settings.kill_switches.get(uc, False)) or uc in stored  # type: ignore[call-overload]
    )


def flip(
    conn: Connection,
    use_case: str,
    on: bool,
    by: str,
    reason: str | None,
    now: datetime,
    *,
    source: str = "person",
    alert_id: int | None = None,
) -> bool:
    """Set the stored switch; returns whether it changed. Audited either way it changes; a
    switch with no row was never on, so turning it off changes (and audits) nothing."""
    check_use_case(use_case)
    current = conn.execute(select(kill_switches).where(kill_switches.c.use_case == use_case)).first()
    if bool(current is not None and current.is_on) == on:
        return False
    values = {"is_on": on, "source": source, "alert_id": alert_id, "by": by, "reason": reason, "updated_at": now}
    if current is None:
        try:
            with conn.begin_nested():  # two first flips at once: the second finds the first's row
                conn.execute(kill_switches.insert().values(use_case=use_case, **values))
        except IntegrityError:
            row = conn.execute(select(kill_switches).where(kill_switches.c.use_case == use_case)).first()
            if row is not None and bool(row.is_on) == on:
                return False
            conn.execute(update(kill_switches).where(kill_switches.c.use_case == use_case).values(**values))
    else:
        conn.execute(update(kill_switches).where(kill_switches.c.use_case == use_case).values(**values))
    audit.record(
        conn,
        now,
        by,
        "kill_switch_on" if on else "kill_switch_off",
        use_case,
        reason,
        {"source": source, "alert_id": alert_id},
    )
    return True
