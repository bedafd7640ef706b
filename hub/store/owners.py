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


def inactive(conn: Connection) -> set[str]:
    """Owner ids some CRM reports inactive and none reports active (two CRMs may share an id
    form; an owner still active in one keeps receiving leads)."""
    c = crm_owners.c
    seen: dict[str, bool] = {}
    for owner, active in conn.execute(select(c.owner_id, c.active)):
        seen[owner] = seen.get(owner, False) or bool(active)
    return {o for o, a in seen.items() if not a}
