"""Find one contact by what a caller knows about it: hub id, email, or a connector's record id."""

from __future__ import annotations

from sqlalchemy import Connection, select

from hub.models import Identity, normalize_email
from hub.store.contacts import resolve_identity_ids
from hub.store.schema import contact_emails, contacts


def contact_exists(conn: Connection, contact_id: int) -> bool:
    return conn.execute(select(contacts.c.id).where(contacts.c.id == contact_id)).first() is not None


def contact_by_email(conn: Connection, email: str) -> int | None:
    norm = normalize_email(email)
    if norm is None:
        return None
    return conn.execute(select(contact_emails.c.contact_id).where(contact_emails.c.email == norm)).scalar()


def contact_by_identity(conn: Connection, identity: Identity) -> int | None:
    return resolve_identity_ids(conn, [identity]).get(identity.key())
