"""The client at the wire: re-login once on an expired session, limits, transient errors, usage."""

from __future__ import annotations

import pytest
import responses
from responses import matchers

from connectors.salesforce.client import DailyLimitReached, QueryLocatorExpired, SalesforceClient
from connectors.salesforce.config import SalesforceSettings
from hub.errors import FatalConnectorError, RetryableError

from .wire import BASE, SOAP_LOGIN, limit_header, password_settings, query_page, session_settings, sf_error, soap_ok


def client(settings) -> SalesforceClient:
    c = SalesforceClient(settings, sleep=lambda s: None)
    return c


@responses.activate
def test_query_pages_follow_next_records_url_and_read_usage() -> None:
    responses.get(
        f"{BASE}/query/",
        json=query_page([{"Id": "1"}], next_url="/services/data/v59.0/query/01gXX-2000"),
        headers=limit_header(41),
        match=[matchers.header_matcher({"Sforce-Query-Options": "batchSize=2000"})],
    )
    responses.get(f"{BASE}/query/01gXX-2000", json=query_page([{"Id": "2"}]), headers=limit_header(42))
    c = client(session_settings())
    batches = list(c.query_pages("SELECT Id FROM Contact"))
    assert batches == [[{"Id": "1"}], [{"Id": "2"}]]
    assert (c.api_used, c.api_limit, c.calls) == (42, 100_000, 2)


@responses.activate
def test_expired_session_logs_in_again_once_and_retries() -> None:
    login = responses.post(SOAP_LOGIN, body=soap_ok("00Dxx!FIRST"))
    responses.get(f"{BASE}/sobjects/Contact/describe", json=sf_error("INVALID_SESSION_ID"), status=401)
    responses.get(f"{BASE}/sobjects/Contact/describe", json={"name": "Contact", "fields": []})
    c = client(password_settings())
    assert c.describe("Contact")["name"] == "Contact"
    assert login.call_count == 2 and c.logins == 2
    retry = responses.calls[-1].request
    assert retry.headers["Authorization"] == "Bearer 00Dxx!FIRST"  # the mock hands out the same token


@responses.activate
def test_a_second_401_after_relogin_is_fatal_not_a_loop() -> None:
    login = responses.post(SOAP_LOGIN, body=soap_ok())
    responses.get(f"{BASE}/sobjects/Lead/describe", json=sf_error("INVALID_SESSION_ID"), status=401)
    c = client(password_settings())
    with pytest.raises(FatalConnectorError, match="cannot be renewed"):
        c.describe("Lead")
    assert login.call_count == 2


@responses.activate
def test_bare_session_id_cannot_be_renewed() -> None:
    responses.get(f"{BASE}/sobjects/Lead/describe", json=sf_error("INVALID_SESSION_ID"), status=401)
    with pytest.raises(FatalConnectorError, match="bare session id"):
        client(session_settings()).describe("Lead")


@responses.activate
def test_failed_login_is_fatal_and_names_no_secret() -> None:
    responses.post(
        SOAP_LOGIN,
        status=500,
        body="<soapenv:Envelope><soapenv:Body><soapenv:Fault><faultcode>INVALID_LOGIN</faultcode>"
        "<faultstring>INVALID_LOGIN: Invalid username, password, security token</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>",
    )
    with pytest.raises(FatalConnectorError) as err:
        client(password_settings()).describe("Lead")
    assert "hub@example.com" in str(err.value)
    assert "s3cr3t-pw" not in str(err.value) and "T0KEN-xyz" not in str(err.value)


@responses.activate
def test_daily_limit_is_a_daily_limit_error() -> None:
    responses.get(
        f"{BASE}/query/", json=sf_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), status=403
    )
    with pytest.raises(DailyLimitReached, match="TotalRequests"):
        list(client(session_settings()).query_pages("SELECT Id FROM Lead"))


@responses.activate
def test_other_403_is_a_permission_problem() -> None:
    responses.get(f"{BASE}/query/", json=sf_error("INSUFFICIENT_ACCESS", "no access"), status=403)
    with pytest.raises(FatalConnectorError, match="INSUFFICIENT_ACCESS") as err:
        list(client(session_settings()).query_pages("SELECT Id FROM Lead"))
    assert not isinstance(err.value, DailyLimitReached)


@responses.activate
def test_transient_errors_are_retried_then_reported_retryable() -> None:
    url = f"{BASE}/sobjects/Task/describe"
    responses.get(url, body="<html>Service Unavailable</html>", status=503)
    responses.get(url, json={"name": "Task", "fields": []})
    c = client(session_settings())
    assert c.describe("Task")["name"] == "Task"
    c.forget_describe("Task")
    responses.replace(responses.GET, url, body="<html>down</html>", status=503)
    with pytest.raises(RetryableError) as err:
        c.describe("Task")
    assert err.value.status == 503


