"""Identity resolution, idempotent upserts, echoes, deletes and cursors, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from hub.models import Activity, ActivityType, Company, Contact, Identity, Page
from hub.store import Store, sync_state
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store.schema import contacts, identities


def person(conn: str, ext: str, email: str | None, **kw) -> Contact:
    return Contact(identities=[Identity(connector=conn, external_id=ext)], emails=[email] if email else [], **kw)


@pytest.fixture
def store(store_url):
    s = Store(store_url, auto_migrate=True)
    yield s
    s.dispose()


def count(store: Store, table) -> int:
    with store.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_same_person_in_two_connectors_is_one_contact_with_two_identities(store):
    with store.begin() as conn:
        a = contact_store.upsert_contacts(conn, [person("hubspot", "101", "Ada@Example.com ", first_name="Ada")])
        b = contact_store.upsert_contacts(
            conn, [person("salesforce", "003X", "  ada@example.COM", last_name="Lovelace")]
        )
    assert a.created == 1 and b.created == 0
    assert a.changed == b.changed
    with store.connect() as conn:
        [c] = contact_store.load_contacts(conn, a.changed)
    assert {i.connector for i in c.identities} == {"hubspot", "salesforce"}
    assert c.name == "Ada Lovelace"
    assert c.primary_email == "ada@example.com"
    assert count(store, contacts) == 1


def test_external_id_wins_over_a_changed_email(store):
    with store.begin() as conn:
        first = contact_store.upsert_contacts(conn, [person("crm", "1", "old@example.com")])
        second = contact_store.upsert_contacts(conn, [person("crm", "1", "new@example.com")])
    assert first.changed == second.changed
    with store.connect() as conn:
        [c] = contact_store.load_contacts(conn, first.changed)
    assert "new@example.com" in c.emails


def test_resync_of_the_same_page_changes_nothing(store):
    page = [person("crm", str(i), f"p{i}@example.com", company=Company(industry="Retail")) for i in range(30)]
    with store.begin() as conn:
        first = contact_store.upsert_contacts(conn, page)
    with store.begin() as conn:
        again = contact_store.upsert_contacts(conn, page)
    assert first.created == 30 and len(first.changed) == 30
    assert again.changed == set() and again.unchanged == 30 and again.created == 0
    assert count(store, contacts) == 30 and count(store, identities) == 30


def test_echo_of_hub_written_fields_is_not_a_change(store):
    base = person("crm", "7", "echo@example.com", lifecycle_stage="lead")
    with store.begin() as conn:
        contact_store.upsert_contacts(conn, [base])
    echoed = base.model_copy(update={"crm_fields": {"next_best_action": "x"}, "lists": ["sales-ready"]})
    real = base.model_copy(update={"lifecycle_stage": "mql"})
    with store.begin() as conn:
        assert contact_store.upsert_contacts(conn, [echoed]).changed == set()
        assert len(contact_store.upsert_contacts(conn, [real]).changed) == 1


def test_duplicate_record_within_one_page_is_stored_once(store):
    with store.begin() as conn:
        res = contact_store.upsert_contacts(
            conn,
            [person("crm", "1", "a@example.com", first_name="A"), person("crm", "1", "a@example.com", first_name="B")],
        )
    assert res.created == 1
    with store.connect() as conn:
        [c] = contact_store.load_contacts(conn, res.changed)
    assert c.first_name == "B"


def test_opt_out_in_any_connector_wins(store):
    from hub.models import Consent

    with store.begin() as conn:
        contact_store.upsert_contacts(conn, [person("a", "1", "x@example.com")])
        res = contact_store.upsert_contacts(
            conn, [person("b", "9", "X@example.com", consent=Consent(email_opt_out=True))]
        )
    with store.connect() as conn:
        [c] = contact_store.load_contacts(conn, res.changed)
    assert c.consent.email_opt_out is True


def test_archived_record_leaves_no_ghost(store):
    with store.begin() as conn:
        res = contact_store.upsert_contacts(
            conn, [person("crm", "1", "gone@example.com"), person("crm", "2", "stay@example.com")]
        )
        activity_store.insert_activities(
            conn,
            [
                Activity(
                    contact_ref=Identity(connector="crm", external_id="1"),
                    type=ActivityType.PAGE_VIEW,
                    occurred_at=datetime.now(UTC),
                    source="crm",
                    external_id="a1",
                )
            ],
        )
        gone = contact_store.remove_identities(conn, [Identity(connector="crm", external_id="1")])
    assert gone.deleted == 1
    assert count(store, contacts) == 1
    with store.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(contact_store.contact_emails)
                .where(contact_store.contact_emails.c.email == "gone@example.com")
            ).scalar()
            == 0
        )
    assert len(res.changed) == 2


def test_activities_are_idempotent_and_unknown_contacts_are_rejected_by_id(store):
    with store.begin() as conn:
        contact_store.upsert_contacts(conn, [person("crm", "1", "a@example.com")])
    now = datetime.now(UTC)
    acts = [
        Activity(
            contact_ref=Identity(connector="crm", external_id="1"),
            type=ActivityType.EMAIL_OPEN,
            occurred_at=now,
            source="crm",
            external_id="e1",
        ),
        Activity(
            contact_ref=Identity(connector="crm", external_id="404"),
            type=ActivityType.EMAIL_OPEN,
            occurred_at=now,
            source="crm",
            external_id="e2",
        ),
    ]
    with store.begin() as conn:
        first = activity_store.insert_activities(conn, acts)
    with store.begin() as conn:
        second = activity_store.insert_activities(conn, acts)
    assert first.inserted == 1 and [r.external_id for r in first.rejects] == ["e2"]
    assert second.inserted == 0 and second.duplicates == 1


def test_cursor_commits_with_its_page_or_not_at_all(store):
    with store.begin() as conn:
        contact_store.upsert_contacts(conn, [person("crm", "1", "a@example.com")])
        sync_state.advance_cursor(conn, "crm", "contacts", "10", 1, 0)
    with pytest.raises(RuntimeError), store.begin() as conn:
        contact_store.upsert_contacts(conn, [person("crm", "2", "b@example.com")])
        sync_state.advance_cursor(conn, "crm", "contacts", "20", 1, 0)
        raise RuntimeError("worker died before commit")
    with store.connect() as conn:
        assert sync_state.get_cursor(conn, "crm", "contacts") == "10"
    assert count(store, contacts) == 1


def test_page_model_carries_rejects():
    page = Page[Contact](items=[], cursor="5")
    assert page.cursor == "5" and page.rejects == []


def test_owner_we_pushed_is_an_echo_but_a_reassignment_is_a_change(store):
    from hub.models import ActionKind
    from hub.store import pushes as push_store

    base = person("crm", "9", "own@example.com", owner="u1")
    with store.begin() as conn:
        contact_store.upsert_contacts(conn, [base])
        row = push_store.crm_state(conn, base.identities)[base.identities[0].key()]
        push_store.apply_to_identity(conn, base.identities[0], ActionKind.ASSIGN_OWNER, {"owner": "u2"}, row)
        assert contact_store.upsert_contacts(conn, [base.model_copy(update={"owner": "u2"})]).changed == set()
        assert len(contact_store.upsert_contacts(conn, [base.model_copy(update={"owner": "u3"})]).changed) == 1


def test_json_columns_round_trip_through_the_store_codec(store):
    """The store writes JSON with orjson (hub/store/db.py): an integer past 64 bits (json.dumps's
    fallback) comes back from both stores; numpy scalars and integer keys encode."""
    import numpy as np

    from hub.store.codec import dumps_json

    props = {"score": 0.25, "rank": 3, "big": 2**70, "nested": [1.5, None, "é"]}
    with store.begin() as conn:
        contact_store.upsert_contacts(conn, [person("hubspot", "j1", "j@example.com", properties=props)])
    with store.connect() as conn:
        got = conn.execute(select(contacts.c.properties)).scalar_one()
    assert got == {"score": 0.25, "rank": 3, "big": 2**70, "nested": [1.5, None, "é"]}
    assert type(got["big"]) is int
    assert dumps_json({7: "seven", "v": np.float32(0.5), "n": np.int64(3)}) == '{"7":"seven","v":0.5,"n":3}'
    with pytest.raises(TypeError):
        dumps_json({"when": object()})


def test_an_activity_time_with_an_offset_is_stored_as_the_same_instant(store_url):
    """A plugin connector may hand a time with a non-UTC offset; SQLite keeps only the wall
    clock of what it is given, so it must be given UTC."""
    from datetime import UTC, datetime, timedelta, timezone

    from hub.models import Activity, Contact, Identity
    from hub.store import Store
    from hub.store.activities import insert_activities
    from hub.store.contacts import aware, upsert_contacts
    from hub.store.schema import activities

    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn:
        (cid,) = upsert_contacts(conn, [Contact(identities=[Identity(connector="crm", external_id="tz")])]).changed
        at = datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=2)))
        insert_activities(
            conn, [Activity(contact_id=cid, type="email_click", occurred_at=at, source="crm", external_id="tz1")]
        )
    with store.connect() as conn:
        stored = conn.execute(select(activities.c.occurred_at).where(activities.c.external_id == "tz1")).scalar()
    assert aware(stored) == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    store.dispose()


def test_a_store_a_newer_release_migrated_says_so(tmp_path):
    """An old CLI on a store a newer worker migrated: alembic's traceback on SQLite, and "run
    `hub migrate`" on PostgreSQL, which cannot help."""
    from sqlalchemy import text

    from hub.errors import StoreError

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = Store(url)
    with store.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    store.dispose()
    for auto in (True, False):
        with pytest.raises(StoreError, match="schema 0099_future, newer than this hub knows"):
            Store(url, auto_migrate=auto)


