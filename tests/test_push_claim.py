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
from tests.push_rows import set_field_rows

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _rows(cid: int, did: int, records: list[str], value: str) -> list[dict]:
    return set_field_rows(cid, did, records, {"next_best_action": value})


def _contact_and_decision(conn) -> tuple[int, int]:  # noqa: ANN001 - a store connection
    """One contact with one decision to queue its pushes under: (contact id, decision id)."""
    upsert_contacts(conn, [Contact(identities=[Identity(connector="crm", external_id="x")])], NOW)
    cid = conn.execute(select(contacts.c.id)).scalar()
    (did,) = insert_decisions(conn, [Decision(contact_id=cid, actions=[], policy="p", policy_version="1")], "k")
    return cid, did


def test_rows_blocked_by_in_flight_siblings_do_not_hide_the_rest(store_url):
    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn:
        cid, did = _contact_and_decision(conn)
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


def test_lanes_hold_disjoint_records_and_every_push_of_a_record_is_in_one_lane(store_url):
    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn:
        cid, did = _contact_and_decision(conn)
        records = [f"r{i}" for i in range(60)]
        lists = [{**r, "kind": "add_to_list", "payload": {"list": "hot"}} for r in _rows(cid, did, records, "x")]
        push_store.enqueue(conn, _rows(cid, did, records, "email") + lists, NOW)
        claimed = [push_store.claim_due(conn, "crm", NOW, 1000, 60, lane=(k, 3)) for k in range(3)]
    lanes_of: dict[str, set[int]] = {}
    for k, rows in enumerate(claimed):
        for r in rows:
            lanes_of.setdefault(r.identity.external_id, set()).add(k)
    assert sum(len(rows) for rows in claimed) == 120  # every push claimed once, by one lane
    assert set(lanes_of) == set(records) and all(len(v) == 1 for v in lanes_of.values())
    assert all(claimed), "60 records spread over every lane"
    store.dispose()


def test_migration_0008_gives_open_pushes_their_bucket(tmp_path):
    from sqlalchemy import insert

    from hub.store.db import make_engine, migrate
    from hub.store.schema import decisions, pushes

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0007")
    with engine.begin() as conn:
        conn.execute(
            insert(contacts).values(
                id=1, created_at=NOW, changed_at=NOW, properties={}, email_opt_out=False, do_not_contact=False
            )
        )
        conn.execute(
            insert(decisions).values(
                id=1,
                contact_id=1,
                request_key="k",
                policy="p",
                policy_version="1",
                propensity=1.0,
                arm="engine",
                explanation="",
                actions=[],
                created_at=NOW,
            )
        )
        for i, state in enumerate(("pending", "sending", "done")):
            conn.execute(
                insert(pushes).values(
                    id=i + 1, decision_id=1, contact_id=1, connector="crm", object_type="contact",
                    external_id=f"rec-{i}", kind="set_fields", payload={}, state=state, attempts=0,
                    next_attempt_at=NOW, created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
    migrate(engine)
    with engine.connect() as conn:
        got = dict(conn.execute(select(pushes.c.external_id, pushes.c.bucket)).all())
    assert got == {"rec-0": push_store.bucket_of("rec-0"), "rec-1": push_store.bucket_of("rec-1"), "rec-2": 0}
    assert got["rec-0"] != 0 or got["rec-1"] != 0, "the hash is not all zero"
    engine.dispose()


def test_a_push_superseded_while_it_is_being_claimed_is_not_sent(pg_url, monkeypatch):
    """A decide that supersedes a pending push between the claim's read and its update (two
    workers on PostgreSQL) had its row put back to ``sending`` by the claim, which then sent
    the stale write beside the new one. The claim's update re-checks that the row is still due."""
    store = Store(pg_url, auto_migrate=True)
    with store.begin() as conn:
        cid, did = _contact_and_decision(conn)
        push_store.enqueue(conn, _rows(cid, did, ["a", "b"], "email"), NOW)
    newest = push_store._newest_intent
    later = NOW + timedelta(seconds=1)

    def decide_meanwhile(conn, connector, page, now):  # noqa: ANN001 - the claim's own arguments
        kept = newest(conn, connector, page, now)
        with store.begin() as other:  # another worker's decide commits a newer write for record a
            push_store.enqueue(other, _rows(cid, did, ["a"], "call"), later)
        return kept

    monkeypatch.setattr(push_store, "_newest_intent", decide_meanwhile)
    with store.begin() as conn:
        claimed = push_store.claim_due(conn, "crm", NOW, 10, 60)
    monkeypatch.undo()
    assert [(r.identity.external_id, r.payload["fields"]["next_best_action"]) for r in claimed] == [("b", "email")]
    with store.begin() as conn:  # the stale row stays superseded; the newer write is the one to send
        again = push_store.claim_due(conn, "crm", later, 10, 60)
    assert [(r.identity.external_id, r.payload["fields"]["next_best_action"]) for r in again] == [("a", "call")]
    store.dispose()


def test_a_push_a_worker_claims_while_a_decide_folds_it_stays_in_flight_and_is_waited_for(pg_url, monkeypatch):
    """The other order of the same race: a decide read a pending push to fold into its newer
    write, a worker claimed that push and committed, and the decide marked it superseded anyway.
    The newer write then no longer waited for it (a superseded row is not in flight), so the stale
    write could land last. Now only rows still pending are folded in; a claimed one is waited for."""
    store = Store(pg_url, auto_migrate=True)
    with store.begin() as conn:
        cid, did = _contact_and_decision(conn)
        push_store.enqueue(conn, _rows(cid, did, ["a"], "email"), NOW)
    fold_key, claimed, once = push_store._fold_key, [], []

    def claim_meanwhile(*key):  # noqa: ANN002 - _fold_key's own arguments
        if not once:  # after the decide read the pending row: a worker takes it (the claim folds keys too)
            once.append(True)
            with store.begin() as other:
                claimed.extend(push_store.claim_due(other, "crm", NOW, 10, 60))
        return fold_key(*key)

    later = NOW + timedelta(seconds=1)
    monkeypatch.setattr(push_store, "_fold_key", claim_meanwhile)
    with store.begin() as conn:
        push_store.enqueue(conn, _rows(cid, did, ["a"], "call"), later)
    monkeypatch.undo()
    assert [r.identity.external_id for r in claimed] == ["a"]
    with store.begin() as conn:
        states = sorted(conn.execute(select(push_store.pushes.c.id, push_store.pushes.c.state)).all())
        waiting = push_store.claim_due(conn, "crm", later, 10, 60)
    assert [s for _, s in states] == ["sending", "pending"]  # the claimed write is still in flight
    assert waiting == []  # the newer write waits for it, so the two land in order
    store.dispose()
