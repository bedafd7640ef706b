"""The HubSpot client's retry loop: 429s wait by their policy and are counted apart from 5xx."""

from __future__ import annotations

import pytest

from connectors.hubspot.client import _Failed
from hub.errors import RetryableError
from tests.connectors.hubspot.conftest import make_connector, oauth_connector

TEN_SECONDLY = {"policyName": "TEN_SECONDLY_ROLLING", "message": "You have reached your ten_secondly_rolling limit."}


@pytest.fixture
def client(sandbox):
    c = make_connector(sandbox, max_retries=3)
    waits: list[float] = []
    c.client.sleep = waits.append
    yield c.client, waits
    c.close()


def script(*answers):
    """A transport that fails with the given (status, body) answers, then returns "ok"."""
    todo = list(answers)

    def send():
        if todo:
            status, body = todo.pop(0)
            raise _Failed(status, body, f"HTTP {status}")
        return "ok"

    return send


def test_a_429_after_5xx_waits_out_the_window_once_not_longer_per_earlier_error(client):
    c, waits = client
    assert c._with_retries("op", script((500, None), (503, None), (502, None), (429, TEN_SECONDLY))) == "ok"
    assert len(waits) == 4
    assert all(w < 2 for w in waits[:2])  # 500, 503: exponential backoff from 0.2 s
    assert 3 <= waits[2] <= 4.5  # 502: HubSpot asks for a pause of a few seconds
    assert 10 <= waits[3] <= 12  # one rolling window (plus jitter), whatever failed before


def test_429s_and_5xx_have_their_own_try_counts(client):
    c, waits = client
    # three of each (max_retries=3): neither count is exhausted, so the call succeeds
    answers = [(429, TEN_SECONDLY), (500, None)] * 3
    assert c._with_retries("op", script(*answers)) == "ok"
    assert sum(1 for w in waits if w >= 10) == 3


def test_gives_up_after_max_retries_with_the_reason_and_a_retry_after(client):
    c, waits = client
    with pytest.raises(RetryableError) as e:
        c._with_retries("contacts.list", script(*[(429, TEN_SECONDLY)] * 5))
    assert "contacts.list still failing after 4 tries" in str(e.value) and e.value.retry_after >= 10
    assert len(waits) == 3


def test_429_waits_by_policy(client):
    c, waits = client
    c._with_retries("op", script((429, {"message": "You have reached your secondly limit."})), search=True)
    c._with_retries("op", script((429, {"message": "You have reached your ten_secondly_rolling limit."})))
    assert 1 <= waits[0] <= 1.5  # search: about a second
    assert waits[1] >= 10  # no policyName but a ten-second message: not mistaken for search
    with pytest.raises(RetryableError) as e:
        c._with_retries("op", script((429, {"policyName": "DAILY"})))
    assert e.value.blocked and len(waits) == 2  # the daily limit is not waited out in a task
    # until midnight in the account's zone, which the client read from its details before its first call
    assert "midnight America/New_York" in str(e.value) and 60 < e.value.retry_after <= 86_400 + 60


def test_4xx_is_not_retried(client):
    from connectors.hubspot.client import HubSpotRequestError

    c, waits = client
    with pytest.raises(HubSpotRequestError):
        c._with_retries("op", script((400, {"message": "bad property"})))
    assert waits == []


def test_a_429_from_the_oauth_token_endpoint_is_retryable_not_fatal(world, sandbox):
    c = oauth_connector(sandbox)
    sandbox.hubspot_faults.set(burst_429=1)
    with pytest.raises(RetryableError) as e:
        c.client.api  # noqa: B018 - the property refreshes the token
    assert e.value.status == 429 and sandbox.hubspot.refreshes == 0
    assert c.client.api is not None and sandbox.hubspot.refreshes == 1  # the next try gets its token


def test_a_daily_429_without_policy_name_is_still_the_daily_limit(client):
    """HubSpot's daily refusal names itself in its message too ("You have reached your daily
    limit."); a body without ``policyName`` was retried every 10 s as the ten-second window."""
    c, waits = client
    with pytest.raises(RetryableError) as e:
        c._with_retries(
            "op", script((429, {"message": "You have reached your daily limit.", "errorType": "RATE_LIMIT"}))
        )
    assert e.value.blocked and e.value.retry_after >= 3600 and waits == []
