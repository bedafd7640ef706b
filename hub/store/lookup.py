"""Find one contact by what a caller knows about it: hub id, email, or a connector's record id.

Statements are built once with bind parameters: these run on every real-time request.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from hub.models import Identity, normalize_email
from hub.store.schema import contact_emails, contacts, identities

_BY_ID = select(contacts.c.id).where(contacts.c.id == bindparam("cid"))
_BY_EMAIL = select(contact_emails.c.contact_id).where(contact_emails.c.email == bindparam("email"))
_BY_IDENTITY = select(identities.c.contact_id).where(
    identities.c.connector == bindparam("connector"),
    identities.c.object_type == bindparam("object_type"),
    identities.c.external_id == bindparam("external_id"),
)


def contact_exists(conn: Connection, contact_id: int) -> bool:
    return conn.execute(_BY_ID, {"cid": contact_id}).first() is not None


def contact_by_email(conn: Connection, email: str) -> int | None:
    norm = normalize_email(email)
    if norm is None:
        return None
    return conn.execute(_BY_EMAIL, {"email": norm}).scalar()


def contact_by_identity(conn: Connection, identity: Identity) -> int | None:
    params = {"connector": identity.connector, "object_type": identity.object_type, "external_id": identity.external_id}
    return conn.execute(_BY_IDENTITY, params).scalar()
