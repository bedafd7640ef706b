"""Claiming due pushes looks past rows that wait on an in-flight sibling (a worker died mid
batch and its lease has not run out), instead of reporting nothing due while thousands are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub.models import Contact, Decision, Identity
from hub.store import Store
from hub.store import pushes as push_store
from hub.store.contacts import upsert_contacts
from hub.store.decisions import insert_decisions
from hub.store.schema import contacts

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _rows(cid: int, did: int, records: list[str], value: str) -> list[dict]:
    return [
        {
            "decision_id": did,
            "contact_id": cid,
            "connector": "crm",
            "object_type": "contact",
            "external_id": r,
            "kind": "set_fields",
            "payload": {"fields": {"next_best_action": value}},
        }
        for r in records
    ]


def test_rows_blocked_by_in_flight_siblings_do_not_hide_the_rest(store_url):
    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn:
        upsert_contacts(conn, [Contact(identities=[Identity(connector="crm", external_id="x")])], NOW)
        cid = conn.execute(select(contacts.c.id)).scalar()
        (did,) = insert_decisions(conn, [Decision(contact_id=cid, actions=[], policy="p", policy_version="1")], "k")
        push_store.enqueue(conn, _rows(cid, did, ["a", "b"], "email"), NOW)
        first = push_store.claim_due(conn, "crm", NOW, 2, 60)  # in flight; then the worker dies
        assert sorted(r.identity.external_id for r in first) == ["a", "b"]
        later = NOW + timedelta(seconds=5)
        push_store.enqueue(conn, _rows(cid, did, ["a", "b"], "call") + _rows(cid, did, ["c"], "email"), later)
        claimed = push_store.claim_due(conn, "crm", later, 2, 60)
        # a and b wait for their in-flight writes (order per record); c is not held up by them
        assert [r.identity.external_id for r in claimed] == ["c"]
        after_lease = NOW + timedelta(seconds=61)
        again = push_store.claim_due(conn, "crm", after_lease, 10, 60)
        # the dead batch's lease ran out: its rows are stale now (newer intents exist), the new ones go
        assert sorted((r.identity.external_id, r.payload["fields"]["next_best_action"]) for r in again) == [
            ("a", "call"),
            ("b", "call"),
        ]
    store.dispose()
