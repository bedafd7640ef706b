"""`hub import segment`: Segment-spec JSON lines from a file, idempotent, bad lines named, and a
declared outcome among them attributed to the decision before it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub.config import load_settings
from hub.models import Contact, Identity
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.segment_import import import_file
from hub.store import Store, lookup
from hub.store import contacts as contacts_store
from hub.store.schema import activities, outcomes
from tests.conftest import hub_config
from tests.test_config import run_hub

OUTCOMES = {"decision.outcomes": [{"name": "trial_started", "event": "Trial Started"}]}
AT = {"timestamp": "2026-01-05T10:00:00Z"}  # an exported event has its own time


def write_lines(path, lines) -> None:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")


def test_import_attributes_a_declared_outcome_to_the_decision_before_it(tmp_path, store_url, redis_url):
    Store(store_url, auto_migrate=True).dispose()
    ctx = HubContext.build(load_settings(hub_config(tmp_path, store_url, redis_url, **OUTCOMES)), embedded=True)
    try:
        first = tmp_path / "identify.jsonl"
        write_lines(
            first, [{"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"email": "ann@x.example"}}]
        )
        assert import_file(ctx, first).counts == {"identified": 1}
        with ctx.store.connect() as conn:
            cid = lookup.contact_by_email(conn, "ann@x.example")
        decide_contacts(ctx, [cid], "before-trial")
        later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        second = tmp_path / "track.jsonl"
        write_lines(
            second,
            [{"type": "track", "userId": "u1", "messageId": "t1", "event": "Trial Started", "timestamp": later}],
        )
        assert import_file(ctx, second).counts == {"stored": 1}
        with ctx.store.connect() as conn:
            rewards = [r.reward for r in conn.execute(select(outcomes.c.reward))]
        assert rewards == [{"custom": 1.0, "trial_started": 1.0}]
    finally:
        ctx.close()


def test_hub_import_events_names_bad_lines_exits_0_and_imports_once(tmp_path, redis_url):
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    Store(url, auto_migrate=True).dispose()
    cfg = hub_config(tmp_path, url, redis_url, **OUTCOMES)
    events = tmp_path / "events.jsonl"
    write_lines(
        events,
        [
            {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"email": "ann@x.example"}},
            {"type": "track", "userId": "u1", "messageId": "t1", "event": "Trial Started", **AT},
            {"type": "track", "messageId": "t2", "event": "Trial Started", **AT},
            "{not json",
            "",
            {"type": "page", "anonymousId": "v1", "messageId": "p1", "properties": {"path": "/"}, **AT},
        ],
    )
    first = run_hub("import", "segment", str(events), "-c", str(cfg), "--json")
    assert first.returncode == 0, first.stderr  # as hub import contacts/events: skipped lines are listed
    report = json.loads(first.stdout)
    assert report["lines"] == 5 and report["counts"] == {"identified": 1, "stored": 1, "held": 1}
    assert [(r["line"], r["messageId"]) for r in report["rejects"]] == [(3, "t2"), (4, None)]
    assert "userId or an anonymousId" in report["rejects"][0]["reason"]
    again = json.loads(run_hub("import", "segment", str(events), "-c", str(cfg), "--json").stdout)
    assert again["counts"] == {"duplicate": 3}
    store = Store(url)
    with store.connect() as conn:
        assert len(conn.execute(select(activities).where(activities.c.source == "segment")).all()) == 1
    store.dispose()
    missing = run_hub("import", "segment", str(tmp_path / "nope.jsonl"), "-c", str(cfg))
    assert missing.returncode == 2


def test_an_exported_event_keeps_its_own_time_and_is_no_outcome_of_a_later_decision(tmp_path, store_url, redis_url):
    """A Segment export holds messages received long ago: ``timestamp`` is already corrected and
    ``originalTimestamp`` is corrected against the message's own ``receivedAt``. Corrected
    against the import's clock instead, a trial of March 2024 was stored as today's and credited
    to a decision made today."""
    from hub.segment import event_time

    Store(store_url, auto_migrate=True).dispose()
    ctx = HubContext.build(load_settings(hub_config(tmp_path, store_url, redis_url, **OUTCOMES)), embedded=True)
    try:
        ident = tmp_path / "identify.jsonl"
        write_lines(
            ident, [{"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"email": "b@x.example"}}]
        )
        import_file(ctx, ident)
        with ctx.store.connect() as conn:
            cid = lookup.contact_by_email(conn, "b@x.example")
        decide_contacts(ctx, [cid], "today")
        export = tmp_path / "export.jsonl"
        sent = {"sentAt": "2024-03-05T10:00:05Z", "receivedAt": "2024-03-05T10:00:02Z"}
        write_lines(
            export,
            [
                {"type": "track", "userId": "u1", "messageId": "t1", "event": "Trial Started",
                 "timestamp": "2024-03-05T09:59:58Z", "originalTimestamp": "2024-03-05T10:00:01Z", **sent},
                {"type": "track", "userId": "u1", "messageId": "t2", "event": "Demo Watched",
                 "originalTimestamp": "2024-03-05T10:00:00Z", **sent},
            ],
        )  # fmt: skip
        assert import_file(ctx, export).counts == {"stored": 2}
        with ctx.store.connect() as conn:
            stored = dict(
                conn.execute(
                    select(activities.c.external_id, activities.c.occurred_at).where(activities.c.source == "segment")
                ).all()
            )
            credited = conn.execute(select(outcomes.c.reward)).all()
        at = {k.rsplit(":", 1)[-1]: v.replace(tzinfo=UTC) if v.tzinfo is None else v for k, v in stored.items()}
        assert at["t1"] == datetime(2024, 3, 5, 9, 59, 58, tzinfo=UTC)  # Segment's own corrected time
        assert at["t2"] == datetime(2024, 3, 5, 9, 59, 57, tzinfo=UTC)  # 10:00:00 + (received - sent)
        assert credited == []  # long before the decision: no outcome of it
    finally:
        ctx.close()
    # sent now, the sender's clock is corrected by our clock on receipt, as before
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    live = {"timestamp": "2026-01-01T11:00:00Z", "sentAt": "2026-01-01T11:00:30Z"}
    assert event_time(live, now, exported=False) == now - timedelta(seconds=30)


def test_importing_an_old_identify_does_not_revert_the_live_profile(tmp_path, store_url, redis_url):
    """A live identify today, then `hub import segment` of last year's export: today's traits
    stay; a trait only the old identify has fills the gap."""
    Store(store_url, auto_migrate=True).dispose()
    ctx = HubContext.build(load_settings(hub_config(tmp_path, store_url, redis_url, **OUTCOMES)), embedded=True)
    try:
        now = datetime.now(UTC).isoformat()
        live = {"email": "dana@x.example", "lastName": "Married-Name", "title": "CTO", "company": "NewCo"}
        path = tmp_path / "live.jsonl"
        write_lines(path, [{"type": "identify", "userId": "d1", "messageId": "live", "timestamp": now, "traits": live}])
        import_file(ctx, path)  # a sender's live call would be the same upsert with the same time
        old = {**live, "lastName": "Maiden-Name", "title": "Junior Analyst", "company": "OldCo", "firstName": "Dana"}
        export = {
            "type": "identify",
            "userId": "d1",
            "messageId": "exp",
            "timestamp": "2025-01-10T09:00:00Z",
            "receivedAt": "2025-01-10T09:00:01Z",
            "traits": old,
        }
        write_lines(path, [export])
        assert import_file(ctx, path).counts == {"identified": 1}
        with ctx.store.connect() as conn:
            cid = lookup.contact_by_email(conn, "dana@x.example")
            (c,) = contacts_store.load_contacts(conn, [cid])
        assert (c.last_name, c.job_title, c.company.name) == ("Married-Name", "CTO", "NewCo")
        assert c.first_name == "Dana"  # missing from the live record: the old one fills it
        assert c.updated_at.date() == datetime.now(UTC).date()
    finally:
        ctx.close()


def test_each_bad_line_is_said_once_and_only_a_file_of_bad_lines_exits_1(tmp_path, redis_url):
    """Each skipped line was printed twice (a log line, then the table) and the command exited 1
    when any line was skipped, while hub import contacts/events exit 1 only when nothing was imported."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    Store(url, auto_migrate=True).dispose()
    cfg = hub_config(tmp_path, url, redis_url)
    good = json.dumps({"type": "track", "userId": "u1", "messageId": "t1", "event": "Signed Up", **AT}).encode()
    latin1 = (
        b'{"type": "track", "userId": "Jos\xe9", "messageId": "t2", "event": "Signed Up", "timestamp": "2026-01-05"}'
    )
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join([good, latin1, b"{not json"]) + b"\n")
    run = run_hub("import", "segment", str(events), "-c", str(cfg))
    assert run.returncode == 0, run.stderr
    said = run.stdout + run.stderr
    assert said.count("0xe9") == 1 and said.count("line 3") == 1, said
    assert "skipped" in run.stdout and "held" in run.stdout  # the table stays
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(latin1 + b"\n{not json\n")
    run = run_hub("import", "segment", str(bad), "-c", str(cfg))
    assert run.returncode == 1 and run.stdout.count("0xe9") == 1
    assert "No line was imported" in run.stderr


