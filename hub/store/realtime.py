"""The real-time path's store calls: a batch's contacts in one statement, its decisions in one round trip.

The batch functions (``load_contacts``, ``load_profiles``, ``recent_actions``,
``insert_decisions``) build their statements per call for lists of ids; at hundreds of requests a
second for a few contacts each, building them costs more than running them, and on PostgreSQL
every statement is a round trip (~0.15 ms of client CPU). So the contacts of a real-time batch
(hub/api/batcher.py), their identities, emails, stored profile and the hub's own decisions for
them since a time come back from one statement, prebuilt per number of lookups: a CTE finds the
contacts (by id, email or identity) and five ``UNION ALL`` branches return their rows, each
tagged with its kind and contact. They make what the decide workers read (hub/pipeline/decide.py),
so the policy sees a contact the same way on both paths: its profile, the activity aggregates
kept current as activities are stored (hub/store/profiles.py), not a rescan of its history.

Both statements run on the DBAPI cursor (:class:`DriverStatement`): SQLAlchemy's execution
machinery (the compiled-cache lookup, parameter and result processing set up per call, Row
objects) cost about as much CPU as the database driver's work (read, insert and commit of one
decision: 0.18-0.19 ms through ``Connection.execute``, 0.12-0.13 ms this way on SQLite;
0.33-0.38 against 0.20-0.21 ms on PostgreSQL; 2026-12-03, load 6-7). SQLAlchemy still
defines and compiles them, once per dialect, and its type processors still encode the
parameters and decode the columns, so the SQL, the stored values and the errors (wrapped as
SQLAlchemy wraps them, the connection invalidated when it is gone) are what
``Connection.execute`` gives. Engine events (``before_cursor_execute``) do not see them.
"""

from __future__ import annotations

import copy
from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from threading import Lock
from time import monotonic
from typing import Any