def test_a_read_only_command_on_a_missing_sqlite_file_does_not_create_one(tmp_path):
    from hub.errors import StoreError

    missing = tmp_path / "dmeo.db"
    with pytest.raises(StoreError, match="no store at"):
        Store(f"sqlite:///{missing}", must_exist=True)
    assert not missing.exists()
    Store(f"sqlite:///{missing}").dispose()  # a run creates it
    Store(f"sqlite:///{missing}", must_exist=True).dispose()


def test_a_bulk_page_of_25000_records_is_stored_read_and_removed_on_postgresql(pg_url):
    """A Salesforce Bulk page is up to 50,000 records; psycopg binds at most 65,535 parameters per
    statement, so a lookup by (connector, object_type, external_id) must not bind three per record."""
    from hub.models import LiveSet
    from hub.store.pushes import crm_state

    n = 25_000
    page = [
        Contact(
            identities=[Identity(connector="sf", object_type="lead", external_id=f"00Q{i:012d}")],
            emails=[f"p{i}@x.example"],
        )
        for i in range(n)
    ]
    refs = [c.identities[0] for c in page]
    store = Store(pg_url, auto_migrate=True)
    try:
        with store.begin() as conn:
            first = contact_store.upsert_contacts(conn, page)
            released = activity_store.release_held(conn, page)  # what a sync does next
            ids = contact_store.resolve_identity_ids(conn, refs)
            state = crm_state(conn, refs)
            gone = contact_store.reconcile_identities(
                conn, LiveSet(connector="sf", object_type="lead", external_ids=[])
            )
        assert first.created == n and not first.rejects and released.inserted == 0
        assert len(ids) == len(state) == n and set(ids.values()) == first.changed
        assert gone.deleted == n and count(store, identities) == count(store, contacts) == 0
    finally:
        store.dispose()


