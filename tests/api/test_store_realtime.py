"""The real-time store path returns exactly what the batch pipeline's functions return."""

from __future__ import annotations

from datetime import timedelta

from hub.models import Decision, Identity, utcnow
from hub.pipeline.context import HubContext
from hub.profile import empty_profile
from hub.store import contacts as contact_store
from hub.store import decisions as decision_store
from hub.store import lookup
from hub.store import profiles as profile_store
from hub.store import realtime as rt_store
from hub.store.contacts import aware
from tests.api.conftest import seed


def _batch(conn, cid, since):
    """The contact, its profile and its recent decisions as a decide worker's reads give them."""
    return (
        contact_store.load_contacts(conn, [cid])[0],
        profile_store.load_profiles(conn, [cid]).get(cid, empty_profile()),
        decision_store.recent_actions(conn, [cid], since).get(cid, []),
    )


def test_the_one_statement_profile_matches_the_batch_reads(settings, crm):
    ctx = HubContext.build(settings, embedded=True)
    seed(ctx, crm)
    now = utcnow()
    since = now - timedelta(days=7)
    logged = [  # the engine's logged decisions (what recent_actions reads), an old and a control one
        Decision(
            contact_id=cid, actions=[], policy="engine", policy_version="v", created_at=at, action=a, features=[0.0]
        )
        for cid, at, a in (
            (2, now - timedelta(days=2), "call"),
            (2, now - timedelta(days=1), "mail"),
            (3, now - timedelta(days=9), "mail"),
        )
    ]
    logged.append(logged[0].model_copy(update={"contact_id": 3, "arm": "control", "created_at": now}))
    with ctx.store.begin() as conn:
        for j, d in enumerate(logged):  # one decision per contact and request key
            decision_store.insert_decisions(conn, [d], f"logged-{j}")
    with ctx.store.connect() as conn:
        for cid in (1, 2, 3):
            assert rt_store.profiles(conn, [cid], since) == [_batch(conn, cid, since)]
        assert rt_store.profiles(conn, [1], since)[0][1]["total"]["page_view"] == 1, "c0's synced page view"
        decided = [rt_store.profiles(conn, [cid], since)[0][2] for cid in (1, 2, 3)]
        assert [[a for _, a in d] for d in decided] == [[], ["call", "mail"], []]  # not before since, not control
        assert decided[1][0][0] == logged[0].created_at
        assert rt_store.profiles(conn, [2], now + timedelta(seconds=1))[0][2] == [], "none before `since`"
        assert rt_store.profiles(conn, [999], since) == [None]
        # the rows off the DBAPI cursor, decoded by the column types, are SQLAlchemy's rows
        stmt = rt_store._profiles_statement(2, 1, 0)
        params = {"id0": 1, "id1": 3, "email0": "person1@example.com", "since": since}
        driver = rt_store.DriverStatement(stmt, conn.dialect).all(conn, params)
        assert driver == [tuple(r) for r in conn.execute(stmt, params)] and len(driver) > 3
        # by email and by identity: the lookup is the statement's CTE
        assert rt_store.profiles(conn, [" PERSON1@example.com "], since) == [_batch(conn, 2, since)]
        assert rt_store.profiles(conn, [Identity(connector="crm", external_id="c2")], since) == [_batch(conn, 3, since)]
        assert rt_store.profiles(conn, ["nobody@example.com", "not an email"], since) == [None, None]
        assert rt_store.profiles(conn, [Identity(connector="other", external_id="c2")], since) == [None]
        # a batch of every kind at once, in the lookups' order, the same contact twice, misses kept in place
        mixed = [3, "person1@example.com", 999, Identity(connector="crm", external_id="c2"), 1, 2, "nobody@x.io"]
        got = rt_store.profiles(conn, mixed, since)
        assert got == [
            _batch(conn, 3, since),
            _batch(conn, 2, since),
            None,
            _batch(conn, 3, since),
            _batch(conn, 1, since),
            _batch(conn, 2, since),
            None,
        ]
        assert got[0][1] is not got[3][1], "two lookups of one contact get a profile each (the caller adds to one)"
        assert lookup.contact_by_email(conn, " PERSON1@example.com ") == 2
        assert lookup.contact_by_identity(conn, Identity(connector="crm", external_id="c2")) == 3
        assert lookup.contact_by_identity(conn, Identity(connector="other", external_id="c2")) is None
        decision = decision_store.recent_decisions(conn, limit=1)[0]
    decision.id = None
    with ctx.store.begin() as conn:
        new_id = rt_store.insert_decision(conn, decision, "rt-test")
    with ctx.store.connect() as conn:
        stored = decision_store.recent_decisions(conn, limit=1)[0]
    assert stored.id == new_id and stored.model_dump(exclude={"id"}) == decision.model_dump(exclude={"id"})
    ctx.close()


