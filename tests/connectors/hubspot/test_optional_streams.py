"""A token without an activity stream's scope (403 MISSING_SCOPES) skips that stream, names it
with the scope to add in the sync's status, and the other streams go on; granted the scope, the
next sync reads the stream from where it stopped. Contacts and a bad token stay fatal."""

from __future__ import annotations

import json

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from hub.cli import app
from hub.config import load_settings
from hub.errors import FatalConnectorError
from hub.pipeline.context import HubContext
from hub.pipeline.sync import sync_connector
from hub.store import sync_state
from hub.store.schema import activities, contacts
from tests.connectors.hubspot.conftest import drain, make_connector


def seed_activities(world) -> dict[str, str]:
    """One email open, one form submission, one meeting, one call and one deal for a live contact."""
    from hub.sandbox.hubspot_state import FORM_GUID

    rid = sorted((r for r, rec in world.hubspot.records.items() if not rec["archived"]), key=int)[0]
    email = world.hubspot.records[rid]["properties"]["email"]
    now = world.clock.now_ms()
    with world.lock:
        world.hubspot.email_events.append(
            {"id": "open-1", "type": "OPEN", "created": now, "recipient": email, "emailCampaignId": 7}
        )
        world.hubspot.form_submissions.append(
            {
                "conversionId": "sub-1",
                "submittedAt": now,
                "formGuid": FORM_GUID,
                "pageUrl": "https://www.example.com/pricing",
                "values": [{"name": "email", "value": email}],
            }
        )
        mid = world.hubspot.add_engagement("meetings", rid, now, {"hs_meeting_outcome": "COMPLETED"})
        cid = world.hubspot.add_engagement("calls", rid, now, {"hs_call_status": "COMPLETED"})
        did = world.hubspot.add_deal(rid, now - 1_000, "Acme - New Business", 500.0)
    return {"rid": rid, "meeting": mid, "call": cid, "deal": did}


def test_email_events_without_the_content_scope_are_skipped_and_the_other_streams_go_on(world, sandbox, connector):
    ids = seed_activities(world)
    sandbox.hubspot.catch_up_search()
    sandbox.hubspot.scopes.discard("content")
    pages = list(connector.pull_activities(None))
    keys = {a.external_id for p in pages for a in p.items}
    rid = ids["rid"]
    assert "form:sub-1" in keys
    assert f"meetings:{ids['meeting']}:{rid}:COMPLETED" in keys and f"calls:{ids['call']}:{rid}:COMPLETED" in keys
    assert f"deals:{ids['deal']}:created" in keys
    assert not any(k.startswith("email:") for k in keys)
    notes = [why for p in pages for s, why in p.not_synced.items() if s == "marketing email events"]
    assert len(notes) == 1 and "add the content scope to the HubSpot app and reinstall it" in notes[0]
    cursor = json.loads(pages[-1].cursor)
    assert cursor["email_start"] == 0 and cursor["email_offset"] is None  # where it was
    sandbox.hubspot.scopes.add("content")
    items, _, _, _ = drain(connector.pull_activities(pages[-1].cursor))
    assert "email:open-1" in {a.external_id for a in items}


def test_a_missing_contacts_scope_and_a_bad_token_stay_fatal(sandbox, connector):
    sandbox.hubspot.scopes.discard("crm.objects.contacts.read")
    with pytest.raises(FatalConnectorError, match="crm.objects.contacts.read"):
        drain(connector.pull_contacts(None))
    bad = make_connector(sandbox, access_token="wrong")
    bad.client.sleep = lambda s: None
    with pytest.raises(FatalConnectorError):
        drain(bad.pull_activities(None))
    bad.close()


def hub_yaml(tmp_path, sb, redis_url):
    cfg = {
        "store_url": f"sqlite:///{tmp_path / 'hub.db'}",
        "broker_url": redis_url,
        "connectors": {
            "crm": {"type": "hubspot", "settings": {"access_token": sb.hubspot_token, "base_url": sb.hubspot_url}}
        },
        "decision": {"policy": "rules", "rules": [{"name": "none", "when": "True", "actions": []}]},
    }
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def status(path, *args: str) -> str:
    res = CliRunner().invoke(app, ["status", "-c", str(path), *args], prog_name="hub")
    assert res.exit_code == 0, res.output
    return res.stdout


def status_json(path) -> dict:
    return next(c for c in json.loads(status(path, "--json"))["connectors"] if c["name"] == "crm")


def test_a_sync_without_the_content_scope_stores_the_rest_says_so_and_resumes_once_granted(
    tmp_path, world, sandbox, redis_url
):
    ids = seed_activities(world)
    sandbox.hubspot.catch_up_search()
    sandbox.hubspot.scopes.discard("content")
    path = hub_yaml(tmp_path, sandbox, redis_url)
    synced = CliRunner().invoke(app, ["sync", "crm", "-c", str(path)], prog_name="hub")
    assert synced.exit_code == 0, synced.output
    assert "crm: marketing email events not synced: the HubSpot token lacks the content scope" in " ".join(
        synced.stdout.split()
    )
    ctx = HubContext.build(load_settings(path), embedded=True)
    try:
        with ctx.store.connect() as conn:
            assert conn.execute(select(func.count()).select_from(contacts)).scalar() > 400
            stored = set(conn.execute(select(activities.c.external_id)).scalars())
            cursor = json.loads(sync_state.get_cursor(conn, "crm", "activities"))
        assert {f"meetings:{ids['meeting']}:{ids['rid']}:COMPLETED", f"deals:{ids['deal']}:created"} <= stored
        assert "form:sub-1" in stored and "email:open-1" not in stored
        assert cursor["email_start"] == 0 and cursor["email_offset"] is None
        st = status_json(path)
        assert st["last_status"] == "warning"
        assert "marketing email events not synced" in st["last_error"]
        assert "add the content scope to the HubSpot app and reinstall it" in st["last_error"]
        text = " ".join(status(path).split())  # the table clips; the whole warning follows it
        assert "crm: marketing email events not synced: the HubSpot token lacks the content scope; add" in text

        sandbox.hubspot.scopes.add("content")
        again = sync_connector(ctx, "crm")
        assert again.warnings == []
        with ctx.store.connect() as conn:
            stored = set(conn.execute(select(activities.c.external_id)).scalars())
            cursor = json.loads(sync_state.get_cursor(conn, "crm", "activities"))
        assert "email:open-1" in stored and cursor["email_start"] > 0
        st = status_json(path)
        assert st["last_status"] == "ok" and st["last_error"] is None
    finally:
        ctx.close()
