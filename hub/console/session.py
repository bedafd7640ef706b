"""Signed session cookies: who is logged in, their CSRF token, and when it expires.

The cookie is ``base64(json).base64(hmac-sha256)`` keyed by ``api.session_secret``; it is
HttpOnly and SameSite=Lax, and every form carries the CSRF token, checked in constant time.
A visitor who is not logged in still gets a session (user None) so the login form has a token.
A logged-in session also carries a random ``sid`` whose record in the store
(hub/store/console_sessions.py) must be live: logout, a password change and the idle
timeout end it on the server, whatever the cookie says.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

COOKIE = "hub_session"


@dataclass
class Session:
    user: str | None
    csrf: str
    expires: float
    sid: str | None = None

    @classmethod
    def new(cls, user: str | None, max_age: int) -> Session:
        sid = secrets.token_urlsafe(32) if user else None
        return cls(user=user, csrf=secrets.token_urlsafe(24), expires=time.time() + max_age, sid=sid)


def _mac(secret: str, data: bytes) -> bytes:
    return hmac.new(secret.encode(), data, hashlib.sha256).digest()


def dump(session: Session, secret: str) -> str:
    data = base64.urlsafe_b64encode(json.dumps(vars(session), separators=(",", ":")).encode())
    return f"{data.decode()}.{base64.urlsafe_b64encode(_mac(secret, data)).decode()}"


def load(cookie: str | None, secret: str) -> Session | None:
    """The session in a cookie, or None if it is missing, forged, malformed or expired."""
    if not cookie or "." not in cookie:
        return None
    data, _, mac = cookie.partition(".")
    try:
        if not hmac.compare_digest(base64.urlsafe_b64decode(mac.encode()), _mac(secret, data.encode())):
            return None
        raw = json.loads(base64.urlsafe_b64decode(data.encode()))
        sid = raw.get("sid")
        session = Session(
            user=raw["user"], csrf=str(raw["csrf"]), expires=float(raw["expires"]), sid=str(sid) if sid else None
        )
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.expires > time.time() else None


def csrf_ok(session: Session | None, presented: str | None) -> bool:
    return bool(session and presented and hmac.compare_digest(session.csrf.encode(), presented.encode()))