def test_a_contact_with_several_identities_and_emails_reads_as_the_batch_reads_it(settings):
    """The one-statement read keeps the batch read's order: identities as stored, the primary
    email first, then the others sorted; the profile holds every stored activity."""
    from hub.models import Activity, ActivityType, Contact
    from hub.store.activities import insert_activities

    ctx = HubContext.build(settings, embedded=True)
    with ctx.store.begin() as conn:  # the second record joins the first by their shared email
        for ident, emails in (("z9", ["zed@example.com", "amy@example.com"]), ("a1", ["amy@example.com", "bob@x.io"])):
            person = Contact(
                identities=[Identity(connector="crm" if ident == "z9" else "web", external_id=ident)],
                emails=emails,
                first_name="Zed",
                updated_at=utcnow(),
            )
            contact_store.upsert_contacts(conn, [person])
    with ctx.store.begin() as conn:
        cid = lookup.contact_by_email(conn, "bob@x.io")
        now = utcnow()
        views = [
            Activity(
                contact_id=cid,
                type=ActivityType.PAGE_VIEW,
                occurred_at=now - timedelta(hours=h),
                properties={"url": f"/p{h}"},
                source="web",
                external_id=f"v{h}",
            )
            for h in (5, 1, 3)
        ]
        insert_activities(conn, views)
    since = now - timedelta(days=1)
    with ctx.store.connect() as conn:
        batch = _batch(conn, cid, since)
        by_all = [cid, "amy@example.com", Identity(connector="web", external_id="a1"), "zed@example.com"]
        assert rt_store.profiles(conn, by_all, since) == [batch] * 4
    contact, profile, decided = batch
    assert len(contact.identities) == 2 and contact.emails[0] == "zed@example.com" and len(contact.emails) == 3
    assert profile["total"]["page_view"] == 3 and decided == []
    ctx.close()


def _kill_held_connection(ctx, rt):
    """End the real-time path's kept connection under it (its server process terminated on
    PostgreSQL, its file handle closed on SQLite); returns the dead DBAPI connection."""
    from sqlalchemy import text

    with rt.connection.begin() as conn:
        raw = conn.connection.dbapi_connection
        pid = conn.scalar(text("SELECT pg_backend_pid()")) if conn.dialect.name == "postgresql" else None
    if pid is None:
        raw.close()
    else:
        with ctx.store.begin() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return raw


def test_the_kept_connection_is_replaced_when_it_died_while_idle(settings, crm):
    """After ``idle_ping_seconds`` the real-time connection is pinged before use; a dead one
    (its server process ended, or the file handle closed) is replaced and the decision goes on."""

    from hub.api.realtime import RealtimeDecider
    from hub.api.schemas import ContactRef

    ctx = HubContext.build(settings, embedded=True)
    seed(ctx, crm)
    rt = RealtimeDecider(ctx, 1.0)
    rt.connection.idle_ping_seconds = 0.0  # ping before every use
    first = rt.decide(ContactRef(contact_id=1), None)
    raw = _kill_held_connection(ctx, rt)
    second = rt.decide(ContactRef(contact_id=1), None)
    assert second.id == first.id + 1
    with rt.connection.begin() as conn:
        assert conn.connection.dbapi_connection is not raw
    rt.close()
    ctx.close()


