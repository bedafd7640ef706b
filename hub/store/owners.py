"""The sales owners each CRM reports and whether it holds them active (``crm_owners``).

Written by the sync from ``Connector.owners()``; read by routing, so an owner deactivated in
the CRM stops receiving leads at the next sync without an edit to hub.yaml.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from hub.store.schema import crm_owners


def replace(conn: Connection, connector: str, owners: dict[str, bool], now: datetime) -> None:
    """The connector's owners as just read: those no longer reported are dropped with the rest."""
    conn.execute(delete(crm_owners).where(crm_owners.c.connector == connector))
    if owners:
        rows = [{"connector": connector, "owner_id": o, "active": a, "seen_at": now} for o, a in owners.items()]
        conn.execute(insert(crm_owners), rows)


def reported(conn: Connection) -> dict[str, dict[str, bool]]:
    """``owner id -> {connector: active}`` as each CRM's last sync read them: what the console
    and `hub status` show next to the configured owners."""
    c = crm_owners.c
    seen: dict[str, dict[str, bool]] = {}
    for connector, owner, active in conn.execute(select(c.connector, c.owner_id, c.active)):
        seen.setdefault(owner, {})[connector] = bool(active)
    return seen


def inactive(conn: Connection) -> set[str]:
    """Owner ids some CRM reports inactive and none reports active (two CRMs may share an id
    form; an owner still active in one keeps receiving leads)."""
    return _inactive(reported(conn))


def withheld(conn: Connection, configured: list[str]) -> set[str]:
    """Configured owner ids routing gives no leads: those :func:`inactive` says, and, once some
    CRM has reported its owners, those none reports (a typo or a removed user: the CRM would
    refuse every assignment to them)."""
    seen = reported(conn)
    unknown = {o for o in configured if o not in seen} if seen else set()
    return _inactive(seen) | unknown


def _inactive(seen: dict[str, dict[str, bool]]) -> set[str]:
    return {o for o, by in seen.items() if not any(by.values())}
