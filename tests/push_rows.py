"""Push rows as the decide step queues them, for the push store's tests."""

from __future__ import annotations


def set_field_rows(cid: int, did: int, records: list[str], fields: dict[str, str]) -> list[dict]:
    """One ``set_fields`` push of ``fields`` per CRM record of contact ``cid``, from decision ``did``."""
    return [
        {
            "decision_id": did,
            "contact_id": cid,
            "connector": "crm",
            "object_type": "contact",
            "external_id": r,
            "kind": "set_fields",
            "payload": {"fields": dict(fields)},
        }
        for r in records
    ]


def score_only_cycles(ctx, name: str, fields: dict, sync: bool = True) -> list:  # noqa: ANN001 - a HubContext
    """Two cycles of a score-only write (no decision id, as governance queues scores) of
    ``fields`` to one synced record of connector ``name``: queue it, push, sync (unless
    ``sync`` is off: the store's copy of the landed write is then all it has). Returns each
    cycle's push summary. Call after a first sync and decide, which leave a decision to cite."""
    from sqlalchemy import select

    from hub.pipeline.push import push_until_drained
    from hub.pipeline.sync import sync_connector
    from hub.store import pushes as push_store
    from hub.store.schema import decisions, identities

    with ctx.store.connect() as conn:
        did, cid = conn.execute(select(decisions.c.id, decisions.c.contact_id).limit(1)).one()
        ident = conn.execute(
            select(identities.c.object_type, identities.c.external_id).where(
                identities.c.contact_id == cid, identities.c.connector == name
            )
        ).first()
    row = {
        "decision_id": did,
        "contact_id": cid,
        "connector": name,
        "object_type": ident.object_type,
        "external_id": ident.external_id,
        "kind": "set_fields",
        "payload": {"fields": dict(fields)},
    }
    summaries = []
    for _ in range(2):
        with ctx.store.begin() as conn:
            push_store.enqueue(conn, [dict(row)], ctx.clock())
        summaries.append(push_until_drained(ctx, name))
        if sync:
            sync_connector(ctx, name)
    return summaries
