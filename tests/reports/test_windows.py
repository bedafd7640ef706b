"""`--since` / `--until` on the reports: which contacts and decisions a window holds.

A window selects contacts by their first decision ever (the help text's "first decided from this
date"): a contact decided before ``since`` and again inside the window was treated before it, so
its CUPED pre-period would hold the treatment's own effect. The report folder's reach and weekly
reach follow the same window as its lift.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.models import Action, ActionKind, Activity, Contact, Decision, Identity
from hub.reports import write_report
from hub.reports.data import load_arm_frame
from hub.store import Store
from hub.store.activities import insert_activities
from hub.store.contacts import upsert_contacts
from hub.store.decisions import insert_decisions
from hub.store.schema import contacts as contacts_table

T0 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
T1 = T0 + timedelta(days=14)  # the window's start: a re-decide two weeks later
ACT = Action(kind=ActionKind.SET_FIELDS, payload={"fields": {"next_best_action": "email_nurture_technical"}})


def _decision(cid: int, at: datetime, arm: str, acting: bool = True) -> Decision:
    return Decision(
        contact_id=cid,
        actions=[ACT] if acting else [],
        policy="p",
        policy_version="1",
        arm=arm,
        explanation="nurture" if acting else "No rule matched",
        created_at=at,
    )


@pytest.fixture()
def store(tmp_path):
    """Contacts 0-9 first decided at T0 and again at T1; 10-19 first decided at T1 + 1 day;
    20-24 first decided at T1 + 20 days (after the window below), 0-4 then again with no action."""
    s = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    people = [Contact(identities=[Identity(connector="crm", external_id=str(i))]) for i in range(25)]
    with s.begin() as conn:
        upsert_contacts(conn, people, T0 - timedelta(days=30))
        ids = sorted(conn.execute(select(contacts_table.c.id)).scalars())
    early, late, after = ids[:10], ids[10:20], ids[20:]
    arm = {cid: "engine" if k % 2 else "holdout" for k, cid in enumerate(ids)}
    with s.begin() as conn:
        insert_decisions(conn, [_decision(c, T0, arm[c]) for c in early], "batch-1")
        insert_decisions(conn, [_decision(c, T1, arm[c]) for c in early], "batch-2")
        insert_decisions(conn, [_decision(c, T1 + timedelta(days=1), arm[c]) for c in late], "batch-3")
        insert_decisions(conn, [_decision(c, T1 + timedelta(days=20), arm[c]) for c in after], "batch-4")
        insert_decisions(conn, [_decision(c, T1 + timedelta(days=20), arm[c], False) for c in early[:5]], "batch-5")
        insert_activities(
            conn,
            [
                Activity(
                    contact_id=c, type="meeting", occurred_at=T1 - timedelta(days=3), source="t", external_id=f"m{c}"
                )
                for c in early
            ],
        )
    s.ids = (early, late, after)
    yield s
    s.engine.dispose()


def test_since_selects_contacts_by_their_first_decision_ever(store):
    early, late, _ = store.ids
    with store.connect() as conn:
        frame = load_arm_frame(conn, since=T1, until=T1 + timedelta(days=10))
    assert sorted(frame.contact_id.tolist()) == late  # not the contacts re-decided at T1
    assert set(frame.first_at.tolist()) == {(T1 + timedelta(days=1)).timestamp()}
    # the treated contacts' meeting before T1 is nobody's pre-period in this window
    assert len(frame.pre_row) == 0
    with store.connect() as conn:
        first_half = load_arm_frame(conn, until=T1)
    assert sorted(first_half.contact_id.tolist()) == early
    assert set(first_half.first_at.tolist()) == {T0.timestamp()}
    assert len(first_half.ev_row) == len(early)  # their meetings after T0 count for them


def test_report_folder_reach_and_weekly_reach_follow_the_window(store, tmp_path):
    early, late, after = store.ids
    until = T1 + timedelta(days=10)
    res = write_report(store, tmp_path / "out", since=T1, until=until)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["contacts_decided"] == len(late)
    assert summary["window"] == {"since": T1.isoformat(), "until": until.isoformat()}
    # reach as of the window's end: the no-action re-decides and the contacts decided after it are later
    assert res.reach.with_action == len(early) + len(late)
    never = {r.reason: r.contacts for r in res.reach.rows}
    assert never == {"never decided": len(after)}
    weekly = (tmp_path / "out" / "weekly_reach.csv").read_text().splitlines()[1:]
    assert weekly == [f"{T1.date().isoformat()},{len(early) + len(late)},0"]  # no week outside the window
    assert "Window: from 2025-03-17 to 2025-03-27" in (tmp_path / "out" / "report.md").read_text()
    everything = write_report(store, tmp_path / "all")
    assert everything.reach.with_action == len(early) - 5 + len(late) + len(after)
    assert json.loads((tmp_path / "all" / "summary.json").read_text())["window"] == {"since": None, "until": None}