def test_an_exported_event_with_no_time_of_its_own_is_skipped_not_stored_as_now(tmp_path, redis_url):
    """A line with no timestamp, originalTimestamp, receivedAt or sentAt (a hand-made file) was
    stored at the import's clock: a purchase of years ago became today's, credited to today's
    decisions. Each such line is named; an identify (traits, no activity) is still applied."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    Store(url, auto_migrate=True).dispose()
    ctx = HubContext.build(load_settings(hub_config(tmp_path, url, redis_url)), embedded=True)
    try:
        lines = tmp_path / "events.jsonl"
        write_lines(
            lines,
            [
                {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"email": "c@x.example"}},
                {"type": "track", "userId": "u1", "messageId": "t1", "event": "Order Completed"},
                {"type": "page", "userId": "u1", "messageId": "p1", "receivedAt": "2024-03-05T10:00:02Z"},
            ],
        )
        report = import_file(ctx, lines)
        assert report.counts == {"identified": 1, "stored": 1}
        assert [(n, m) for n, m, _ in report.rejects] == [(2, "t1")]
        assert "no timestamp" in report.rejects[0][2]
        with ctx.store.connect() as conn:
            kept = conn.execute(select(activities.c.external_id)).scalars().all()
        assert kept == ["m:p1"]
    finally:
        ctx.close()


def test_a_user_id_that_is_an_email_finds_the_person_with_that_email(tmp_path, redis_url):
    """Many senders use the e-mail as Segment's userId. Such a track was held as anonymous for
    ever (no identify would come for it), though the person was imported or synced with that
    e-mail: every purchase in a Segment export of such a sender was lost to the hub."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    Store(url, auto_migrate=True).dispose()
    ctx = HubContext.build(load_settings(hub_config(tmp_path, url, redis_url)), embedded=True)
    try:
        with ctx.store.begin() as conn:
            person = Contact(identities=[Identity(connector="import", external_id="d")], emails=["d@x.example"])
            contacts_store.upsert_contacts(conn, [person])
        lines = tmp_path / "events.jsonl"
        track = {"type": "track", "userId": "D@x.example", "messageId": "t1", "event": "Order Completed", **AT}
        write_lines(lines, [track])
        assert import_file(ctx, lines).counts == {"stored": 1}
        with ctx.store.connect() as conn:
            assert conn.execute(select(activities.c.contact_id)).scalars().all() == [
                lookup.contact_by_email(conn, "d@x.example")
            ]
    finally:
        ctx.close()


