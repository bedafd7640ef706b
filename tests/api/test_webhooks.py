"""CRM webhooks: HubSpot v3 signatures and Salesforce shared secrets; a change syncs the connector."""

from __future__ import annotations

import json
import time

import pytest
import redis
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.api.app import create_app
from hub.api.problems import Problem
from hub.api.webhooks import hubspot_signature
from hub.pipeline.context import HubContext
from tests.api.conftest import HUBSPOT_SECRET, SF_SECRET, api_section, auth, make_config, seed

URL = "https://hub.example.com/v1/webhooks/hubspot?connector=crm"
BODY = json.dumps([{"eventId": 1, "subscriptionType": "contact.propertyChange", "objectId": 123}]).encode()


def signed(body: bytes = BODY, ts: int | None = None, secret: str = HUBSPOT_SECRET, uri: str = URL) -> dict:
    ts = ts if ts is not None else int(time.time() * 1000)
    return {
        "X-HubSpot-Signature-v3": hubspot_signature(secret, "POST", uri, body, str(ts)),
        "X-HubSpot-Request-Timestamp": str(ts),
        "content-type": "application/json",
    }


def test_signature_matches_hubspots_own_helper():
    from hubspot.utils.signature import Signature

    ts = str(int(time.time() * 1000))
    ours = hubspot_signature(HUBSPOT_SECRET, "POST", URL, BODY, ts)
    assert Signature.is_valid(
        signature=ours,
        client_secret=HUBSPOT_SECRET,
        request_body=BODY.decode(),
        http_uri=URL,
        http_method="POST",
        signature_version="v3",
        timestamp=ts,
    )


def test_signed_hubspot_change_syncs_the_connector(client, crm):
    crm.put_contact("c-new", email="new@example.com")
    r = client.post(URL, content=BODY, headers=signed())
    assert r.status_code == 200, r.text
    assert r.json() == {"connector": "crm", "events": 1, "sync": "started", "forget": "not_needed"}
    deadline = time.time() + 10
    records = 0
    while time.time() < deadline and records != 4:  # embedded mode syncs in a background thread
        records = client.get("/v1/status", headers=auth("admin")).json()["connectors"][0]["records"]
        time.sleep(0.05)
    assert records == 4


def test_hubspot_signature_failures_are_401(client):
    now = int(time.time() * 1000)
    cases = {
        "no headers": {"content-type": "application/json"},
        "wrong secret": signed(secret="not-the-secret"),
        "stale": signed(ts=now - 6 * 60 * 1000),
        "from the future": signed(ts=now + 6 * 60 * 1000),
        "bad timestamp": {**signed(), "X-HubSpot-Request-Timestamp": "soon"},
        "huge timestamp": {**signed(), "X-HubSpot-Request-Timestamp": "9" * 4000},
        "negative timestamp": {**signed(), "X-HubSpot-Request-Timestamp": "-1"},
        "other uri": signed(uri="https://evil.example.com/v1/webhooks/hubspot?connector=crm"),
    }
    for name, headers in cases.items():
        r = client.post(URL, content=BODY, headers=headers)
        assert r.status_code == 401, name
        assert r.headers["content-type"] == "application/problem+json"
    tampered = client.post(URL, content=BODY.replace(b"123", b"124"), headers=signed())
    assert tampered.status_code == 401 and tampered.json()["title"] == "Bad signature"


def test_signed_but_malformed_payloads_are_400_and_unknown_connectors_404(client):
    for body in (b"not json", b'{"an": "object"}', b"[1, 2]"):
        r = client.post(URL, content=body, headers=signed(body))
        assert r.status_code == 400, body
    uri = "https://hub.example.com/v1/webhooks/hubspot?connector=nope"
    r = client.post(uri, content=BODY, headers=signed(uri=uri))
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    no_name = "https://hub.example.com/v1/webhooks/hubspot"
    r = client.post(no_name, content=BODY, headers=signed(uri=no_name))
    assert r.status_code == 404 and "hubspot" in r.json()["detail"]  # the only connector is memory_crm


def test_salesforce_shared_secret(client):
    url = "/v1/webhooks/salesforce?connector=crm"
    assert client.post(url, json={}).status_code == 401
    assert client.post(url, json={}, headers={"X-Hub-Webhook-Secret": SF_SECRET + "x"}).status_code == 401
    ok = client.post(url, json={"changed": ["003"]}, headers={"X-Hub-Webhook-Secret": SF_SECRET})
    assert ok.status_code == 200 and ok.json()["sync"] == "started"
    soap = client.post(
        url, content=b"<soapenv:Envelope/>", headers={"X-Hub-Webhook-Secret": SF_SECRET, "content-type": "text/xml"}
    )
    assert soap.status_code == 200 and "<Ack>true</Ack>" in soap.text


ORG = "00D000000000001AAA"


def outbound_message(org: str = ORG) -> bytes:
    """A Salesforce outbound message as Salesforce sends it (SOAP; no custom headers possible)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <Notification><Id>04l000000000001AAA</Id>
    <sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"
      xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><sf:Id>003000000000001AAA</sf:Id></sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>""".encode()


