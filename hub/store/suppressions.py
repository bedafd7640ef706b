"""The suppression list: people who were forgotten, kept only as one-way hashes.

``hub forget`` deletes a person; without this list the next sync (or an API event) would bring
them back as a new contact, since the CRM record stays. The list holds, per forgotten person,
the SHA-256 of each of their normalized emails and of each CRM record id they had
(``connector/object_type/external_id``), never the values themselves. A pulled record whose
email or record id is on the list is not stored; an event for such an email or record id is
dropped.

Rows of one person share ``person`` (the digest of the email forget was asked for), so
``unsuppress`` with any of their emails lifts every row of that person at once.

A hash of an email is pseudonymous, not anonymous: someone holding the table and a candidate
address can check whether that address was forgotten. It cannot list the addresses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, insert, select

from hub.models import Contact, Identity, normalize_email, utcnow
from hub.store.batch import among
from hub.store.schema import suppressions

_PREFIX = "hub-suppression:v1:"


def email_digest(email: str) -> str | None:
    """The digest of a normalized email, or None if it is not an email address."""
    norm = normalize_email(email)
    if norm is None:
        return None
    return hashlib.sha256(f"{_PREFIX}email:{norm}".encode()).hexdigest()


def identity_digest(identity: Identity) -> str:
    key = f"{identity.connector}/{identity.object_type}/{identity.external_id}"
    return hashlib.sha256(f"{_PREFIX}identity:{key}".encode()).hexdigest()


def digests_of(contact: Contact) -> set[str]:
    """Every digest that would mark this pulled record as a forgotten person's."""
    out = {identity_digest(i) for i in contact.identities}
    out |= {d for d in (email_digest(e) for e in contact.emails) if d}
    return out


def suppress(
    conn: Connection,
    email: str | None,
    emails: Iterable[str] = (),
    identities: Iterable[Identity] = (),
    now: datetime | None = None,
) -> int:
    """Add a person (the email asked for, their other emails, their record ids); returns the
    number of new rows. Idempotent: digests already on the list are left as they are.

    ``email`` None: a person known only by a record id (a CRM's privacy deletion of a record
    with no address); their first record id's digest is then the ``person``."""
    identities = list(identities)
    person = email_digest(email) if email is not None else (identity_digest(identities[0]) if identities else None)
    if person is None:
        raise ValueError("not an email address" if email is not None else "no email and no record id")
    now = now or utcnow()
    wanted: dict[str, str] = {person: "email"}
    for e in emails:
        d = email_digest(e)
        if d:
            wanted.setdefault(d, "email")
    for ident in identities:
        wanted.setdefault(identity_digest(ident), "identity")
    have = set(conn.execute(select(suppressions.c.digest).where(suppressions.c.digest.in_(wanted))).scalars())
    rows = [
        {"digest": d, "kind": kind, "person": person, "created_at": now} for d, kind in wanted.items() if d not in have
    ]
    if rows:
        conn.execute(insert(suppressions), rows)
    return len(rows)


def unsuppress(conn: Connection, email: str) -> int:
    """Lift every row of the person this email belongs to; returns the rows removed."""
    d = email_digest(email)
    if d is None:
        return 0
    people = select(suppressions.c.person).where((suppressions.c.digest == d) | (suppressions.c.person == d))
    return conn.execute(delete(suppressions).where(suppressions.c.person.in_(people))).rowcount


def suppressed(conn: Connection, digests: Sequence[str] | set[str]) -> set[str]:
    """Which of ``digests`` are on the list."""
    if not digests:
        return set()
    return set(conn.execute(select(suppressions.c.digest).where(among(conn, suppressions.c.digest, digests))).scalars())


_ANY = select(suppressions.c.id).where(suppressions.c.digest.in_(bindparam("digests", expanding=True))).limit(1)


def is_suppressed(conn: Connection, email: str | None = None, identity: Identity | None = None) -> bool:
    """Whether this email or record id is a forgotten person's (one prebuilt statement: the
    events API asks on every request)."""
    wanted = [d for d in (email_digest(email) if email else None, identity_digest(identity) if identity else None) if d]
    return bool(wanted) and conn.execute(_ANY, {"digests": wanted}).first() is not None


def counts(conn: Connection) -> dict[str, int]:
    """People, email digests and record-id digests on the list (numbers only: no PII)."""
    by_kind = dict(conn.execute(select(suppressions.c.kind, func.count()).group_by(suppressions.c.kind)).all())
    people = conn.execute(select(func.count(func.distinct(suppressions.c.person)))).scalar() or 0
    return {"people": people, "emails": by_kind.get("email", 0), "record_ids": by_kind.get("identity", 0)}
