"""Read queries behind the console's overview, failed-push groups and decision search.

Each is one grouped or keyset-paged query, so a console page costs a few queries whatever the
store's size (no per-row follow-ups).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from hub.store.contacts import aware
from hub.store.schema import (
    approvals,
    contact_emails,
    contacts,
    decision_features,
    decisions,
    held_activities,
    identities,
    pushes,
    suppressions,
)


def _day(v: Any) -> date:
    """SQLite's date() gives text, PostgreSQL's a date."""
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


def forgotten_and_held(conn: Connection) -> tuple[int, int]:
    """People on the suppression list and activities held for a contact not synced yet, in one
    statement (what `hub status` reads with suppressions.counts and held.count)."""
    people = select(func.count(func.distinct(suppressions.c.person))).scalar_subquery()
    held = select(func.count()).select_from(held_activities).scalar_subquery()
    forgotten, waiting = conn.execute(select(people, held)).one()
    return int(forgotten or 0), int(waiting or 0)


def decisions_per_day(conn: Connection, since: datetime) -> list[tuple[date, str, int]]:
    """(day, arm, decisions) from ``since`` on, oldest first."""
    day = func.date(decisions.c.created_at)
    q = (
        select(day.label("day"), decisions.c.arm, func.count())
        .where(decisions.c.created_at >= since)
        .group_by(day, decisions.c.arm)
        .order_by(day)
    )
    return [(_day(d), arm, n) for d, arm, n in conn.execute(q)]


def pushes_finished_per_day(conn: Connection, since: datetime) -> list[tuple[date, str, int]]:
    """(day, state, pushes) for pushes that ended done or failed since ``since`` (by their last update)."""
    day = func.date(pushes.c.updated_at)
    q = (
        select(day.label("day"), pushes.c.state, func.count())
        .where(pushes.c.updated_at >= since, pushes.c.state.in_(("done", "failed")))
        .group_by(day, pushes.c.state)
        .order_by(day)
    )
    return [(_day(d), s, n) for d, s, n in conn.execute(q)]


@dataclass(frozen=True)
class FailedErrorRow:
    connector: str
    kind: str
    last_error: str | None
    count: int
    newest_id: int
    newest_at: datetime


def failed_by_error(conn: Connection) -> list[FailedErrorRow]:
    """Failed pushes counted per (connector, kind, exact error text)."""
    q = select(
        pushes.c.connector,
        pushes.c.kind,
        pushes.c.last_error,
        func.count(),
        func.max(pushes.c.id),
        func.max(pushes.c.updated_at),
    ).where(pushes.c.state == "failed")
    q = q.group_by(pushes.c.connector, pushes.c.kind, pushes.c.last_error)
    return [FailedErrorRow(c, k, e, n, i, aware(at)) for c, k, e, n, i, at in conn.execute(q)]


def failed_ids(conn: Connection, connector: str, kind: str, errors: Sequence[str | None]) -> list[int]:
    """Ids of failed pushes of ``connector``/``kind`` whose error text is one of ``errors``."""
    texts = [e for e in errors if e is not None]
    cond = [pushes.c.last_error.in_(texts)] if texts else []
    if None in errors:
        cond.append(pushes.c.last_error.is_(None))
    if not cond:
        return []
    q = select(pushes.c.id).where(
        pushes.c.state == "failed", pushes.c.connector == connector, pushes.c.kind == kind, or_(*cond)
    )
    return list(conn.execute(q.order_by(pushes.c.id)).scalars())


def failed_pushes(conn: Connection, ids: Sequence[int]) -> list[Any]:
    """The failed push rows among ``ids`` with their contact's email, newest first."""
    if not ids:
        return []
    q = (
        select(pushes, contacts.c.primary_email)
        .join(contacts, contacts.c.id == pushes.c.contact_id)
        .where(pushes.c.id.in_(list(ids)), pushes.c.state == "failed")
        .order_by(pushes.c.id.desc())
    )
    return list(conn.execute(q))


#: what `hub decisions` and the console's Decisions page say before anything is decided
NO_DECISIONS = "No decisions yet: hub run --once decides for every contact in the store (or hub decide)."


def unknown_contact(ref: str) -> str:
    """What `hub decide --contact`, `hub decisions` and the console's search say of a contact
    :func:`contacts_matching` does not find."""
    return (
        f"No contact has the e-mail, record id or contact id {ref!r}: "
        "check it, or bring the person in first (hub sync, hub import contacts)."
    )


def contacts_matching(conn: Connection, text: str) -> list[int]:
    """Contact ids whose e-mail (any of theirs), CRM record id or store id is ``text``.

    A record id names its own contact only: record ``00002`` or HubSpot's ``1086`` is not also
    whichever stranger has that store id (`hub decide --contact` would decide for both). A store
    id counts where no record has the id, written as the hub shows it (no leading zeros).
    """
    text = text.strip()
    if not text:
        return []
    if "@" in text:
        q = select(contact_emails.c.contact_id).where(contact_emails.c.email == text.lower())
        q = q.union(select(contacts.c.id).where(func.lower(contacts.c.primary_email) == text.lower()))
        return sorted(set(conn.execute(q).scalars()))
    found = set(conn.execute(select(identities.c.contact_id).where(identities.c.external_id == text)).scalars())
    if not found and re.fullmatch(r"[1-9][0-9]{0,17}", text):  # ASCII digits ("²" is one to str.isdigit)
        found = set(conn.execute(select(contacts.c.id).where(contacts.c.id == int(text))).scalars())
    return sorted(found)


def decision_detail(conn: Connection, decision_id: int) -> dict[str, Any] | None:
    """One decision with its contact's email, its learning log row, its pushes and approvals."""
    row = conn.execute(
        select(decisions, contacts.c.primary_email)
        .join(contacts, contacts.c.id == decisions.c.contact_id)
        .where(decisions.c.id == decision_id)
    ).first()
    if row is None:
        return None
    log = conn.execute(select(decision_features).where(decision_features.c.decision_id == decision_id)).first()
    held = conn.execute(select(approvals).where(approvals.c.decision_id == decision_id)).all()
    sent = conn.execute(select(pushes).where(pushes.c.decision_id == decision_id).order_by(pushes.c.id)).all()
    return {"decision": row, "log": log, "approvals": held, "pushes": sent}


def explanations(conn: Connection, decision_ids: Sequence[int]) -> dict[int, str]:
    """Each decision's explanation (why it was decided), by id."""
    if not decision_ids:
        return {}
    q = select(decisions.c.id, decisions.c.explanation).where(decisions.c.id.in_(sorted(set(decision_ids))))
    return {i: text for i, text in conn.execute(q)}
