"""Console forms as an ops admin meets them (found by walking the console against a demo store
and a live sandbox hub): a refused form keeps what was ticked, every control has a name a
screen reader can read, a refusal is not worded as a success, and no page claims a model
snapshot that does not exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import TOKENS, make_config, seed
from tests.api.test_console import csrf_of, login


@pytest.fixture
def held(tmp_path, api_redis_url, crm) -> Iterator[TestClient]:
    """A console on a store where every field write waits for approval (3 held)."""
    from hub.api.app import create_app

    hold = {"governance": {"autonomy": {"kinds": {"set_fields": "needs_approval"}}}}
    app = create_app(make_config(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", api_redis_url, **hold))
    seed(app.state.hub.ctx, crm)
    with TestClient(app, base_url="https://hub.example.com") as client:
        login(client)
        yield client
    app.state.hub.close()


def _ticked(html: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="id" value="(\d+)" checked', html)


def test_reject_without_a_note_keeps_the_ticked_approvals_and_says_why(held):
    page = held.get("/console/approvals").text
    ids = re.findall(r'name="id" value="(\d+)"', page)
    token = csrf_of(page)
    r = held.post(
        "/console/approvals/bulk",
        data={"csrf": token, "decision": "reject", "id": ids[:2], "note": "   "},
        follow_redirects=False,
    )
    # was: a redirect to the list with every box cleared, so the user ticked them all again
    assert r.status_code == 400
    assert 'role="alert"' in r.text and "A rejection needs a note" in r.text
    assert _ticked(r.text) == ids[:2]
    assert "autofocus" in re.search(r'<input[^>]*name="note"[^>]*>', r.text).group(0)  # the box to fill
    # nothing was decided: all three still wait
    assert len(re.findall(r'name="id" value="(\d+)"', held.get("/console/approvals").text)) == 3


class _Controls(HTMLParser):
    """Visible form controls with no accessible name (no <label>, aria-label or title)."""

    def __init__(self) -> None:
        super().__init__()
        self.label_depth = 0
        self.for_ids: set[str] = set()
        self.unnamed: list[str] = []
        self.controls: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.for_ids.add(a["for"])
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({**a, "_in_label": self.label_depth > 0})

    def handle_endtag(self, tag):
        if tag == "label":
            self.label_depth -= 1

    def close(self):
        super().close()
        for c in self.controls:
            named = c["_in_label"] or c.get("aria-label") or c.get("title") or c.get("id") in self.for_ids
            if not named:
                self.unnamed.append(f"{c.get('name')}={c.get('value', '')}")


def _unnamed(html: str) -> list[str]:
    p = _Controls()
    p.feed(html)
    p.close()
    return p.unnamed


def test_every_form_control_has_a_name_a_screen_reader_reads(held):
    from hub.models import utcnow
    from hub.store import learning

    ctx = held.app.state.hub.ctx
    with ctx.store.begin() as conn:
        for r in (0.5, 0.7):
            learning.save_snapshot(conn, "engine-test", b"blob", {"learned": 10, "mean_reward": r}, utcnow())
    for path in ("/console/approvals", "/console/alerts", "/console/models", "/console/decisions", "/console/audit"):
        html = held.get(path).text
        # was: the note boxes (placeholder only) and each row's tick box had no name at all
        assert _unnamed(html) == [], path
    rows = held.get("/console/approvals").text
    first = re.search(r'name="id" value="(\d+)"', rows).group(1)
    assert re.search(rf'<input type="checkbox" name="id" value="{first}" aria-label="Approval {first}"', rows)


def test_acknowledging_an_alert_someone_else_acknowledged_is_not_worded_as_a_success(held):
    from decision.monitoring import Alert
    from hub.governance.alerts import acknowledge, list_alerts, store_alerts
    from hub.models import utcnow

    ctx = held.app.state.hub.ctx
    with ctx.store.begin() as conn:
        alert = Alert("reward_rate", "engine", 0.1, 0.2, "warning", "reward rate fell")
        store_alerts(conn, [alert], ctx.settings.governance.alerts, utcnow())
        (a,) = list_alerts(conn, "open")
    token = csrf_of(held.get("/console/alerts").text)  # the page still lists it ...
    with ctx.store.begin() as conn:
        acknowledge(conn, a.id, "ana", "seen", utcnow())  # ... when a colleague acks it from the CLI
    r = held.post("/console/alerts/ack", data={"csrf": token, "id": str(a.id)})
    flash = re.search(r'<p class="[^"]*" role="status">([^<]*)</p>', r.text).group(1)
    # was: "Acknowledged 0 alerts by ops. alert 1 is already acknowledged by ana."
    assert "Acknowledged 0" not in flash
    assert flash.startswith(f"Alert {a.id} is already acknowledged by ana")


def test_the_models_page_names_no_snapshot_before_one_is_saved(tmp_path, api_redis_url, crm):
    from hub.api.app import create_app

    engine = {"decision.policy": "engine"}
    app = create_app(make_config(tmp_path, f"sqlite:///{tmp_path / 'e.db'}", api_redis_url, **engine))
    with TestClient(app, base_url="https://hub.example.com") as client:
        login(client)
        page = client.get("/console/models").text
    app.state.hub.close()
    in_use = re.search(r'<p id="in-use">(.*?)</p>', page, re.S).group(1)
    # was: "Deciding with engine ...@v0 (the newest snapshot of engine-...)" above "No model saved yet"
    assert "Deciding with <code>engine" in in_use
    assert "newest snapshot" not in in_use
    assert "No model saved yet" in page


def test_the_overview_counts_kill_switches_in_words(held):
    token = csrf_of(held.get("/console/alerts").text)
    tile = r'id="kpi-alerts".*?<div class="l">(.*?)</div>'
    for n, use_case in ((1, "routing"), (2, "scoring")):
        held.post(f"/console/killswitch/{use_case}", data={"csrf": token, "to": "on", "note": "test"})
        label = re.search(tile, held.get("/console/").text, re.S).group(1)
        # was: "open alerts · 1 kill switch(es) on"
        assert label == f"open alerts · {n} kill switch{'es' if n > 1 else ''} on", label


def test_a_wrong_password_keeps_the_user_name_typed_but_never_the_password(client):
    token = csrf_of(client.get("/console/login").text)
    r = client.post("/console/login", data={"csrf": token, "username": "ops<b>", "password": "not-it-123"})
    assert r.status_code == 401 and "Wrong user name or password." in r.text
    # was: both boxes empty again
    assert re.search(r'<input name="username" value="ops&lt;b&gt;"', r.text)
    assert "not-it-123" not in r.text


def test_the_overview_says_what_hub_status_says_of_forgotten_people_and_held_activities(held):
    """`hub status` printed "Suppressed (forgotten) people" and "Activities held for a contact not
    synced yet"; the Overview said neither, so an admin on the console never saw them."""
    from hub.forget import forget
    from hub.models import Activity, ActivityType, Identity, utcnow
    from hub.store import held as held_store

    ctx = held.app.state.hub.ctx
    before = held.get("/console/").text
    assert "Suppressed (forgotten) people: 0<" in before and 'id="held"' not in before
    forget(ctx, "gone@example.com")
    early = Activity(
        type=ActivityType.EMAIL_OPEN,
        occurred_at=utcnow(),
        source="crm",
        external_id="open-1",
        contact_ref=Identity(connector="crm", object_type="contacts", external_id="not-synced-yet"),
    )
    with ctx.store.begin() as conn:
        held_store.hold(conn, [early])
    page = " ".join(held.get("/console/").text.split())
    assert "Suppressed (forgotten) people: 1 (hub forget --list)" in page
    assert "Activities held for a contact not synced yet: 1 (stored when it syncs;" in page


def test_an_address_edited_by_hand_answers_a_console_page_not_json(held):
    """`/console/decisions?before=abc` or `/console/decisions/x` answered the API's JSON 422 in
    the middle of the console; they now answer a console page saying what is wrong (400), and the
    API's invalid requests stay problem documents."""
    for address, field in (("/console/decisions?before=abc", "before"), ("/console/decisions/x", "decision_id")):
        r = held.get(address)
        assert r.status_code == 400 and r.headers["content-type"].startswith("text/html"), (address, r.text)
        said = " ".join(r.text.split())
        assert "This address is not valid" in said and f"{field}:" in said and 'href="/console/decisions"' in said
    api = held.get("/v1/contacts/x", headers={"Authorization": "Bearer " + TOKENS["admin"]})
    assert api.status_code == 422 and api.headers["content-type"] == "application/problem+json", api.text