@pytest.mark.parametrize("configured", [ORG, ORG[:15]])
def test_salesforce_outbound_messages_are_accepted_by_organization_id(tmp_path, api_redis_url, crm, configured):
    extra = {"salesforce_org_id": configured, "salesforce_outbound_secret": "url-secret-0123456789"}
    settings = make_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'om.db'}",
        api_redis_url,
        api={**api_section(True), **extra},
    )
    app = create_app(settings)
    soap = {"content-type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    url = "/v1/webhooks/salesforce?connector=crm"
    with TestClient(app, base_url="https://hub.example.com") as client:
        ok = client.post(f"{url}&secret=url-secret-0123456789", content=outbound_message(), headers=soap)
        assert ok.status_code == 200 and "<Ack>true</Ack>" in ok.text
        for body, q in (
            (outbound_message("00D000000000002AAA"), "&secret=url-secret-0123456789"),  # another org
            (outbound_message("00d000000000001AAA"), "&secret=url-secret-0123456789"),  # ids are case-sensitive
            (outbound_message(), ""),  # the URL's secret is missing
            (outbound_message(), "&secret=url-secret-wrong"),
            (b"<soapenv:Envelope/>", "&secret=url-secret-0123456789"),  # no organization named
        ):
            assert client.post(url + q, content=body, headers=soap).status_code == 401, (body[:80], q)
        # a Flow or Apex callout still uses the header
        assert client.post(url, json={}, headers={"X-Hub-Webhook-Secret": SF_SECRET}).status_code == 200
    app.state.hub.close()


def test_a_bad_salesforce_org_id_is_a_config_error():
    from hub.config import parse_settings
    from hub.errors import ConfigError

    with pytest.raises(ConfigError, match="salesforce_org_id.*15 or 18"):
        parse_settings({"api": {"salesforce_org_id": "00D-not-an-id"}})


def test_with_a_broker_webhooks_enqueue_hub_sync(tmp_path, api_redis_url, crm):
    settings = make_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", api_redis_url, embedded=False)
    app = create_app(settings)
    seed(app.state.hub.ctx, crm)
    r = redis.Redis.from_url(api_redis_url)
    with TestClient(app, base_url="https://hub.example.com") as client:
        out = client.post(URL, content=BODY, headers=signed())
        assert out.json()["sync"] == "queued"
        # a deletion asks the queued sync to look for deletions now
        deletion = json.dumps([{"eventId": 2, "subscriptionType": "contact.deletion", "objectId": 7}]).encode()
        assert client.post(URL, content=deletion, headers=signed(deletion)).json()["sync"] == "queued"
    msg = json.loads(r.rpop("sync"))  # kombu pushes left, reads right
    assert msg["headers"]["task"] == "hub.sync" and json.loads(__import__("base64").b64decode(msg["body"]))[0] == [
        "crm"
    ]
    msg = json.loads(r.rpop("sync"))  # kombu pushes left, reads right
    assert json.loads(__import__("base64").b64decode(msg["body"]))[0] == ["crm", True]
    app.state.hub.close()
    r.close()


def test_unconfigured_webhooks_say_so(tmp_path, api_redis_url, crm, monkeypatch):
    settings = make_config(tmp_path, f"sqlite:///{tmp_path / 'n.db'}", api_redis_url)
    settings.api.hubspot_client_secret = None
    settings.api.salesforce_shared_secret = None
    app = create_app(settings)
    with TestClient(app) as client:
        r = client.post("/v1/webhooks/hubspot", content=BODY, headers=signed())
        assert r.status_code == 404 and "hubspot_client_secret" in r.json()["detail"]
        r = client.post("/v1/webhooks/salesforce", json={}, headers={"X-Hub-Webhook-Secret": SF_SECRET})
        assert r.status_code == 404 and "salesforce_shared_secret" in r.json()["detail"]
    app.state.hub.close()


@given(body=st.binary(max_size=300), flip=st.integers(min_value=0))
@settings(max_examples=200, deadline=None)
def test_any_change_to_a_signed_body_breaks_the_signature(body, flip):
    from hub.api.webhooks import verify_hubspot
    from hub.config import parse_settings

    cfg = parse_settings({"api": {"hubspot_client_secret": HUBSPOT_SECRET}})
    ts = str(int(time.time() * 1000))
    sig = hubspot_signature(HUBSPOT_SECRET, "POST", URL, body, ts)
    verify_hubspot(cfg, "POST", URL, body, sig, ts)  # the genuine request passes
    if body:
        i = flip % len(body)
        tampered = body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :]
        with pytest.raises(Problem) as exc:
            verify_hubspot(cfg, "POST", URL, tampered, sig, ts)
        assert exc.value.status == 401


def test_without_a_broker_webhooks_answer_503_and_events_still_store(tmp_path, api_redis_url, crm):
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings = make_config(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", api_redis_url)
    seeding = HubContext.build(settings, embedded=True)
    seed(seeding, crm)
    seeding.close()
    settings.api.embedded, settings.broker_url = False, dead
    app = create_app(settings)
    with TestClient(app, base_url="https://hub.example.com") as client:
        r = client.post(URL, content=BODY, headers=signed())
        assert r.status_code == 503 and r.headers["retry-after"] == "30"
        assert r.headers["content-type"] == "application/problem+json"
        ev = client.post(
            "/v1/events",
            json={"event_id": "b1", "type": "form_submit", "identity": {"email": "person0@example.com"}},
            headers=auth("admin"),
        )
        assert ev.status_code == 202 and ev.json()["status"] == "stored" and ev.json()["redecide"] == "unavailable"
    app.state.hub.close()
