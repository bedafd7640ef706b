"""Pulled Salesforce pages stored as the hub's sync stores them, for tests that judge a cursor
by the store it fills: nothing lost, nothing doubled (a row read twice is upserted twice, which
changes nothing)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from hub.models import Contact, Page
from hub.store import Store
from hub.store import contacts as contact_store
from hub.store.schema import contacts, identities


def store_pages(store: Store, pages: Iterable[Page[Contact]]) -> None:
    for page in pages:
        with store.begin() as db:
            contact_store.upsert_contacts(db, page.items)
            contact_store.remove_identities(db, page.deleted)


def stored(store: Store) -> tuple[dict[str, str | None], int]:
    """Each stored record's job title by its Salesforce Id, and how many contacts there are."""
    with store.connect() as db:
        rows = db.execute(
            select(identities.c.external_id, contacts.c.job_title).join(
                contacts, contacts.c.id == identities.c.contact_id
            )
        ).all()
        count = db.execute(select(func.count()).select_from(contacts)).scalar_one()
    return {r.external_id: r.job_title for r in rows}, count