@responses.activate
def test_expired_query_locator_is_its_own_error() -> None:
    responses.get(f"{BASE}/query/", json=query_page([{"Id": "1"}], "/services/data/v59.0/query/01gXX-2000"))
    responses.get(f"{BASE}/query/01gXX-2000", json=sf_error("INVALID_QUERY_LOCATOR"), status=400)
    pages = client(session_settings()).query_pages("SELECT Id FROM Lead")
    assert next(pages) == [{"Id": "1"}]
    with pytest.raises(QueryLocatorExpired):
        next(pages)


@responses.activate
def test_jwt_bearer_login_signs_an_assertion_for_the_user() -> None:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    token = responses.post(
        "https://login.salesforce.com/services/oauth2/token",
        json={"access_token": "00Dxx!JWT", "instance_url": "https://na1.example.my.salesforce.com"},
    )
    responses.get(f"{BASE}/sobjects/Lead/describe", json={"name": "Lead", "fields": []})
    settings = SalesforceSettings(username="hub@example.com", consumer_key="CK", privatekey=pem)
    c = client(settings)
    assert c.describe("Lead")["name"] == "Lead"
    form = dict(p.split("=", 1) for p in token.calls[0].request.body.split("&"))
    claims = jwt.decode(
        form["assertion"], key.public_key(), algorithms=["RS256"], audience="https://login.salesforce.com"
    )
    assert (claims["iss"], claims["sub"]) == ("CK", "hub@example.com")
    assert responses.calls[-1].request.headers["Authorization"] == "Bearer 00Dxx!JWT"


@responses.activate
def test_a_session_that_expires_between_pages_keeps_paging() -> None:
    login = responses.post(SOAP_LOGIN, body=soap_ok())
    responses.get(f"{BASE}/query/", json=query_page([{"Id": "1"}], next_url="/services/data/v59.0/query/01gXX-2000"))
    responses.get(f"{BASE}/query/01gXX-2000", json=sf_error("INVALID_SESSION_ID"), status=401)
    responses.get(f"{BASE}/query/01gXX-2000", json=query_page([{"Id": "2"}]))
    c = client(password_settings())
    assert [r["Id"] for batch in c.query_pages("SELECT Id FROM Lead") for r in batch] == ["1", "2"]
    assert login.call_count == 2


@responses.activate
def test_a_concurrency_limit_backs_off_and_retries_not_a_daily_stop() -> None:
    url = f"{BASE}/query/"
    busy = sf_error("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
    responses.get(url, json=busy, status=403)
    responses.get(url, json=busy, status=403)
    responses.get(url, json=query_page([{"Id": "1"}]))
    waits: list[float] = []
    c = SalesforceClient(session_settings(), sleep=waits.append)
    assert list(c.query_pages("SELECT Id FROM Lead")) == [[{"Id": "1"}]]
    assert waits == [2.0, 4.0]
    responses.replace(responses.GET, url, json=busy, status=403)
    waits.clear()
    with pytest.raises(RetryableError) as err:
        list(c.query_pages("SELECT Id FROM Lead"))
    assert not isinstance(err.value, DailyLimitReached)
    assert err.value.retry_after is not None and err.value.retry_after <= 60
    assert sum(waits) < 60


@responses.activate
def test_query_timeout_is_its_own_retryable_error() -> None:
    from connectors.salesforce.client import QueryTooBig

    responses.get(
        f"{BASE}/query/", json=sf_error("QUERY_TIMEOUT", "Your query request was running for too long."), status=400
    )
    with pytest.raises(QueryTooBig, match="QUERY_TIMEOUT"):
        list(client(session_settings()).query_pages("SELECT Id FROM Lead"))


@responses.activate
@pytest.mark.parametrize(("status", "reason"), [(414, "URI Too Long"), (431, "Request Header Fields Too Large")])
def test_a_request_over_salesforce_s_size_limit_is_not_retried(status: int, reason: str) -> None:
    """A URI (or URI and headers) over 16,384 bytes is refused the same way every time."""
    page = f"<html><body><h1>{status} {reason}</h1></body></html>"
    sent = responses.get(f"{BASE}/query/", body=page, status=status, content_type="text/html")
    c = client(session_settings())
    with pytest.raises(FatalConnectorError) as err:
        list(c.query_pages("SELECT Id FROM Campaign WHERE Name IN ('a')"))
    assert sent.call_count == 1 and str(status) in str(err.value)
