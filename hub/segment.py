"""Segment HTTP Tracking API messages (track, identify, page, screen) into the hub's terms.

This module reads one message and checks it as Segment documents it: a ``userId`` or an
``anonymousId``, an ``event`` for track, at most 32 KB, an ISO-8601 ``timestamp`` (corrected
for the sender's clock by ``sentAt``, as Segment does). It knows nothing of HTTP or the store:
hub/segment_store.py stores what it returns, hub/api/routes/segment.py is the endpoint.

Idempotency key: the ``messageId`` (hashed when longer than the column), else a hash of the
message itself, so a resend of an identical message is a no-op either way.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.models import Activity, ActivityType, Company, Contact, Identity, normalize_email, reserved_visitor_id

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_DEPTH = 10
MAX_ID = 100  # userId / anonymousId characters (a held event's key adds a prefix; the column holds 120)
SOURCE = "segment"
TYPES = ("track", "identify", "page", "screen")
#: the keys an exported message's time is read from (:func:`event_time`)
_TIMES = ("timestamp", "originalTimestamp", "receivedAt", "sentAt")
_BUILTIN = {t.value for t in ActivityType} - {ActivityType.CUSTOM.value}


class BodyError(ValueError):
    """The whole request is unusable (not JSON, too large): a 400."""


class MessageError(ValueError):
    """One message is unusable; in a batch the others go on."""


@dataclass
class Message:
    key: str
    type: str
    user_id: str | None
    anonymous_id: str | None
    occurred_at: datetime
    event: str | None = None
    name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    #: False for an exported identify with no time of its own: its record merges as the oldest
    dated: bool = True

    @property
    def email(self) -> str | None:
        """The traits' e-mail, else a userId that is one (many senders key people by e-mail:
        held as anonymous, their events waited for an identify that never came)."""
        e = self.traits.get("email")
        if isinstance(e, str) and "@" in e:
            return e
        return self.user_id if self.user_id and normalize_email(self.user_id) else None


def _reject_constant(name: str) -> Any:
    raise BodyError(f"the body holds {name}, which is not JSON; send numbers only")


def _text_ok(s: str) -> str:
    """No NUL (PostgreSQL cannot store it) and no lone surrogates (not UTF-8), which JSON's
    ``\\u`` escapes can carry; both are replaced rather than the message refused."""
    s = s.replace("\x00", "")
    if not s.isascii():
        s = s.encode("utf-8", "replace").decode("utf-8")
    return s


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _text_ok(value)
    if isinstance(value, dict):
        return {_text_ok(str(k)): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def parse_json(raw: bytes) -> Any:
    """The body as JSON with every string made storable; BodyError if it is not JSON."""
    try:
        return _scrub(json.loads(raw, parse_constant=_reject_constant))
    except BodyError:
        raise
    except RecursionError:
        raise BodyError("the JSON is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BodyError(f"the body is not valid JSON: {exc}") from None


def _clean(value: Any, depth: int = 0) -> Any:
    """Strip NUL characters (PostgreSQL cannot store them) and refuse absurd nesting."""
    if depth > MAX_DEPTH:
        raise MessageError(f"properties or traits are nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {str(k).replace("\x00", ""): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _ident(msg: dict[str, Any], key: str) -> str | None:
    v = msg.get(key)
    if v is None or v == "":
        return None
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise MessageError(f"{key} must be a string")
    v = str(v).replace("\x00", "")
    if len(v) > MAX_ID:
        raise MessageError(f"{key} is {len(v)} characters long; at most {MAX_ID}")
    return v or None


def _time(msg: dict[str, Any], key: str) -> datetime | None:
    v = msg.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise MessageError(f"{key} must be an ISO-8601 date-time string")
    try:
        t = datetime.fromisoformat(v.strip())
        return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise MessageError(f"{key} {v[:40]!r} is not an ISO-8601 date-time in range") from None


def _dict(msg: dict[str, Any], key: str) -> dict[str, Any]:
    v = msg.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise MessageError(f"{key} must be an object")
    return _clean(v)


def message_key(msg: dict[str, Any]) -> str:
    """``m:<messageId>``, or ``h:`` + a SHA-256 (of a long messageId, or of a message without one)."""
    mid = msg.get("messageId")
    if isinstance(mid, str) and mid and len(mid) <= 150 and "\x00" not in mid:
        return f"m:{mid}"
    basis = mid if isinstance(mid, str) and mid else json.dumps(msg, sort_keys=True, default=str)
    return "h:" + hashlib.sha256(str(basis).encode()).hexdigest()


def event_time(msg: dict, now: datetime, exported: bool) -> datetime:
    """When the event happened, never later than ``now``.

    Sent now (``/v1/batch``, ``/v1/track``...): Segment's clock-skew correction, the sender's
    ``timestamp`` moved by how far its ``sentAt`` is from our clock on receipt. Exported by
    Segment, the message was received long ago: its ``timestamp`` is already corrected
    (``receivedAt - (sentAt - originalTimestamp)``), and an ``originalTimestamp`` alone is
    corrected against its own ``receivedAt``; measuring from the import's clock would move every
    historical event to the day of the import."""
    stamp, original = _time(msg, "timestamp"), _time(msg, "originalTimestamp")
    sent = _time(msg, "sentAt")
    if exported:
        received = _time(msg, "receivedAt")
        at = stamp
        if at is None and original is not None:
            at = original + (received - sent) if received is not None and sent is not None else original
        at = at or received or sent
    else:
        at = stamp or original
        if at is not None and sent is not None:
            at = at + (now - sent)  # the sender's clock may be off
    return min(at.astimezone(UTC) if at else now, now)


def _under(shared: Any, own: Any) -> Any:
    """``own`` deep-merged over ``shared`` (a batch's context under its message's)."""
    if isinstance(shared, dict) and isinstance(own, dict):
        return {**shared, **{k: _under(shared.get(k), v) for k, v in own.items()}}
    return shared if own is None else own


def parse_message(
    msg: Any, type_: str | None, now: datetime, *, exported: bool = False, batch: dict[str, Any] | None = None
) -> Message:
    """One Segment message (``type_`` from the endpoint; a batch names it in each message).

    ``exported``: the message comes from a file of messages Segment already received (an
    export, `hub import segment`), not from a sender now: see :func:`event_time`.
    ``batch``: the batch body it came in, whose ``sentAt`` and ``context`` are its own when it
    has none (analytics-python and -node send them there); the message's own win, key by key."""
    if not isinstance(msg, dict):
        raise MessageError("a message must be a JSON object")
    size = len(json.dumps(msg, default=str).encode())
    if size > MAX_MESSAGE_BYTES:
        raise MessageError(f"the message is {size} bytes; Segment's limit is {MAX_MESSAGE_BYTES} (32 KB)")
    kind = type_ or msg.get("type")
    if kind not in TYPES:
        raise MessageError(f"type {str(kind)[:40]!r} is not supported; send one of {', '.join(TYPES)}")
    user, anon = _ident(msg, "userId"), _ident(msg, "anonymousId")
    if anon is not None and reserved_visitor_id(anon):
        raise MessageError("anonymousId may not begin with 'user:' or 'ref:', which the hub keys held events with")
    if user is None and anon is None:
        raise MessageError("a message needs a userId or an anonymousId")
    shared = batch or {}
    timed = {**msg, "sentAt": shared["sentAt"]} if msg.get("sentAt") is None and "sentAt" in shared else msg
    dated = any(timed.get(k) for k in _TIMES)
    if exported and kind != "identify" and not dated:
        # the import's clock is not when it happened: stored as now, it was credited to today's decisions
        raise MessageError(f"no {', '.join(_TIMES)}: the event's time is unknown; add its timestamp")
    try:
        at = event_time(timed, now, exported)
    except OverflowError:
        raise MessageError("timestamp (corrected by sentAt) is out of range") from None
    context = _dict({"context": _under(shared.get("context"), msg.get("context"))}, "context")
    traits = _dict(msg, "traits") or (context.get("traits") if isinstance(context.get("traits"), dict) else {})
    m = Message(
        key=message_key(msg),
        type=kind,
        user_id=user,
        anonymous_id=anon,
        occurred_at=at,
        properties=_dict(msg, "properties"),
        traits=traits,
        dated=dated or not exported,
    )
    if kind == "track":
        event = msg.get("event")
        if not isinstance(event, str) or not event.strip():
            raise MessageError("a track message needs an `event` name")
        m.event = event.replace("\x00", "")[:100]
    elif kind in ("page", "screen"):
        name = msg.get("name")
        m.name = name.replace("\x00", "")[:200] if isinstance(name, str) else None
    return m


