"""hub/store/batch.py: a batch insert writes what row-by-row inserts write, and ``among`` selects
what ``IN`` selects, on SQLite and PostgreSQL (where both take the one-array path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import cast, insert, select
from sqlalchemy.types import Text

from hub.store import Store
from hub.store.batch import among, insert_rows
from hub.store.schema import audit_log

AT = datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=UTC)
AWKWARD = [
    ("plain", None, {"a": 1}),
    ('quote " and \\ backslash', "reason, with {braces} and 'quotes'", [1, [2, [3.25, None]]]),
    ("ünïcode ✓ NULL", "NULL", None),  # Python None in a JSON column is JSON null, not SQL NULL
    ("", "", {"nested": {"list": [], "text": 'x"y\\z', "float": 0.1 + 0.2}}),
    ("  spaced  ", None, "a JSON string"),
]


def audit_rows(tag: str) -> list[dict]:
    return [
        {"at": AT + timedelta(seconds=i), "actor": tag, "action": f"act{i}", "subject": s, "reason": r, "details": d}
        for i, (s, r, d) in enumerate(AWKWARD)
    ]


@pytest.fixture
def store(store_url):
    s = Store(store_url, auto_migrate=True)
    yield s
    s.dispose()


def stored(conn, actor: str) -> list[tuple]:
    """Each row as stored, JSON as its text, in id order."""
    cols = (audit_log.c.at, audit_log.c.action, audit_log.c.subject, audit_log.c.reason)
    q = select(*cols, cast(audit_log.c.details, Text)).where(audit_log.c.actor == actor).order_by(audit_log.c.id)
    return [tuple(r) for r in conn.execute(q)]


def test_insert_rows_writes_what_row_by_row_inserts_write(store):
    with store.begin() as conn:
        conn.execute(insert(audit_log), audit_rows("plain"))
        returned = insert_rows(conn, audit_log, audit_rows("batch"), returning=(audit_log.c.id, audit_log.c.action))
        assert insert_rows(conn, audit_log, []) == []
        plain, batch = stored(conn, "plain"), stored(conn, "batch")
        ids = list(conn.execute(select(audit_log.c.id).where(audit_log.c.actor == "batch").order_by(audit_log.c.id)))
    assert batch == plain  # same values, same JSON text, in the rows' order
    assert [r[2] for r in batch] == [s for s, _, _ in AWKWARD]
    if store.dialect == "postgresql":
        assert [tuple(r) for r in returned] == [(i, f"act{k}") for k, (i,) in enumerate(ids)]
    else:
        assert returned == []


@pytest.mark.parametrize("values", [[], [2], [1, 3, 99], list(range(0, 400, 2))])
def test_among_selects_what_in_selects(store, values):
    with store.begin() as conn:
        conn.execute(insert(audit_log), [{**r, "subject": f"s{i}"} for i in range(300) for r in audit_rows("x")[:1]])
        ids = sorted(conn.execute(select(audit_log.c.id)).scalars())
        wanted = [ids[v] for v in values if v < len(ids)] + [10_000]
        subjects = [f"s{v}" for v in values] + ['no "such" subject']
        by_id = set(conn.execute(select(audit_log.c.id).where(among(conn, audit_log.c.id, wanted))).scalars())
        plain_id = set(conn.execute(select(audit_log.c.id).where(audit_log.c.id.in_(wanted))).scalars())
        q = select(audit_log.c.subject)
        by_text = set(conn.execute(q.where(among(conn, audit_log.c.subject, iter(subjects)))).scalars())
        plain_text = set(conn.execute(q.where(audit_log.c.subject.in_(subjects))).scalars())
    assert by_id == plain_id and len(by_id) == len([v for v in values if v < 300])
    assert by_text == plain_text == {f"s{v}" for v in values if v < 300}


@pytest.mark.parametrize("n", [0, 1, 250])
def test_among_keys_selects_what_a_tuple_in_selects(store, n):
    """Composite keys match as whole keys: ("a0", "s1") names no row though both halves occur."""
    from sqlalchemy import tuple_

    from hub.store.batch import among_keys

    rows = [{**audit_rows("x")[0], "action": f"a{i % 7}", "subject": f"s{i}"} for i in range(300)]
    keys = [(f"a{i % 7}", f"s{i}") for i in range(0, 2 * n, 2)] + [("a0", "s1"), ('no "such"', "key")][: min(n, 2)]
    cols = (audit_log.c.action, audit_log.c.subject)
    with store.begin() as conn:
        conn.execute(insert(audit_log), rows)
        q = select(audit_log.c.subject)
        got = set(conn.execute(q.where(among_keys(conn, cols, iter(keys)))).scalars())
        plain = set(conn.execute(q.where(tuple_(*cols).in_(keys))).scalars())
    assert got == plain == {f"s{i}" for i in range(0, min(2 * n, 300), 2)}
