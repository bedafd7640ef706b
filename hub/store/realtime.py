"""The real-time path's store calls: one contact, read and written with prebuilt statements.

The batch functions (``load_contacts``, ``recent_activities``, ``insert_decisions``) build
their statements per call for lists of ids; at hundreds of requests a second for one contact
each, building them costs more than running them. These statements are built once with bind
parameters and return the same models, so the policy cannot tell the paths apart.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, text

from hub.models import Activity, Contact, Decision, Identity
from hub.store.activities import activity_from_row
from hub.store.contacts import _row_to_contact
from hub.store.schema import activities, contact_emails, contacts, decisions, identities

_CONTACT = select(contacts).where(contacts.c.id == bindparam("cid"))
_IDENTITIES = (
    select(identities.c.connector, identities.c.object_type, identities.c.external_id)
    .where(identities.c.contact_id == bindparam("cid"))
    .order_by(identities.c.id)
)
_EMAILS = select(contact_emails.c.email).where(contact_emails.c.contact_id == bindparam("cid"))
_ACTIVITIES = (
    select(activities)
    .where(activities.c.contact_id == bindparam("cid"), activities.c.occurred_at >= bindparam("since"))
    .order_by(activities.c.occurred_at)
)
_INSERT_DECISION = insert(decisions)
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")


def relax_commit(conn: Connection) -> None:
    """On PostgreSQL, do not wait for this transaction's WAL flush.

    A real-time decision has been answered by the time it commits; a crash in the next few
    hundred milliseconds may lose its log row, never corrupt anything. Waiting for the
    flush would put a disk sync in every request.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(_ASYNC_COMMIT)


def load_contact(conn: Connection, contact_id: int) -> Contact | None:
    """The same Contact ``load_contacts`` gives for one id, or None if there is none."""
    row = conn.execute(_CONTACT, {"cid": contact_id}).first()
    if row is None:
        return None
    idents = [
        Identity(connector=r.connector, object_type=r.object_type, external_id=r.external_id)
        for r in conn.execute(_IDENTITIES, {"cid": contact_id})
    ]
    emails = sorted(conn.execute(_EMAILS, {"cid": contact_id}).scalars(), key=lambda e: (e != row.primary_email, e))
    return _row_to_contact(row, idents, emails)


def activities_since(conn: Connection, contact_id: int, since: datetime) -> list[Activity]:
    return [activity_from_row(r) for r in conn.execute(_ACTIVITIES, {"cid": contact_id, "since": since})]


def insert_decision(conn: Connection, d: Decision, request_key: str) -> int:
    """Insert one decision and return its id (one statement: RETURNING or lastrowid)."""
    result = conn.execute(
        _INSERT_DECISION,
        {
            "contact_id": d.contact_id,
            "request_key": request_key,
            "policy": d.policy,
            "policy_version": d.policy_version,
            "propensity": d.propensity,
            "arm": d.arm,
            "explanation": d.explanation,
            "actions": [a.model_dump(mode="json") for a in d.actions],
            "created_at": d.created_at,
        },
    )
    return int(result.inserted_primary_key[0])