def test_an_undated_exported_identify_fills_gaps_and_does_not_overwrite(tmp_path, redis_url):
    """An identify line with no time at all took the import's clock as its time, so an old
    file's traits overwrote what the CRM holds now. Undated, it merges as the oldest record, as
    an undated `hub import contacts` row does: the CRM's values stay, gaps are filled."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    Store(url, auto_migrate=True).dispose()
    ctx = HubContext.build(load_settings(hub_config(tmp_path, url, redis_url)), embedded=True)
    try:
        crm = Contact(
            identities=[Identity(connector="crm", external_id="9")],
            emails=["e@x.example"],
            job_title="CTO",
            updated_at=datetime.now(UTC) - timedelta(days=1),
        )
        with ctx.store.begin() as conn:
            contacts_store.upsert_contacts(conn, [crm])
        path = tmp_path / "old.jsonl"
        traits = {"email": "e@x.example", "title": "Junior Analyst", "firstName": "Eve"}
        write_lines(path, [{"type": "identify", "userId": "e1", "messageId": "i1", "traits": traits}])
        assert import_file(ctx, path).counts == {"identified": 1}
        with ctx.store.connect() as conn:
            (c,) = contacts_store.load_contacts(conn, [lookup.contact_by_email(conn, "e@x.example")])
        assert (c.job_title, c.first_name) == ("CTO", "Eve")
    finally:
        ctx.close()


def test_an_empty_segment_file_imports_0_messages_and_says_so(tmp_path, redis_url):
    """A JSON-lines export of no messages is valid (JSON lines have no header): it printed a table
    with one row, "skipped 0", and nothing that said the file held no message."""
    from typer.testing import CliRunner

    from hub.cli import app

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    Store(url, auto_migrate=True).dispose()
    cfg = hub_config(tmp_path, url, redis_url)
    for body in ("", "\n \n"):
        events = tmp_path / "events.jsonl"
        events.write_text(body)
        res = CliRunner().invoke(app, ["import", "segment", str(events), "-c", str(cfg)])
        assert res.exit_code == 0, res.output
        assert "Imported 0 messages: events.jsonl has none." in res.stdout and "skipped" not in res.stdout
