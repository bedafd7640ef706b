"""Folding one contact into another when the CRM says two records are one person.

A Salesforce lead converted into a contact with a different email, or a HubSpot merge, arrives
as an :class:`~hub.models.IdentityMove`. Matching by email cannot join those, and dropping the
old identity would delete the old contact with its history. Instead the old contact's
activities, decisions (with their outcomes and pushes), approvals, emails, identities and
stitched anonymous events move to the surviving contact, its profile is rebuilt from the
merged activities, and the old contact row goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, tuple_, update

from hub.models import Identity, IdentityMove
from hub.store.activities import rebuild_profile
from hub.store.contacts import UpsertResult, refresh_contacts, remove_identities
from hub.store.schema import (
    activities,
    anonymous_events,
    approvals,
    contact_emails,
    contact_profiles,
    contacts,
    decisions,
    identities,
    pushes,
)

#: every table whose rows belong to a contact and follow it into the surviving one
_OWNED = (activities, decisions, pushes, approvals, contact_emails, identities, anonymous_events)


def _contact_of(conn: Connection, ident: Identity) -> int | None:
    return conn.execute(
        select(identities.c.contact_id).where(
            tuple_(identities.c.connector, identities.c.object_type, identities.c.external_id) == ident.key()
        )
    ).scalar()


def merge_contacts(conn: Connection, keep: int, drop: int, now: datetime) -> None:
    """Move everything of contact ``drop`` onto ``keep``, then delete ``drop``."""
    # both may hold a decision of the same batch (request key): keep both, told apart
    clash = select(decisions.c.request_key).where(decisions.c.contact_id == keep).scalar_subquery()
    conn.execute(
        update(decisions)
        .where(decisions.c.contact_id == drop, decisions.c.request_key.in_(clash))
        .values(request_key=func.substr(decisions.c.request_key, 1, 90) + f"~merged-{drop}")
    )
    for table in _OWNED:
        conn.execute(update(table).where(table.c.contact_id == drop).values(contact_id=keep))
    conn.execute(delete(contact_profiles).where(contact_profiles.c.contact_id == drop))
    conn.execute(delete(contacts).where(contacts.c.id == drop))
    rebuild_profile(conn, keep, now)
    refresh_contacts(conn, [keep], now)


def move_identities(conn: Connection, moves: Sequence[IdentityMove], now: datetime) -> UpsertResult:
    """Apply the moves of one page. A target the store does not hold (its object is not
    synced) leaves nothing to fold into: the source identity is removed as a deletion."""
    result = UpsertResult()
    for m in moves:
        source, target = _contact_of(conn, m.source), _contact_of(conn, m.target)
        if source is None:
            continue  # never stored, or moved already (a page read twice)
        if target is None:
            gone = remove_identities(conn, [m.source], now)
            result.deleted += gone.deleted
            result.changed |= gone.changed
            continue
        if source != target:
            merge_contacts(conn, target, source, now)
            result.updated += 1
        gone = remove_identities(conn, [m.source], now)
        result.changed |= gone.changed | {target}
    return result