def test_a_page_of_33000_activities_is_looked_up_on_postgresql(pg_url):
    """Two key columns per activity: past 32,767 activities the plain tuple IN binds too many."""
    n = 33_000
    when = datetime(2026, 1, 6, tzinfo=UTC)
    page = [
        Activity(
            contact_ref=Identity(connector="sf", object_type="lead", external_id=f"00Q{i:012d}"),
            type=ActivityType.EMAIL_OPEN,
            occurred_at=when,
            source="sf",
            external_id=f"00T{i:012d}",
        )
        for i in range(n)
    ]
    store = Store(pg_url, auto_migrate=True)
    try:
        with store.begin() as conn:
            res = activity_store.insert_activities(conn, page)  # no contact is stored: all rejected
    finally:
        store.dispose()
    assert (res.inserted, len(res.rejects)) == (0, n)


@pytest.mark.parametrize(
    ("newer", "older"),
    [
        # 23:30-05:00 is 04:30Z the next day: 3.5 h after 01:00Z, though its text sorts first
        (datetime(2026, 1, 5, 23, 30, tzinfo=timezone(timedelta(hours=-5))), datetime(2026, 1, 6, 1, 0, tzinfo=UTC)),
        # half a second later, though "…00.500000Z" sorts before "…00Z" as text
        (datetime(2026, 1, 6, 12, 0, 0, 500000, tzinfo=UTC), datetime(2026, 1, 6, 12, 0, 0, tzinfo=UTC)),
    ],
)
def test_the_record_updated_last_by_the_clock_wins_the_merge(store, newer, older):
    a = person("a", "1", "Foo@X.com", job_title="CTO (newest)", updated_at=newer)
    b = person("b", "1", "foo@x.com", job_title="Engineer (older)", updated_at=older)
    with store.begin() as conn:
        contact_store.upsert_contacts(conn, [a])
        (cid,) = contact_store.upsert_contacts(conn, [b]).changed
        [merged] = contact_store.load_contacts(conn, [cid])
        stored = conn.execute(select(contacts.c.updated_at)).scalar()
    assert count(store, contacts) == 1
    assert merged.job_title == "CTO (newest)"
    assert merged.updated_at == contact_store.aware(stored) == newer