def activity_of(m: Message) -> Activity | None:
    """track -> an activity of the event's type (a built-in one by name, else ``custom``);
    page/screen -> ``page_view``; identify -> none."""
    props = dict(m.properties)
    if m.type == "track":
        if m.event in _BUILTIN:
            kind = ActivityType(m.event)
        else:
            kind = ActivityType.CUSTOM
            props["name"] = m.event
    elif m.type in ("page", "screen"):
        kind = ActivityType.PAGE_VIEW
        props = {k: props[k] for k in ("url", "path", "title", "referrer", "search") if k in props}
        if m.name:
            props["name"] = m.name
    else:
        return None
    return Activity(
        type=kind,
        channel="web" if m.type != "screen" else "app",
        occurred_at=m.occurred_at,
        properties=props,
        source=SOURCE,
        external_id=m.key,
    )


def _text(v: Any) -> str | None:
    return v.strip() or None if isinstance(v, str) else None


def contact_of(m: Message) -> Contact | None:
    """identify -> the person's record in the ``segment`` source (None without a userId or email)."""
    ext = m.user_id or (f"anonymous:{m.anonymous_id}" if m.email else None)
    if ext is None:
        return None
    t = m.traits
    first, last = (
        _text(t.get("firstName")) or _text(t.get("first_name")),
        _text(t.get("lastName")) or _text(t.get("last_name")),
    )
    if first is None and last is None and _text(t.get("name")):
        first, _, rest = t["name"].strip().partition(" ")
        last = rest or None
    company = t.get("company")
    company_name = _text(company.get("name")) if isinstance(company, dict) else _text(company)
    used = {"email", "firstName", "first_name", "lastName", "last_name", "name", "title", "company"}
    props = {
        k[:100]: v
        for k, v in t.items()
        if k not in used
        and k
        and (v is None or isinstance(v, bool | int | float) or isinstance(v, str) and len(v) <= 1000)
    }
    return Contact(
        identities=[Identity(connector=SOURCE, object_type="contact", external_id=ext)],
        emails=[m.email] if m.email else [],
        first_name=first,
        last_name=last,
        job_title=_text(t.get("title")),
        company=Company(name=company_name),
        properties=props,
        updated_at=m.occurred_at if m.dated else None,  # undated: the CRMs' values win, gaps are filled
    )
