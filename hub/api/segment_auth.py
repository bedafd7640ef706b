"""The Segment write key: the HTTP Basic username with an empty password, as Segment's libraries
send it. Pure functions over the header, so the request guard can refuse a stranger before any
body is read and the route can name the key that matched. Every configured key is compared in
constant time (no early exit); a key is never logged, only its ``name``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence

from hub.api.settings import SegmentWriteKey

SEGMENT_CHALLENGE = {"WWW-Authenticate": 'Basic realm="segment"'}


def match_write_key(keys: Sequence[SegmentWriteKey], presented: str) -> SegmentWriteKey | None:
    found = None
    given = presented.encode()
    for k in keys:
        if hmac.compare_digest(k.key.get_secret_value().encode(), given):
            found = k
    return found


def key_from_header(header: str, keys: Sequence[SegmentWriteKey]) -> tuple[SegmentWriteKey | None, str | None]:
    """(the matching key, None) or (None, why the header is refused)."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None, "send the write key as the HTTP Basic username"
    try:
        user = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return None, "the Basic credentials are not base64 of `writeKey:`"
    key = match_write_key(keys, user)
    return (key, None) if key is not None else (None, "the write key is not valid")


def write_key_problem(header: str, keys: Sequence[SegmentWriteKey]) -> str | None:
    return key_from_header(header, keys)[1]
