"""The real-time path's store calls: one contact, read and written with prebuilt statements.

The batch functions (``load_contacts``, ``recent_activities``, ``insert_decisions``) build
their statements per call for lists of ids; at hundreds of requests a second for one contact
each, building them costs more than running them. These statements are built once with bind
parameters and return the same models, so the policy cannot tell the paths apart.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Select, bindparam, insert, literal_column, select, text, union_all

from hub.models import Activity, Contact, Decision, Identity, normalize_email
from hub.store.activities import activity_from_row
from hub.store.contacts import _row_to_contact
from hub.store.schema import activities, contact_emails, contacts, decisions, identities

_CONTACT = select(contacts).where(contacts.c.id == bindparam("cid"))
_CONTACT_BY_EMAIL = (
    select(contacts)
    .join(contact_emails, contact_emails.c.contact_id == contacts.c.id)
    .where(contact_emails.c.email == bindparam("email"))
)
_CONTACT_BY_IDENTITY = (
    select(contacts)
    .join(identities, identities.c.contact_id == contacts.c.id)
    .where(
        identities.c.connector == bindparam("connector"),
        identities.c.object_type == bindparam("object_type"),
        identities.c.external_id == bindparam("external_id"),
    )
)
#: a contact's identities (in id order) and emails in one statement: email rows have no
#: ``ord`` and carry the address in ``connector``
_NULL = literal_column("NULL")
_IDENTITIES_AND_EMAILS = union_all(
    select(
        identities.c.id.label("ord"),
        identities.c.connector.label("connector"),
        identities.c.object_type.label("object_type"),
        identities.c.external_id.label("external_id"),
    ).where(identities.c.contact_id == bindparam("cid")),
    select(_NULL, contact_emails.c.email, _NULL, _NULL).where(contact_emails.c.contact_id == bindparam("cid")),
).order_by(literal_column("ord"))
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
    return _load(conn, _CONTACT, {"cid": contact_id})


def load_contact_by_email(conn: Connection, email: str) -> Contact | None:
    """The contact holding ``email`` (normalized as stored), in one statement with its row."""
    norm = normalize_email(email)
    return None if norm is None else _load(conn, _CONTACT_BY_EMAIL, {"email": norm})


def load_contact_by_identity(conn: Connection, ident: Identity) -> Contact | None:
    params = {"connector": ident.connector, "object_type": ident.object_type, "external_id": ident.external_id}
    return _load(conn, _CONTACT_BY_IDENTITY, params)


def _load(conn: Connection, stmt: Select, params: dict[str, object]) -> Contact | None:
    row = conn.execute(stmt, params).first()
    if row is None:
        return None
    idents, emails = [], []
    for r in conn.execute(_IDENTITIES_AND_EMAILS, {"cid": row.id}):
        if r.ord is None:
            emails.append(r.connector)
        else:
            idents.append(Identity(connector=r.connector, object_type=r.object_type, external_id=r.external_id))
    emails.sort(key=lambda e: (e != row.primary_email, e))
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