def test_a_connection_lost_while_busy_fails_one_decision_as_sqlalchemy_would_and_the_next_reconnects(settings, crm):
    """The two statements run on the DBAPI cursor, yet a driver error comes out as SQLAlchemy's
    (an ``IntegrityError`` for a bad insert, a ``DBAPIError`` marked ``connection_invalidated``
    for a lost connection), and a lost connection is replaced on the next use without a ping."""
    import pytest
    from sqlalchemy.exc import DBAPIError, IntegrityError

    from hub.api.realtime import RealtimeDecider
    from hub.api.schemas import ContactRef

    ctx = HubContext.build(settings, embedded=True)
    seed(ctx, crm)
    rt = RealtimeDecider(ctx, 1.0)  # pinged only after 10 s idle: the next request meets the dead connection
    first = rt.decide(ContactRef(contact_id=1), None)
    with pytest.raises(IntegrityError), rt.connection.begin() as conn:
        rt_store.insert_decision(conn, first.model_copy(update={"contact_id": 999_999}), "rt-orphan")
    _kill_held_connection(ctx, rt)
    with pytest.raises(DBAPIError) as lost:
        rt.decide(ContactRef(contact_id=1), None)
    assert lost.value.connection_invalidated
    assert rt.decide(ContactRef(contact_id=1), None).id > first.id  # PostgreSQL's sequence skips the failed insert's
    rt.close()
    ctx.close()


def _stored(conn, decision_id):
    """A decision's ``decisions`` and ``decision_features`` rows, without its id and request key."""
    from sqlalchemy import select

    from hub.store.schema import decision_features, decisions

    row = conn.execute(select(decisions).where(decisions.c.id == decision_id)).mappings().one()
    logged = conn.execute(select(decision_features).where(decision_features.c.decision_id == decision_id))
    log = logged.mappings().one_or_none()
    return (
        {k: v for k, v in row.items() if k not in ("id", "request_key")},
        None if log is None else {k: v for k, v in log.items() if k != "decision_id"},
    )


