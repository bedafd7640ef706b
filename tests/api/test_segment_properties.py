"""Random Segment-shaped payloads never make a 500: every answer is 200 or a 400 with a reason."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_segment import basic, seg  # noqa: F401 - the fixture

#: what JSON escapes can carry that a store cannot: NUL, lone surrogates
ODD = st.sampled_from(["\x00", "a\ud800b", "\udfff", "e\u0301", "\U0001f600"])
TEXT = st.text(max_size=30) | ODD
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
IDS = st.none() | st.text(max_size=130) | ODD | st.integers() | st.booleans() | JSON
EDGE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2026-13-01T00:00:00", "2026-06-01T12:00:00Z"]
TIMES = (
    st.none()
    | st.datetimes().map(lambda d: d.isoformat())
    | st.sampled_from(EDGE_TIMES)
    | st.text(max_size=30)
    | st.integers()
)
MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["track", "identify", "page", "screen", "group", "alias"]) | st.text(max_size=8),
        "userId": IDS,
        "anonymousId": IDS,
        "messageId": IDS,
        "event": st.none() | st.text(max_size=120) | st.integers(),
        "name": st.none() | st.text(max_size=50),
        "timestamp": TIMES,
        "sentAt": TIMES,
        "properties": JSON,
        "traits": st.dictionaries(
            st.sampled_from(["email", "firstName", "name", "company", "title", "plan"]) | st.text(max_size=8),
            JSON | st.emails(),
            max_size=5,
        ),
        "context": JSON,
    },
)


#: well-formed messages with hostile content: these must be stored (200, no errors)
VALID = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["track", "identify", "page", "screen"]),
        "userId": (st.text(min_size=1, max_size=100) | ODD).filter(lambda s: s.replace("\x00", "")),
        "messageId": st.uuids().map(str),
        "event": TEXT.filter(lambda s: s.replace("\x00", "").strip()),
        "properties": st.dictionaries(TEXT, JSON, max_size=5),
        "traits": st.dictionaries(
            st.sampled_from(["email", "name", "company", "plan"]) | TEXT, JSON | st.emails(), max_size=4
        ),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(VALID, min_size=1, max_size=5))
def test_well_formed_messages_with_hostile_content_are_stored(seg, batch):  # noqa: F811
    r = seg.post("/v1/batch", content=json.dumps({"batch": batch}), headers=basic())
    assert r.status_code == 200 and r.json() == {"success": True}, r.text[:500]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/batch"]),
    body=MESSAGE | st.fixed_dictionaries({"batch": st.lists(MESSAGE | JSON, max_size=5)}) | JSON,
)
def test_random_payloads_never_fail_the_server(seg, path, body):  # noqa: F811
    r = seg.post(path, content=json.dumps(body), headers=basic())
    assert r.status_code in (200, 400), (r.status_code, r.text[:300])
    out = r.json()
    if r.status_code == 200:
        assert out["success"] is True
        for e in out.get("errors", []):
            assert isinstance(e["index"], int) and e["message"]
    else:
        assert out["detail"]
