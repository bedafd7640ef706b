"""Folding one contact into another when the CRM says two records are one person.

A Salesforce lead converted into a contact with a different email, or a HubSpot merge, arrives
as an :class:`~hub.models.IdentityMove`. Matching by email cannot join those, and dropping the
old identity would delete the old contact with its history. Instead the old contact's
activities, decisions (with their outcomes and pushes), approvals, emails, identities and
stitched anonymous events move to the surviving contact, its profile is rebuilt from the
merged activities, and the old contact row goes.

Consent survives the fold: an opt-out or do-not-contact said through the record merged away (or
held by the contact that goes) is kept in the surviving contact's ``consent_hold``, which every
re-merge of its flags ORs in (hub/store/contacts.py), so the survivor's own "yes" cannot undo
the person's "no".
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

CONSENT_FLAGS = ("email_opt_out", "do_not_contact")
#: every table whose rows belong to a contact and follow it into the surviving one
_OWNED = (activities, decisions, pushes, approvals, contact_emails, identities, anonymous_events)


def _contact_of(conn: Connection, ident: Identity) -> int | None:
    return conn.execute(
        select(identities.c.contact_id).where(
            tuple_(identities.c.connector, identities.c.object_type, identities.c.external_id) == ident.key()
        )
    ).scalar()


def _hold(conn: Connection, contact_id: int, said: dict | None) -> None:
    """Keep the opt-outs in ``said`` on the contact, beside those it holds already."""
    said = {k: True for k in CONSENT_FLAGS if (said or {}).get(k)}
    if not said:
        return
    held = conn.execute(select(contacts.c.consent_hold).where(contacts.c.id == contact_id)).scalar() or {}
    if all(held.get(k) for k in said):
        return
    conn.execute(update(contacts).where(contacts.c.id == contact_id).values(consent_hold={**held, **said}))


def _record_consent(conn: Connection, ident: Identity) -> dict:
    """The consent flags the stored record of ``ident`` says."""
    rec = conn.execute(
        select(identities.c.record).where(
            tuple_(identities.c.connector, identities.c.object_type, identities.c.external_id) == ident.key()
        )
    ).scalar()
    return (rec or {}).get("consent") or {}


def merge_contacts(conn: Connection, keep: int, drop: int, now: datetime) -> None:
    """Move everything of contact ``drop`` onto ``keep``, then delete ``drop``."""
    # its records move along and keep saying what they say; what it held of records gone stays held
    _hold(conn, keep, conn.execute(select(contacts.c.consent_hold).where(contacts.c.id == drop)).scalar())
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
        _hold(conn, target, _record_consent(conn, m.source))  # the record goes; a "no" it said stays
        gone = remove_identities(conn, [m.source], now)
        result.changed |= gone.changed | {target}
    return result
