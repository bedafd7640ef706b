"""A signed HubSpot contact.deletion webhook removes the contact at once, through the real API
(embedded) and the sandbox portal: the sync it starts walks the archived list even when the
hourly walk is not due."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.api.app import create_app
from hub.api.webhooks import hubspot_signature
from hub.config import load_settings
from hub.pipeline.sync import sync_connector
from hub.store.schema import identities
from tests.connectors.hubspot.test_sync import live_ids

SECRET = "hs-client-secret-0123456789"
URL = "https://hub.example.com/v1/webhooks/hubspot"


@pytest.fixture
def world():
    from hub.sandbox.world import World

    return World(n_contacts=60, seed=7)


def signed(events: list[dict]) -> tuple[bytes, dict]:
    body = json.dumps(events).encode()
    ts = str(int(time.time() * 1000))
    sig = hubspot_signature(SECRET, "POST", URL, body, ts)
    return body, {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": ts, "content-type": "application/json"}


def stored(ctx, ext: str) -> bool:
    with ctx.store.connect() as conn:
        q = select(identities.c.id).where(identities.c.connector == "crm", identities.c.external_id == ext)
        return conn.execute(q).first() is not None


def sync_done(ctx) -> bool:
    """The webhook's sync (a background thread in embedded mode) let go of its lock."""
    with ctx.locks.hold("sync:crm", 5) as lock:
        return lock.acquired


def wait_for(check, seconds: float = 20) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return check()


def embedded_app(tmp_path, sandbox):
    """The API in embedded mode on a SQLite store, with one HubSpot connector on the sandbox."""
    cfg = {
        "store_url": f"sqlite:///{tmp_path / 'hub.db'}",
        "connectors": {
            "crm": {
                "type": "hubspot",
                "settings": {"access_token": sandbox.hubspot_token, "base_url": sandbox.hubspot_url},
            }
        },
        "api": {"embedded": True, "hubspot_client_secret": SECRET, "public_url": "https://hub.example.com"},
    }
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return create_app(load_settings(path))


def test_a_deletion_webhook_removes_the_contact_without_waiting_for_the_hourly_walk(tmp_path, world, sandbox):
    app = embedded_app(tmp_path, sandbox)
    ctx = app.state.hub.ctx
    sync_connector(ctx, "crm")  # walks the archived list once: the next walk is due in an hour
    victim, renamed = sorted(live_ids(world), key=int)[:2]
    assert stored(ctx, victim)
    with world.lock:
        world.hubspot.archive(victim)
    change = {"eventId": 2, "subscriptionType": "contact.propertyChange", "objectId": int(renamed)}
    with TestClient(app, base_url="https://hub.example.com") as client:
        body, headers = signed([change])
        assert client.post("/v1/webhooks/hubspot", content=body, headers=headers).json()["sync"] == "started"
        time.sleep(0.5)
        assert wait_for(lambda: sync_done(ctx))
        assert stored(ctx, victim)  # a change alone does not walk the archived list before it is due
        deletion = {"eventId": 1, "subscriptionType": "contact.deletion", "objectId": int(victim)}
        body, headers = signed([deletion, change])
        assert client.post("/v1/webhooks/hubspot", content=body, headers=headers).json()["sync"] == "started"
        assert wait_for(lambda: not stored(ctx, victim)), "the deleted contact is still stored"
    app.state.hub.close()


def test_a_privacy_deletion_webhook_forgets_the_person_a_sync_cannot_see_go(tmp_path, world, sandbox):
    """HubSpot's GDPR delete removes a contact for good: it is not in the archived list a sync
    walks, so only its contact.privacyDeletion webhook can tell the hub. The person is then
    forgotten (every row, on the suppression list), and later syncs leave them out."""
    from hub.forget import suppression_counts

    app = embedded_app(tmp_path, sandbox)
    ctx = app.state.hub.ctx
    sync_connector(ctx, "crm")
    victim, other = sorted(live_ids(world), key=int)[:2]
    with world.lock:
        world.hubspot.gdpr_delete(victim)
    sync_connector(ctx, "crm", deletions=True)
    assert stored(ctx, victim), "a GDPR-deleted record is not in the archived list: a sync cannot see it go"
    event = {"eventId": 3, "subscriptionType": "contact.privacyDeletion", "objectId": int(victim)}
    with TestClient(app, base_url="https://hub.example.com") as client:
        body, headers = signed([event])
        answer = client.post("/v1/webhooks/hubspot", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["forget"] == "done"
        assert not stored(ctx, victim)
        assert wait_for(lambda: sync_done(ctx))
    assert suppression_counts(ctx)["record_ids"] >= 1
    sync_connector(ctx, "crm", deletions=True)
    assert not stored(ctx, victim) and stored(ctx, other)
    app.state.hub.close()


def test_the_sandbox_gdpr_delete_endpoint_answers_as_hubspot(world, sandbox):
    """POST /crm/v3/objects/contacts/gdpr-delete: 204, then the record is not found by id and
    not in the archived list; an unknown id is a 404 OBJECT_NOT_FOUND."""
    import requests

    victim = sorted(live_ids(world), key=int)[0]
    auth = {"Authorization": f"Bearer {sandbox.hubspot_token}"}
    url = f"{sandbox.hubspot_url}/crm/v3/objects/contacts"
    assert requests.post(f"{url}/gdpr-delete", json={"objectId": victim}, headers=auth, timeout=10).status_code == 204
    assert requests.get(f"{url}/{victim}", headers=auth, timeout=10).status_code == 404
    archived = requests.get(url, params={"archived": "true", "limit": 100}, headers=auth, timeout=10).json()
    assert victim not in {r["id"] for r in archived["results"]}
    again = requests.post(f"{url}/gdpr-delete", json={"objectId": victim}, headers=auth, timeout=10)
    assert again.status_code == 404 and again.json()["category"] == "OBJECT_NOT_FOUND"