from sqlalchemy import (
    JSON,
    CompoundSelect,
    Connection,
    Dialect,
    Engine,
    Executable,
    String,
    and_,
    bindparam,
    cast,
    insert,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.exc import DBAPIError

from hub.models import Contact, Decision, Identity, normalize_email
from hub.profile import empty_profile
from hub.store.contacts import _row_to_contact, aware
from hub.store.decisions import decision_row, feature_row, from_batches, learnable
from hub.store.schema import (
    ID,
    TS,
    contact_emails,
    contact_profiles,
    contacts,
    decision_features,
    decisions,
    identities,
)

CONTACT, IDENTITY, EMAIL, PROFILE, DECIDED = 0, 1, 2, 3, 4
#: columns after the contact's own, in order: where the other kinds' rows put theirs
_TAIL = {
    "ord": ID,  # identities.id, decisions.id: stored order
    "at": TS,  # decisions.created_at
    "connector": String,
    "object_type": String,
    "external_id": String,
    "action": String,  # decision_features.action
    "profile": JSON,  # contact_profiles.profile
    "email": String,
}


#: what a real-time request names its contact by: its id, an email, or a connector identity
Lookup = int | str | Identity


def _padded(values: list[Any], fill: Any) -> list[Any]:
    """``values`` padded with ``fill`` (which matches nothing) to the next power of two (1, 2,
    4, ..., 32; none stays none), so a handful of statements serve every batch, each compiled
    once per dialect."""
    return values + [fill] * ((1 << (len(values) - 1).bit_length()) - len(values)) if values else []


@lru_cache(maxsize=256)
def _profiles_statement(n_ids: int, n_emails: int, n_idents: int) -> CompoundSelect:
    """The statement for a batch of lookups: ``who`` (a CTE) holds each contact a lookup finds,
    with what it was found by; five ``UNION ALL`` branches return those contacts' rows, each
    tagged with its kind and its contact (``of``)."""
    c = contacts.c
    key = {k: cast(null(), String).label(k) for k in ("m_email", "m_connector", "m_object_type", "m_external_id")}
    finds = []
    if n_ids:
        finds.append(select(contacts, *key.values()).where(c.id.in_([bindparam(f"id{i}") for i in range(n_ids)])))
    if n_emails:
        e = contact_emails.c
        found = {**key, "m_email": e.email.label("m_email")}
        emails = [bindparam(f"email{i}") for i in range(n_emails)]
        finds.append(
            select(contacts, *found.values()).join(contact_emails, e.contact_id == c.id).where(e.email.in_(emails))
        )
    if n_idents:
        i_ = identities.c
        found = {
            **key,
            "m_connector": i_.connector.label("m_connector"),
            "m_object_type": i_.object_type.label("m_object_type"),
            "m_external_id": i_.external_id.label("m_external_id"),
        }
        match = or_(
            *(
                and_(
                    i_.connector == bindparam(f"connector{j}"),
                    i_.object_type == bindparam(f"object_type{j}"),
                    i_.external_id == bindparam(f"external_id{j}"),
                )
                for j in range(n_idents)
            )
        )
        finds.append(select(contacts, *found.values()).join(identities, i_.contact_id == c.id).where(match))
    who = (finds[0] if len(finds) == 1 else union_all(*finds)).cte("who")
    ids = select(who.c.id).scalar_subquery()

    def of_who(col: Any) -> Any:  # one lookup finds one contact at most: planners like = better than IN
        return col == ids if n_ids + n_emails + n_idents == 1 else col.in_(ids)

    def branch(kind: int, owner: Any, head: list[Any], **tail: Any) -> Any:
        # the first branch types the columns: PostgreSQL resolves a UNION's types pair by pair
        # from the left, and SQLAlchemy decodes timestamps and JSON by the first branch's types
        typed = [
            (tail[k] if k in tail else cast(null(), t) if kind == CONTACT else null()).label(k)
            for k, t in _TAIL.items()
        ]
        return select(literal_column(str(kind)).label("kind"), owner.label("of"), *head, *typed)

    nulls = [null().label(col.name) for col in contacts.c]
    f = decision_features.c
    return union_all(
        branch(
            CONTACT,
            who.c.id,
            [who.c[col.name] for col in contacts.c],
            email=who.c.m_email,
            connector=who.c.m_connector,
            object_type=who.c.m_object_type,
            external_id=who.c.m_external_id,
        ),
        branch(
            IDENTITY,
            identities.c.contact_id,
            nulls,
            ord=identities.c.id,
            connector=identities.c.connector,
            object_type=identities.c.object_type,
            external_id=identities.c.external_id,
        ).where(of_who(identities.c.contact_id)),
        branch(EMAIL, contact_emails.c.contact_id, nulls, email=contact_emails.c.email).where(
            of_who(contact_emails.c.contact_id)
        ),
        branch(PROFILE, contact_profiles.c.contact_id, nulls, profile=contact_profiles.c.profile).where(
            of_who(contact_profiles.c.contact_id)
        ),
        branch(DECIDED, decisions.c.contact_id, nulls, ord=decisions.c.id, at=decisions.c.created_at, action=f.action)
        .select_from(decisions.join(decision_features, f.decision_id == decisions.c.id))
        .where(
            of_who(decisions.c.contact_id),
            decisions.c.created_at >= bindparam("since"),
            decisions.c.arm != literal_column("'control'"),
            from_batches(),  # as recent_actions: touches the CRMs were told of
        ),
    ).order_by("of", "kind", "at", "ord")


_INSERT_DECISION = insert(decisions)
_INSERT_FEATURES = insert(decision_features)

#: a contact, its stored profile (``empty_profile()`` when it has none) and the hub's decisions
#: for it since a time, ``(created_at, action)``
Found = tuple[Contact, dict[str, Any], list[tuple[datetime, str]]]


def profiles(conn: Connection, lookups: Sequence[Lookup], since: datetime) -> list[Found | None]:
    """Each lookup's contact (as ``load_contacts`` gives it), its profile (as ``load_profiles``)
    and its decisions from ``since`` on (as ``recent_actions``, ties in time in stored order), or
    None where none is found: what a decide worker reads, in one statement for the whole batch.
    An email is normalized as stored; two lookups of one contact get a profile each (the caller
    may add to one)."""
    ids = _padded([k for k in lookups if isinstance(k, int)], None)
    emails = _padded([normalize_email(k) for k in lookups if isinstance(k, str)], None)
    idents = _padded([k.key() for k in lookups if isinstance(k, Identity)], (None, None, None))
    params: dict[str, Any] = {"since": since}
    params.update((f"id{i}", v) for i, v in enumerate(ids))
    params.update((f"email{i}", v) for i, v in enumerate(emails))
    for j, (connector, object_type, external_id) in enumerate(idents):
        params.update({f"connector{j}": connector, f"object_type{j}": object_type, f"external_id{j}": external_id})
    stmt = _profiles_statement(len(ids), len(emails), len(idents))
    rows = _prepared(stmt, conn.dialect).all(conn, params)
    by_owner: dict[int, list[Any]] = {}
    found: dict[tuple[Any, ...], int] = {}  # _key(lookup) -> contact id
    for r in rows:
        if r.kind == CONTACT:
            if r.email is not None:
                found["email", r.email] = r.of
            elif r.connector is not None:
                found["identity", r.connector, r.object_type, r.external_id] = r.of
            else:
                found["id", r.of] = r.of
        by_owner.setdefault(r.of, []).append(r)  # its contact rows first (ordered by kind)
    out: list[Found | None] = []
    built: set[int] = set()
    for k in lookups:
        owner = found.get(_key(k))
        if owner is None:
            out.append(None)
            continue
        contact, profile, decided = _build(by_owner[owner])
        if owner in built:  # its profile is the first lookup's dict, decoded once: a copy of its own
            profile = copy.deepcopy(profile)
        built.add(owner)
        out.append((contact, profile, decided))
    return out


def _key(lookup: Lookup) -> tuple[Any, ...]:
    if isinstance(lookup, Identity):
        return ("identity", *lookup.key())
    return ("email", normalize_email(lookup)) if isinstance(lookup, str) else ("id", lookup)


class DriverStatement:
    """One statement compiled for one dialect, run on the connection's DBAPI cursor.

    Parameters go through the bind processors of their SQLAlchemy types (SQLite's text
    timestamps and JSON, psycopg's JSON wrapper), result columns through the result processors
    (set from the first result's column type codes, as SQLAlchemy sets them), so values come and
    go as with ``Connection.execute``. Rows are named tuples, read like its Rows by attribute.
    """

    def __init__(self, stmt: Executable, dialect: Dialect, keys: Sequence[str] = ()):
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) or None)
        self.dialect, self.sql = dialect, compiled.string
        self.returning = bool(compiled.effective_returning)  # the id comes back as a row, else lastrowid
        procs = {k: b.type.dialect_impl(dialect).bind_processor(dialect) for k, b in compiled.binds.items()}
        self._binds = [(k, procs[k]) for k in (compiled.positiontup or procs)]
        self._positional = compiled.positiontup is not None
        columns = list(getattr(stmt, "selected_columns", ()))
        self.row_type = namedtuple("Row", [c.key for c in columns]) if columns else None
        self._types = [c.type.dialect_impl(dialect) for c in columns]
        self._results: list[tuple[int, Any]] | None = None

    def params(self, values: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        args = [(k, p(values[k]) if p else values[k]) for k, p in self._binds]
        return tuple(v for _, v in args) if self._positional else dict(args)

    def run(self, conn: Connection, values: dict[str, Any]) -> Any:
        """The executed DBAPI cursor; a driver error is raised as ``Connection.execute`` raises it."""
        dbapi_conn = conn.connection.dbapi_connection
        params = self.params(values)
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(self.sql, params)
        except self.dialect.loaded_dbapi.Error as exc:
            raise _as_sqlalchemy(conn, exc, cursor, self.sql, params) from exc
        return cursor

    def all(self, conn: Connection, values: dict[str, Any]) -> list[Any]:
        cursor = self.run(conn, values)
        rows = cursor.fetchall()
        if self._results is None:
            found = [
                (i, t.result_processor(self.dialect, d[1]))
                for i, (t, d) in enumerate(zip(self._types, cursor.description, strict=True))
            ]
            self._results = [(i, p) for i, p in found if p is not None]
        cursor.close()
        make, procs = self.row_type._make, self._results
        if not procs:
            return [make(r) for r in rows]
        out = []
        for r in rows:
            vals = list(r)
            for i, p in procs:
                vals[i] = p(vals[i])
            out.append(make(vals))
        return out


def _as_sqlalchemy(
    conn: Connection, exc: Exception, cursor: Any = None, sql: str | None = None, params: Any = None
) -> Exception:
    """A driver error as ``Connection.execute`` raises it (SQLAlchemy's wrapper, marked
    ``connection_invalidated`` when the connection is gone, which is then invalidated so the
    held connection is replaced on its next use); ``cursor`` is closed."""
    dialect = conn.dialect
    gone = dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
    if cursor is not None:
        cursor.close()
    if gone:
        conn.invalidate(exc)
    error = dialect.loaded_dbapi.Error
    return DBAPIError.instance(sql, params, exc, error, connection_invalidated=gone, dialect=dialect)


#: compiled once per statement and dialect (an engine's dialect lives as long as the engine)
_prepared = lru_cache(maxsize=64)(DriverStatement)


def _build(rows: list[Any]) -> Found:
    """What one contact's rows make: the contact row first, then its own rows in order."""
    row, idents, emails, decided = rows[0], [], [], []
    profile = None
    for r in rows[1:]:
        if r.kind == CONTACT:  # found by a second lookup: the same contact again
            continue
        if r.kind == IDENTITY:
            idents.append(Identity(connector=r.connector, object_type=r.object_type, external_id=r.external_id))
        elif r.kind == EMAIL:
            emails.append(r.email)
        elif r.kind == PROFILE:
            profile = r.profile
        else:
            decided.append((aware(r.at), r.action))
    emails.sort(key=lambda e: (e != row.primary_email, e))
    return _row_to_contact(row, idents, emails), profile if profile is not None else empty_profile(), decided


def insert_decision(conn: Connection, d: Decision, request_key: str, outcome_days: float | None = None) -> int:
    """Insert one decision and return its id (one statement: RETURNING or lastrowid), and a
    model's decision's learning-log row as a decide batch logs it (a second statement): outcomes
    are credited to a contact's latest decision, so a real-time one must be learned from too,
    or the outcomes after a visit would be lost to learning."""
    values = decision_row(d, request_key)
    prepared = _prepared(_INSERT_DECISION, conn.dialect, keys=tuple(values))
    cursor = prepared.run(conn, values)
    new_id = int(cursor.fetchone()[0] if prepared.returning else cursor.lastrowid)
    cursor.close()
    if learnable(d):
        logged = feature_row(d, new_id, outcome_days)
        _prepared(_INSERT_FEATURES, conn.dialect, keys=tuple(logged)).run(conn, logged).close()
    return new_id


def record_decisions(
    conn: Connection, items: Sequence[tuple[Decision, str]], outcome_days: float | None = None
) -> list[int]:
    """Insert each ``(decision, request_key)`` as :func:`insert_decision` does; their ids in order.

    On PostgreSQL the whole batch is one round trip: each decision and its learning-log row are
    one statement (the log row takes the id from a data-modifying CTE), and the statements go
    in psycopg's pipeline mode, so the client waits once, not twice per decision."""
    if conn.dialect.name != "postgresql":
        return [insert_decision(conn, d, key, outcome_days) for d, key in items]
    cursors = []
    with _pipelined(conn):
        for d, key in items:
            values = decision_row(d, key)
            if learnable(d):
                logged = feature_row(d, 0, outcome_days)
                values.update((f"log_{k}", v) for k, v in logged.items() if k != "decision_id")
                prepared = _prepared(_logged_insert(), conn.dialect)
            else:
                prepared = _prepared(_INSERT_DECISION, conn.dialect, keys=tuple(values))
            cursors.append(prepared.run(conn, values))
    ids = []
    for cursor in cursors:
        ids.append(int(cursor.fetchone()[0]))
        cursor.close()
    return ids


@lru_cache(maxsize=1)
def _logged_insert() -> Executable:
    """A decision and its learning-log row in one statement (PostgreSQL): the decision's insert
    is a CTE whose returned id the log row's insert selects; the statement returns that id."""
    d = decisions.c
    made = insert(decisions).values({c.name: bindparam(c.name, type_=c.type) for c in d if c.name != "id"})
    new = made.returning(d.id).cte("made")
    f = decision_features.c
    logged = ("action", "feature_version", "features", "trace", "window_ends_at", "final_at")
    return (
        insert(decision_features)
        .from_select(
            ["decision_id", *logged], select(new.c.id, *(bindparam(f"log_{k}", type_=f[k].type) for k in logged))
        )
        .returning(f.decision_id)
    )


@contextmanager
def _pipelined(conn: Connection) -> Iterator[None]:
    """The statements run in the block are pipelined on PostgreSQL (psycopg's pipeline mode:
    sent without waiting for each answer, all answered in one round trip when the block ends),
    and run as usual elsewhere. A driver error surfaces when the block ends, raised as
    ``Connection.execute`` raises it."""
    if conn.dialect.name != "postgresql":
        yield
        return
    try:
        with conn.connection.dbapi_connection.pipeline():
            yield
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemy(conn, exc) from exc


class HeldConnection:
    """One connection kept for the real-time path, used by one caller at a time.

    A pool checkout per request costs a ping round trip on PostgreSQL (``pool_pre_ping``) and
    the pool's bookkeeping; this connection is checked out once and detached from the pool, so
    its session settings never reach another caller. On PostgreSQL those are
    ``synchronous_commit = off`` (a decision has been answered when it commits, so a crash in the
    next few hundred milliseconds may lose its log row, never corrupt anything, and waiting for
    the WAL flush would put a disk sync in every request) and autocommit: a batch's read is one
    statement and its writes one pipeline (:func:`record_decisions`), which the server runs as
    one implicit transaction, so BEGIN and COMMIT would only add two round trips. After
    ``idle_ping_seconds`` without use it is pinged before use (as the pool's pre-ping would),
    and replaced when that fails; a store restart while it is busy fails the one request that
    meets it, and the next reconnects.
    """

    def __init__(self, engine: Engine, idle_ping_seconds: float = 10.0):
        self.engine, self.idle_ping_seconds = engine, idle_ping_seconds
        self._conn: Connection | None = None
        self._used = 0.0
        self._lock = Lock()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """The held connection for one caller: a transaction on SQLite (committed on leaving,
        rolled back on error); on PostgreSQL each statement, or pipeline, commits on its own."""
        with self._lock:
            conn = self._ready()
            with conn.begin():
                yield conn
            self._used = monotonic()

    def _ready(self) -> Connection:
        conn = self._conn
        idle = conn is not None and monotonic() - self._used > self.idle_ping_seconds
        if conn is not None and (conn.invalidated or (idle and not self._alive(conn))):
            conn.close()
            conn = None
        if conn is None:
            conn = self.engine.connect()
            if conn.dialect.name == "postgresql":  # set while pooled: SQLAlchemy tracks the isolation level there
                conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("SET synchronous_commit TO OFF")
                conn.commit()  # SQLAlchemy's own bookkeeping: in autocommit nothing is sent
            conn.detach()  # closed, not pooled, at the end: its session settings stay with it
            self._conn = conn
        return conn

    def _alive(self, conn: Connection) -> bool:
        dialect = self.engine.dialect
        try:
            return dialect.do_ping(conn.connection.dbapi_connection)
        except dialect.loaded_dbapi.Error:
            return False

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