def test_a_credit_step_of_33000_outcomes_is_checked_for_doubles_on_postgresql(pg_url):
    """Two key columns per outcome: past 32,767 rows the plain tuple IN that looks for outcomes
    already written bound too many parameters (an OperationalError on every learn step). Now the
    lookup binds one array per column and the insert goes on to the store's own checks: here
    the foreign key, since these rows name no stored decision."""
    from sqlalchemy.exc import IntegrityError

    from hub.store.decisions import insert_outcomes

    rows = [
        {"decision_id": i, "activity_id": i, "reward": {}, "created_at": datetime(2026, 1, 6, tzinfo=UTC)}
        for i in range(1, 33_001)
    ]
    store = Store(pg_url, auto_migrate=True)
    try:
        with pytest.raises(IntegrityError), store.begin() as conn:
            insert_outcomes(conn, rows)
    finally:
        store.dispose()


def _opportunities(store: Store) -> list[tuple[str, str, dict]]:
    from hub.store.schema import activities

    with store.connect() as conn:
        rows = conn.execute(
            select(activities.c.type, activities.c.external_id, activities.c.properties)
            .where(activities.c.type.like("opportunity%"))
            .order_by(activities.c.occurred_at, activities.c.type)
        ).all()
    return [(t, e, p) for t, e, p in rows]


def _opp(kind: ActivityType, ext: str, at: datetime, source: str = "crm", **props) -> Activity:
    return Activity(
        contact_ref=Identity(connector="crm", external_id="1"),
        type=kind,
        occurred_at=at,
        properties=props,
        source=source,
        external_id=ext,
    )


