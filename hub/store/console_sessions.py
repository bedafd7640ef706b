"""Server-side console sessions: the cookie carries a random id, the store its SHA-256.

A session is live while it is not revoked (logout), not past its absolute expiry, seen
within the idle timeout, and its user's password hash is the one it logged in with (a
password change in hub.yaml ends every session of that user).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, update

from hub.store.schema import console_sessions


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def open_session(
    conn: Connection, sid: str, username: str, password_hash: str, address: str | None, now: datetime, max_age: int
) -> None:
    # sessions long over are dropped here, so the table stays the size of the active logins
    conn.execute(delete(console_sessions).where(console_sessions.c.expires_at < now - timedelta(days=1)))
    conn.execute(
        console_sessions.insert().values(
            id=digest(sid),
            username=username,
            password_tag=digest(password_hash),
            address=(address or "")[:64] or None,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=max_age),
        )
    )


def touch(conn: Connection, sid: str, username: str, password_hash: str, now: datetime, idle: int) -> bool:
    """True (and the idle clock restarted) if the session is live; see the module docstring."""
    c = console_sessions.c
    res = conn.execute(
        update(console_sessions)
        .where(
            c.id == digest(sid),
            c.username == username,
            c.password_tag == digest(password_hash),
            c.revoked_at.is_(None),
            c.expires_at > now,
            c.last_seen_at > now - timedelta(seconds=idle),
        )
        .values(last_seen_at=now)
    )
    return res.rowcount == 1


def revoke(conn: Connection, sid: str, now: datetime) -> None:
    conn.execute(
        update(console_sessions)
        .where(console_sessions.c.id == digest(sid), console_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_user(conn: Connection, username: str, now: datetime) -> int:
    """End every session of ``username`` (e.g. the user was removed or their password leaked)."""
    c = console_sessions.c
    return conn.execute(
        update(console_sessions).where(c.username == username, c.revoked_at.is_(None)).values(revoked_at=now)
    ).rowcount
