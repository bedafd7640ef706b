"""Comparing secrets without leaking them through timing.

``a == b`` on strings stops at the first differing character, so how long a refusal takes
tells an attacker how much of a guessed token was right. Every place the hub (or its sandbox
vendors) checks a presented token, password or client secret goes through ``same_secret``.

>>> same_secret("Bearer abc", "Bearer abc"), same_secret("Bearer abd", "Bearer abc")
(True, False)
"""

from __future__ import annotations

import hmac
import re
from typing import Any


def same_secret(presented: str | bytes | None, expected: str | bytes | None) -> bool:
    """Constant-time equality (for equal lengths); None never matches."""
    if presented is None or expected is None:
        return False
    a = presented.encode() if isinstance(presented, str) else presented
    b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)


#: setting names whose values are secret whatever their type (connector settings are raw dicts)
SECRET_KEY = re.compile(
    r"(secret|token|password|passwd|pwd|api_?key|private|credential|auth|hash|salt|session_?id(?![a-z])|sid$)", re.I
)
MASK = "********"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/:@\s]*:)(?P<pw>[^@/\s]+)(?P<at>@)", re.I)
_WHOLE_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<rest>\S*)", re.I)


def url_password(url: str) -> str:
    """The password of a whole URL (empty: none), split as its driver splits it: after the
    user's ``:``, up to the last ``@`` before the query, so one holding ``/`` or ``@`` is whole."""
    m = _WHOLE_URL.fullmatch(url.strip())
    userinfo = m["rest"].partition("?")[0].rpartition("@")[0] if m else ""
    return userinfo.partition(":")[2]


def masked_url(text: str) -> str:
    """``text`` with a URL's password and its secret-looking query values masked. A whole URL
    is split as its driver splits it: the password runs to the last ``@`` before the query,
    so one holding ``/`` or ``@`` (base64, generated passwords) is masked whole; a URL inside
    other text is masked by pattern."""
    m = _WHOLE_URL.fullmatch(text.strip())
    if m is None:
        return _URL_PASSWORD.sub(lambda u: f"{u['head']}{MASK}{u['at']}", text)
    head, q, query = m["rest"].partition("?")
    if url_password(text):
        user, host = head.partition(":")[0], head.rpartition("@")[2]
        head = f"{user}:{MASK}@{host}"
    if q:
        parts = [p.partition("=") for p in query.split("&")]
        query = "&".join(f"{k}{eq}{MASK if eq and SECRET_KEY.search(k) else v}" for k, eq, v in parts)
    return f"{m['scheme']}{head}{q}{query}"


def masked(value: Any, key: str = "") -> Any:
    """A JSON-like settings tree with every secret replaced by ``MASK``: values under a secret
    looking key, ``SecretStr`` dumps, and passwords inside URLs.

    >>> masked({"store_url": "postgresql://hub:pw@db/hub", "api": {"token": "abc"}, "n": 3})
    {'store_url': 'postgresql://hub:********@db/hub', 'api': {'token': '********'}, 'n': 3}
    """
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v, key) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if SECRET_KEY.search(key) and not key.endswith(("_env", "_enabled")):
        return MASK
    if isinstance(value, str):
        return masked_url(value)
    return value