def test_a_batch_of_decisions_is_stored_as_one_at_a_time_stores_them(settings, crm):
    """``record_decisions`` (on PostgreSQL one pipelined round trip, each decision and its
    learning-log row one statement) stores exactly what ``insert_decision`` stores, ids in order."""
    ctx = HubContext.build(settings, embedded=True)
    seed(ctx, crm)
    now = utcnow()
    logged = Decision(
        contact_id=2,
        actions=[],
        policy="engine",
        policy_version="v3",
        created_at=now,
        action="mail",
        features=[0.5, 1.0],
        trace={"mail": {"score": 0.25}},
        attribution_days=3,
    )
    unlogged = Decision(contact_id=3, actions=[], policy="rules", policy_version="r1", created_at=now)
    batch = [logged, unlogged, logged.model_copy(update={"contact_id": 1, "action": "call"})]
    with ctx.store.begin() as conn:
        ids = rt_store.record_decisions(conn, [(d, f"rt-batch-{j}") for j, d in enumerate(batch)], 14.0)
        one_by_one = [rt_store.insert_decision(conn, d, f"rt-one-{j}", 14.0) for j, d in enumerate(batch)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    with ctx.store.connect() as conn:
        got = [_stored(conn, i) for i in ids]
        assert got == [_stored(conn, i) for i in one_by_one]
    assert got[1][1] is None, "a rules decision has no learning-log row"
    assert got[0][1]["action"] == "mail" and got[2][1]["action"] == "call"
    assert aware(got[0][1]["final_at"]) == now + timedelta(days=14), "the declared outcome's longer window"
    assert rt_store.record_decisions(ctx.store.engine.connect(), [], None) == []
    ctx.close()


def test_on_postgresql_a_real_time_batch_is_two_round_trips(pg_url, api_redis_url, crm, tmp_path):
    """The held connection reads a batch's contacts in one round trip and records its decisions
    in one more (autocommit: no BEGIN or COMMIT of their own), counted in libpq's trace of the
    protocol: one Sync each."""
    from hub.api.realtime import RealtimeDecider
    from hub.api.schemas import ContactRef
    from tests.api.conftest import make_config

    ctx = HubContext.build(make_config(tmp_path, pg_url, api_redis_url), embedded=True)
    seed(ctx, crm)
    rt = RealtimeDecider(ctx, 60.0)
    first = rt.decide(ContactRef(contact_id=1), None)  # the policy, version and switches read once
    logged = first.model_copy(update={"id": None, "action": "mail", "features": [1.0], "trace": {}})
    trace = tmp_path / "libpq.trace"
    with rt.connection.begin() as conn, trace.open("w") as out:
        raw = conn.connection.dbapi_connection
        raw.pgconn.trace(out.fileno())
        found = rt_store.profiles(conn, [1, 2, 3], utcnow())
        ids = rt_store.record_decisions(conn, [(logged, f"rt-trip-{j}") for j in range(3)], None)
        raw.pgconn.untrace()
    sent = [line.split("\t")[3] for line in trace.read_text().splitlines() if line.split("\t")[1:2] == ["F"]]
    assert all(found) and len(ids) == 3
    assert sent.count("Sync") == 2 and "Query" not in sent, sent  # no BEGIN / COMMIT query
    rt.close()
    ctx.close()


def test_a_bad_decision_in_a_batch_stores_none_of_it_and_the_connection_goes_on(settings, crm):
    """One refused row fails the batch as SQLAlchemy would raise it (IntegrityError), nothing of
    the batch is stored, and the kept connection decides the next request."""
    import pytest
    from sqlalchemy import func, select
    from sqlalchemy.exc import IntegrityError

    from hub.api.realtime import RealtimeDecider
    from hub.api.schemas import ContactRef
    from hub.store.schema import decisions

    ctx = HubContext.build(settings, embedded=True)
    seed(ctx, crm)
    rt = RealtimeDecider(ctx, 1.0)
    first = rt.decide(ContactRef(contact_id=1), None)
    with ctx.store.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(decisions))
    good = first.model_copy(update={"id": None})
    orphan = good.model_copy(update={"contact_id": 999_999})
    with pytest.raises(IntegrityError), rt.connection.begin() as conn:
        rt_store.record_decisions(conn, [(good, "rt-good"), (orphan, "rt-orphan")], None)
    with ctx.store.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(decisions)) == before
    assert rt.decide(ContactRef(contact_id=2), None).id > first.id
    rt.close()
    ctx.close()


def test_a_connection_lost_before_the_batch_insert_is_marked_invalidated(settings, crm):
    """The pipelined insert meets a dead connection as ``Connection.execute`` would: a
    ``DBAPIError`` marked ``connection_invalidated``, and the next request reconnects."""
    import pytest
    from sqlalchemy.exc import DBAPIError

    from hub.api.realtime import RealtimeDecider
    from hub.api.schemas import ContactRef

    ctx = HubContext.build(settings, embedded=True)
    seed(ctx, crm)
    rt = RealtimeDecider(ctx, 1.0)
    first = rt.decide(ContactRef(contact_id=1), None)
    with pytest.raises(DBAPIError) as lost, rt.connection.begin() as conn:
        rt_store.profiles(conn, [1], utcnow())
        _kill_under(ctx, conn)
        rt_store.record_decisions(conn, [(first.model_copy(update={"id": None}), "rt-lost")], None)
    assert lost.value.connection_invalidated
    assert rt.decide(ContactRef(contact_id=1), None).id > first.id
    rt.close()
    ctx.close()


def _kill_under(ctx, conn):
    """End ``conn``'s server process (PostgreSQL) or close its file handle (SQLite) mid-transaction."""
    from sqlalchemy import text

    raw = conn.connection.dbapi_connection
    if conn.dialect.name != "postgresql":
        raw.close()
        return
    pid = conn.scalar(text("SELECT pg_backend_pid()"))
    with ctx.store.begin() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
