"""Comparing secrets without leaking them through timing.

``a == b`` on strings stops at the first differing character, so how long a refusal takes
tells an attacker how much of a guessed token was right. Every place the hub (or its sandbox
vendors) checks a presented token, password or client secret goes through ``same_secret``.

>>> same_secret("Bearer abc", "Bearer abc"), same_secret("Bearer abd", "Bearer abc")
(True, False)
"""

from __future__ import annotations

import hmac


def same_secret(presented: str | bytes | None, expected: str | bytes | None) -> bool:
    """Constant-time equality (for equal lengths); None never matches."""
    if presented is None or expected is None:
        return False
    a = presented.encode() if isinstance(presented, str) else presented
    b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)
