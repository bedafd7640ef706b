"""`hub status` names the configured owners routing skips because a CRM deactivated them, and
the ids no CRM knows, with what to do; `--json` carries every owner's capacity, load and the
CRMs' view. Owners are stored as the sync stores them (hub/store/owners.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from hub.cli import app
from hub.store import Store
from hub.store import owners as owner_store
from tests.conftest import hub_config

CAP = {"max_open_leads": 40, "max_new_per_day": 8}
OWNERS = [
    {"id": "71001", "capacity": CAP},  # active in crm
    {"id": "71002", "capacity": CAP},  # deactivated in crm: gets no leads
    {"id": "71003", "capacity": CAP},  # deactivated in crm, active in sf: still gets leads
    {"id": "71009", "capacity": CAP},  # no CRM reports it
]


def _status(tmp_path, store_url, redis_url, reported: dict[str, dict[str, bool]], *args: str):
    path = hub_config(tmp_path, store_url, redis_url, **{"decision.owners": OWNERS})
    store = Store(store_url, auto_migrate=True)
    try:
        with store.begin() as conn:
            for connector, owners in reported.items():
                owner_store.replace(conn, connector, owners, datetime.now(UTC))
    finally:
        store.dispose()
    res = CliRunner().invoke(app, ["status", "-c", str(path), *args], prog_name="hub")
    assert res.exit_code == 0, res.output
    return res.stdout


CRM_VIEW = {"crm": {"71001": True, "71002": False, "71003": False}, "sf": {"71003": True}}


def test_status_names_owners_a_crm_deactivated_and_says_what_to_do(tmp_path, store_url, redis_url):
    text = " ".join(_status(tmp_path, store_url, redis_url, CRM_VIEW).split())
    assert (
        "Owners getting no leads: 71002 (deactivated in crm at the last sync). Reactivate them in the CRM, "
        "or remove them from decision.owners in hub.yaml" in text
    )
    assert "71001 (" not in text and "71003 (" not in text  # 71003 is still active in sf
    assert "Owners no CRM reports get no leads: 71009" in text and "Check the ids in decision.owners" in text


def test_status_json_has_each_owners_capacity_load_and_crm_view(tmp_path, store_url, redis_url):
    st = json.loads(_status(tmp_path, store_url, redis_url, CRM_VIEW, "--json"))
    by_id = {o["id"]: o for o in st["owners"]}
    assert list(by_id) == ["71001", "71002", "71003", "71009"]
    assert by_id["71002"] == {
        "id": "71002",
        "active_in_config": True,
        "max_open_leads": 40,
        "max_new_per_day": 8,
        "open_leads": 0,
        "assigned_today": 0,
        "crm": {"crm": False},
        "crm_view": "deactivated in crm",
        "eligible": False,
    }
    assert [by_id[o]["crm_view"] for o in ("71001", "71003", "71009")] == ["active", "active", "not reported"]
    assert [by_id[o]["eligible"] for o in ("71001", "71003", "71009")] == [True, True, False]
    assert len(st["owner_warnings"]) == 2 and st["owner_warnings"][0].startswith("Owners getting no leads: 71002")


def test_status_says_nothing_of_owners_while_no_crm_reports_any(tmp_path, store_url, redis_url):
    text = _status(tmp_path, store_url, redis_url, {})
    assert "Owners" not in text
    st = json.loads(_status(tmp_path, store_url, redis_url, {}, "--json"))
    assert {o["crm_view"] for o in st["owners"]} == {"no CRM reports owners"} and st["owner_warnings"] == []
