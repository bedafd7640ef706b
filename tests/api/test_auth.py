"""Tokens and scopes: 401 without or with a wrong token, 403 with the wrong scope."""

from __future__ import annotations

import pytest

from hub.api.auth import match_token
from hub.api.settings import ApiToken
from tests.api.conftest import TOKENS, auth

ENDPOINTS = [
    ("post", "/v1/decisions", {"contact": {"contact_id": 1}}, "decide"),
    ("post", "/v1/events", {"event_id": "x", "type": "custom", "identity": {"anonymous_id": "a"}}, "events"),
    ("get", "/v1/contacts/1", None, "admin"),
    ("get", "/v1/status", None, "admin"),
    ("get", "/metrics", None, "admin"),
]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_missing_wrong_and_underscoped_tokens_are_refused(client, method, path, body, scope):
    call = getattr(client, method)
    kw = {"json": body} if body is not None else {}
    missing = call(path, **kw)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = call(path, headers={"Authorization": "Bearer " + TOKENS[scope][:-1] + "X"}, **kw)
    assert wrong.status_code == 401 and wrong.json()["detail"] == "the API token is not valid"
    other = next(s for s in ("decide", "events") if s != scope)
    refused = call(path, headers=auth(other), **kw)
    assert refused.status_code == 403 and scope in refused.json()["detail"]
    assert call(path, headers=auth(scope), **kw).status_code < 400
    assert call(path, headers=auth("admin"), **kw).status_code < 400  # admin holds every scope


def test_token_match_checks_every_token_and_returns_the_right_one():
    a = ApiToken(name="a", token="a" * 20, scopes=["decide"])
    b = ApiToken(name="b", token="b" * 20, scopes=["events"])
    assert match_token([a, b], "b" * 20) is b
    assert match_token([a, b], "b" * 19) is None
    assert match_token([], "a" * 20) is None


def test_secrets_never_appear_in_problem_documents(client):
    r = client.post("/v1/decisions", json={"contact": {"contact_id": 1}}, headers={"Authorization": "Bearer nope"})
    assert all(t not in r.text for t in TOKENS.values())