def test_a_closed_opportunity_without_its_opening_is_an_opportunity(store):
    """HubSpot and Salesforce give every deal an `opportunity_created`; a file, Segment or a
    warehouse often has only the won or lost rows. A won deal is an opportunity: each closing
    with no opening before it gets one, so the profile, pipeline and reward count it."""
    from hub.store.schema import contact_profiles

    with store.begin() as conn:
        contact_store.upsert_contacts(conn, [person("crm", "1", "a@example.com")])
    t = datetime(2026, 3, 1, 12, tzinfo=UTC)
    with store.begin() as conn:  # a CRM's deal: its opening comes with it, nothing is added
        res = activity_store.insert_activities(
            conn,
            [
                _opp(ActivityType.OPPORTUNITY_CREATED, "deals:1:created", t, amount=10.0),
                _opp(ActivityType.OPPORTUNITY_WON, "deals:1:closed", t + timedelta(days=9), amount=10.0),
            ],
        )
    assert res.inserted == 2 and res.implied == 0
    won = [
        _opp(ActivityType.OPPORTUNITY_WON, "w2", t + timedelta(days=20), source="import", amount=500),
        _opp(ActivityType.OPPORTUNITY_LOST, "l3", t + timedelta(days=21), source="import", amount=70),
    ]
    with store.begin() as conn:
        res = activity_store.insert_activities(conn, won)
    assert res.inserted == 2 and res.implied == 2 and len(res.new_ids) == 4  # the openings are owed credit too
    assert _opportunities(store)[2:] == [
        ("opportunity_created", "w2:opened", {"amount": 500, "implied_by": "w2"}),
        ("opportunity_won", "w2", {"amount": 500}),
        ("opportunity_created", "l3:opened", {"amount": 70, "implied_by": "l3"}),
        ("opportunity_lost", "l3", {"amount": 70}),
    ]
    with store.begin() as conn:  # the same rows again: nothing new, no second opening
        again = activity_store.insert_activities(conn, won)
    assert again.inserted == 0 and again.implied == 0 and len(_opportunities(store)) == 6
    with store.connect() as conn:
        profile = conn.execute(select(contact_profiles.c.profile)).scalar_one()
    assert profile["total"]["opportunity_created"] == 3
    assert profile["total"]["opportunity_won"] + profile["total"]["opportunity_lost"] == 3


def test_profiles_of_a_page_of_activities_are_written_in_a_few_statements(store):
    """Each contact's profile was written by its own UPDATE or INSERT: an import of 20,000
    events for 6,000 people ran 6,000 statements (a fifth of its time). The page's profiles
    are now one INSERT and one executemany UPDATE, with the same totals."""
    from sqlalchemy import event

    from hub.store.profiles import load_profiles

    n = 150
    with store.begin() as conn:
        contact_store.upsert_contacts(conn, [person("crm", str(i), f"p{i}@example.com") for i in range(n)])
    t = datetime(2026, 3, 1, 12, tzinfo=UTC)

    def page(tag: str) -> list[Activity]:
        return [
            Activity(
                contact_ref=Identity(connector="crm", external_id=str(i)),
                type=ActivityType.PAGE_VIEW,
                occurred_at=t,
                source="crm",
                external_id=f"{tag}{i}",
            )
            for i in range(n)
        ]

    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        if "contact_profiles" in statement and not statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        for tag in ("a", "b"):  # new profiles, then profiles that exist
            with store.begin() as conn:
                assert activity_store.insert_activities(conn, page(tag)).inserted == n
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(seen) <= 2, seen[:3]
    with store.connect() as conn:
        profiles = load_profiles(conn, range(1, n + 1))
    assert len(profiles) == n and {p["total"]["page_view"] for p in profiles.values()} == {2}


def test_a_record_id_names_its_own_contact_not_the_contact_with_that_store_id(store):
    """`hub decide --contact 00002` decided for two people: the record 00002 and store contact 2.
    A record id names its contact; a store id is written without leading zeros and counts only
    where no record has that id."""
    from hub.store.console_views import contacts_matching

    with store.begin() as conn:
        contact_store.upsert_contacts(conn, [person("import", str(i), None) for i in (1, 2, 3)])  # store ids 1-3
        padded = contact_store.upsert_contacts(conn, [person("import", f"0000{i}", None) for i in (1, 2, 3)])
        [crm_five] = contact_store.upsert_contacts(conn, [person("crm", "5", None)]).changed  # store id 7
    with store.connect() as conn:
        assert contacts_matching(conn, "00002") == [sorted(padded.changed)[1]]
        assert contacts_matching(conn, "5") == [crm_five] != [5]
        assert contacts_matching(conn, "4") == [4]  # no record "4": the store id
