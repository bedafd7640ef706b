"""Decisions written back into a warehouse table: created on demand, upserted, idempotent."""

from __future__ import annotations

import json

from sqlalchemy import MetaData, select

from connectors.warehouse.actions import decisions_table
from connectors.warehouse.config import WarehouseSettings
from connectors.warehouse.connector import WarehouseConnector
from hub.models import Action, ActionKind, Identity, PushRequest
from tests.connectors.warehouse.conftest import people_table, person


def connector(source, **extra) -> WarehouseConnector:
    settings = WarehouseSettings.model_validate(
        {
            "url": source.url.render_as_string(hide_password=False),
            "contacts": {"table": "people"},
            "decisions_table": "hub_decisions",
            **extra,
        }
    )
    return WarehouseConnector("wh", settings, {})


def req(push_id: int, contact: str, kind: ActionKind, **payload) -> PushRequest:
    return PushRequest(
        push_id=push_id,
        identity=Identity(connector="wh", external_id=contact),
        action=Action(kind=kind, connector="wh", payload=payload),
    )


def table_rows(source):
    table = decisions_table("hub_decisions")
    with source.connect() as conn:
        return {(r.contact_id, r.action): (json.loads(r.fields), r.decided_at) for r in conn.execute(select(table))}


def test_push_creates_the_table_and_upserts_idempotently(source):
    wh = connector(source)
    batch = [
        req(1, "7", ActionKind.SET_FIELDS, fields={"next_best_action": "email_nurture", "lead_score": 41.0}),
        req(2, "7", ActionKind.ADD_TO_LIST, list="sales-ready"),
        req(3, "8", ActionKind.ASSIGN_OWNER, owner="u-9"),
    ]
    results = wh.push(batch)
    assert [(r.push_id, r.status) for r in results] == [(1, "ok"), (2, "ok"), (3, "ok")]
    first = table_rows(source)
    assert {k: v[0] for k, v in first.items()} == {
        ("7", "set_fields"): {"next_best_action": "email_nurture", "lead_score": 41.0},
        ("7", "list:sales-ready"): {"list": "sales-ready", "member": True},
        ("8", "assign_owner"): {"owner": "u-9"},
    }
    assert all(r.status == "ok" for r in wh.push(batch))  # delivered again: nothing changes
    assert table_rows(source) == first

    wh.push(
        [
            req(4, "7", ActionKind.SET_FIELDS, fields={"next_best_action": "sales_outreach"}),
            req(5, "7", ActionKind.REMOVE_FROM_LIST, list="sales-ready"),
        ]
    )
    after = table_rows(source)
    assert len(after) == 3
    assert after[("7", "set_fields")][0] == {"next_best_action": "sales_outreach", "lead_score": 41.0}
    assert after[("7", "list:sales-ready")][0]["member"] is False
    assert after[("8", "assign_owner")] == first[("8", "assign_owner")]
    wh.close()


def test_ensure_schema_is_idempotent(source):
    wh = connector(source)
    assert wh.ensure_schema().created == ["hub_decisions"]
    again = wh.ensure_schema()
    assert again.created == [] and again.existing == ["hub_decisions"] and not again.problems
    wh.close()


def test_setup_dry_run_shows_the_decisions_table_it_would_create(source):
    """`hub connectors setup --dry-run` previews the warehouse as it does a CRM: the table and its state."""
    from hub.connectors_setup import setup_connector

    wh = connector(source)
    plan = setup_connector(wh, dry_run=True)
    assert [(i.kind, i.name, i.state, i.fixable) for i in plan.items] == [("table", "hub_decisions", "missing", True)]
    done = setup_connector(wh)
    assert done.ok and [(i.name, i.state) for i in done.items] == [("hub_decisions", "ok")]
    assert connector(source, decisions_table=None).schema_plan() == []  # nothing to write, nothing to create
    wh.close()


def test_a_sync_reports_what_the_table_holds_so_the_push_diff_sends_nothing_again(source):
    md = MetaData()
    people = people_table(md)
    md.create_all(source)
    with source.begin() as conn:
        conn.execute(people.insert(), [person(7), person(8)])
    wh = connector(source)
    wh.push(
        [
            req(1, "7", ActionKind.SET_FIELDS, fields={"next_best_action": "email_nurture"}),
            req(2, "7", ActionKind.ADD_TO_LIST, list="sales-ready"),
        ]
    )
    page = next(wh.pull_contacts(None))
    by_id = {c.identities[0].external_id: c for c in page.items}
    assert by_id["7"].crm_fields == {"next_best_action": "email_nurture"}
    assert by_id["7"].lists == ["sales-ready"]
    assert by_id["8"].crm_fields == {} and by_id["8"].lists == []
    wh.close()


def test_without_a_decisions_table_pushes_fail_saying_what_to_do(source):
    wh = connector(source, decisions_table=None)
    (result,) = wh.push([req(1, "7", ActionKind.SET_FIELDS, fields={"reason": "x"})])
    assert result.status == "failed" and "receives: []" in result.reason
    wh.close()


def test_the_whole_loop_writes_decisions_once(tmp_path, redis_url, source):
    from hub.pipeline.run import run_once
    from tests.connectors.warehouse.conftest import make_ctx, wh_entry

    md = MetaData()
    people = people_table(md)
    md.create_all(source)
    with source.begin() as conn:
        conn.execute(people.insert(), [person(1), person(2)])
    entry = wh_entry(source.url.render_as_string(hide_password=False), decisions_table="hub_decisions")
    entry["receives"] = ["set_fields"]
    ctx = make_ctx(tmp_path, redis_url, entry)
    first = run_once(ctx)
    assert first.decide.decided == 2
    rows = table_rows(source)
    assert {k for k in rows} == {("1", "set_fields"), ("2", "set_fields")}
    assert rows[("1", "set_fields")][0]["next_best_action"] == "email_nurture"

    again = run_once(ctx)  # re-reads the rows inside the lookback: no change, no decision, no write
    assert again.decide.decided == 0
    assert table_rows(source) == rows
    ctx.close()
