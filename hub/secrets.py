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
SECRET_KEY = re.compile(r"(secret|token|password|passwd|api_?key|private|credential|auth|hash|salt)", re.I)
MASK = "********"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/:@\s]*:)(?P<pw>[^@/\s]+)(?P<at>@)", re.I)


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
        return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['at']}", value)
    return value
