"""Pulling at the wire: SystemModstamp windows, deletes and conversions, rejects, resumable cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from connectors.salesforce.client import DailyLimitReached
from connectors.salesforce.cursor import StreamCursor
from hub.models import ActivityType

from .wire import BASE, add_deleted, add_describe, connector, person, query_page, session_settings, sf_error

START = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def soql_of(call) -> str:
    return parse_qs(urlparse(call.request.url).query)["q"][0]


def lead_settings():
    return session_settings(objects=["Lead"], overlap_seconds=60)


@responses.activate
def test_window_is_capped_at_the_sync_start_and_deletes_come_from_query_all() -> None:
    add_describe(responses, "Lead", {"Hub_Next_Best_Action__c": "string"})
    rows = [
        person("00Q1", "2026-01-10T10:00:00.000+0000", Email="a@x.com", Hub_Next_Best_Action__c="call"),
        person("00Q2", "2026-01-10T10:00:01.000+0000", IsDeleted=True),
        person("00Q3", "2026-01-10T10:00:02.000+0000", IsConverted=True, ConvertedContactId="003C"),
        {"Id": None, "SystemModstamp": "not a date", "Email": 12345},
    ]
    responses.get(f"{BASE}/queryAll/", json=query_page(rows))
    conn = connector(lead_settings())
    conn.clock = lambda: START
    pages = list(conn.pull_contacts(None))
    soql = soql_of(responses.calls[-1])
    # up to the last whole second before the sync start: Salesforce stamps to the second and
    # ignores milliseconds, so the second the sync starts in is still open (mapping.last_whole_second)
    assert "SystemModstamp <= 2026-01-10T11:59:59.000Z" in soql and ">" not in soql.split("WHERE")[1].split("<=")[0]
    assert "Hub_Next_Best_Action__c" in soql and "ORDER BY SystemModstamp ASC, Id ASC" in soql
    page, end = pages
    assert (
        end.items == []
        and StreamCursor.loads(end.cursor).objects["Lead"].read_ms == int(START.timestamp() * 1000) - 1000
    )
    assert StreamCursor.loads(page.cursor).objects["Lead"].read_ms is None  # set only once read to the end
    assert [c.identities[0].external_id for c in page.items] == ["00Q1"]
    assert page.items[0].crm_fields == {"next_best_action": "call"}
    assert {i.external_id for i in page.deleted} == {"00Q2"}
    assert [(m.source.external_id, m.target.object_type, m.target.external_id) for m in page.moved] == [
        ("00Q3", "contact", "003C")  # a converted lead lives on as its contact
    ]
    assert [r.external_id for r in page.rejects] == ["<no Id>"] and "Lead" in page.rejects[0].reason
    assert StreamCursor.loads(page.cursor).objects["Lead"].since_ms == int(
        datetime(2026, 1, 10, 10, 0, 2, tzinfo=UTC).timestamp() * 1000
    )


@responses.activate
def test_next_sync_overlaps_and_drops_rows_already_read() -> None:
    add_describe(responses, "Lead")
    add_deleted(responses, "Lead")
    first = [person("00Q1", "2026-01-10T10:00:00.000+0000"), person("00Q2", "2026-01-10T10:00:30.000+0000")]
    responses.get(f"{BASE}/queryAll/", json=query_page(first))
    conn = connector(lead_settings())
    conn.clock = lambda: START
    cursor = list(conn.pull_contacts(None))[-1].cursor
    # the overlap re-reads 00Q2 (same stamp: dropped) and finds 00Q9, committed late with an older stamp
    again = [
        person("00Q9", "2026-01-10T10:00:10.000+0000"),
        person("00Q2", "2026-01-10T10:00:30.000+0000"),
        person("00Q1", "2026-01-10T11:00:00.000+0000"),
    ]
    responses.replace(responses.GET, f"{BASE}/queryAll/", json=query_page(again))
    page, _end = list(conn.pull_contacts(cursor))
    soql = soql_of(responses.calls[-1])
    assert "SystemModstamp >= 2026-01-10T09:59:30.000Z" in soql
    assert [c.identities[0].external_id for c in page.items] == ["00Q9", "00Q1"]


@responses.activate
def test_without_overlap_a_sync_stopped_inside_equal_stamps_resumes_at_the_stamp() -> None:
    """Three leads share one SystemModstamp; the first sync stops after two (a limit, a time
    budget, a crash). With ``overlap_seconds: 0`` the next window must still include the stamp
    itself: ``>`` lost the third lead for good."""
    add_describe(responses, "Lead")
    stamp = "2026-01-10T10:00:00.000+0000"
    responses.get(f"{BASE}/queryAll/", json=query_page([person("00Q1", stamp), person("00Q2", stamp)]))
    conn = connector(session_settings(objects=["Lead"], overlap_seconds=0))
    conn.clock = lambda: START
    cursor = list(conn.pull_contacts(None))[0].cursor  # the page's cursor: the sync stopped after it
    responses.replace(
        responses.GET,
        f"{BASE}/queryAll/",
        json=query_page([person("00Q1", stamp), person("00Q2", stamp), person("00Q3", stamp)]),
    )
    page, _end = list(conn.pull_contacts(cursor))
    assert "SystemModstamp >= 2026-01-10T10:00:00.000Z" in soql_of(responses.calls[-1])
    assert [c.identities[0].external_id for c in page.items] == ["00Q3"]  # the two read before: dropped


@responses.activate
def test_contacts_are_read_before_leads_and_each_page_carries_both_cursors() -> None:
    add_describe(responses, "Contact")
    add_describe(responses, "Lead")
    responses.get(
        f"{BASE}/queryAll/",
        json=query_page([person("003A", "2026-01-10T10:00:00.000+0000")], "/services/data/v59.0/queryAll/01g-1"),
    )
    responses.get(f"{BASE}/queryAll/01g-1", json=query_page([person("003B", "2026-01-10T10:00:01.000+0000")]))
    responses.get(f"{BASE}/queryAll/", json=query_page([person("00QA", "2026-01-10T10:00:02.000+0000")]))
    conn = connector(session_settings(objects=["Lead", "Contact"]))
    conn.clock = lambda: START
    pages = list(conn.pull_contacts(None))
    froms = [soql_of(c).split("FROM ")[1].split()[0] for c in responses.calls if "q=" in c.request.url]
    assert froms == ["Contact", "Lead"]
    kinds = [p.items[0].identities[0].object_type if p.items else "end" for p in pages]
    assert kinds == ["contact", "contact", "end", "lead", "end"]  # each object's window closes with its mark
    assert set(StreamCursor.loads(pages[-1].cursor).objects) == {"Contact", "Lead"}


@responses.activate
def test_daily_limit_mid_sync_stops_after_the_last_good_page() -> None:
    add_describe(responses, "Lead")
    responses.get(
        f"{BASE}/queryAll/",
        json=query_page([person("00Q1", "2026-01-10T10:00:00.000+0000")], "/services/data/v59.0/queryAll/01g-1"),
    )
    responses.get(
        f"{BASE}/queryAll/01g-1", json=sf_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), status=403
    )
    conn = connector(lead_settings())
    conn.clock = lambda: START
    pulled = conn.pull_contacts(None)
    first = next(pulled)
    with pytest.raises(DailyLimitReached):
        next(pulled)
    assert StreamCursor.loads(first.cursor).objects["Lead"].seen == {
        "00Q1": int(datetime(2026, 1, 10, 10, tzinfo=UTC).timestamp() * 1000)
    }


@responses.activate
def test_expired_locator_requeries_from_the_cursor() -> None:
    add_describe(responses, "Lead")
    responses.get(
        f"{BASE}/queryAll/",
        json=query_page([person("00Q1", "2026-01-10T10:00:00.000+0000")], "/services/data/v59.0/queryAll/01g-1"),
    )
    responses.get(f"{BASE}/queryAll/01g-1", json=sf_error("INVALID_QUERY_LOCATOR"), status=400)
    responses.get(f"{BASE}/queryAll/", json=query_page([person("00Q2", "2026-01-10T10:00:05.000+0000")]))
    conn = connector(lead_settings())
    conn.clock = lambda: START
    pages = list(conn.pull_contacts(None))
    assert [c.identities[0].external_id for p in pages for c in p.items] == ["00Q1", "00Q2"]
    # from the cursor itself, not less the overlap (read at the window's start already)
    assert "SystemModstamp >= 2026-01-10T10:00:00.000Z" in soql_of(responses.calls[-1])


@responses.activate
def test_activities_from_tasks_and_events() -> None:
    add_describe(responses, "Task")  # has Type
    responses.get(f"{BASE}/sobjects/Event/describe", json={"name": "Event", "fields": []})
    task = {
        "Id": "00T1",
        "SystemModstamp": "2026-01-10T10:00:00.000+0000",
        "WhoId": "003A",
        "TaskSubtype": "Email",
        "ActivityDate": "2026-01-09",
    }
    orphan = {"Id": "00T2", "SystemModstamp": "2026-01-10T10:00:01.000+0000", "WhoId": None}
    event = {
        "Id": "00U1",
        "SystemModstamp": "2026-01-10T10:00:00.000+0000",
        "WhoId": "00QA",
        "StartDateTime": "2026-01-11T15:00:00.000+0000",
    }
    deleted = {"Id": "00T3", "IsDeleted": True, "SystemModstamp": "2026-01-10T10:00:02.000+0000", "WhoId": "003A"}
    responses.get(
        f"{BASE}/sobjects/Opportunity/describe", json={"name": "Opportunity", "fields": [{"name": "ContactId"}]}
    )
    won = {
        "Id": "0061",
        "SystemModstamp": "2026-01-10T10:00:00.000+0000",
        "CreatedDate": "2026-01-02T09:00:00.000+0000",
        "ContactId": "003A",
        "Amount": 1200.5,
        "StageName": "Closed Won",
        "CloseDate": "2026-01-09",
        "IsClosed": True,
        "IsWon": True,
    }
    no_contact = {**won, "Id": "0062", "ContactId": None}
    # queryAll: archived activities (over a year old) are only there
    responses.get(f"{BASE}/queryAll/", json=query_page([task, orphan, deleted]))
    responses.get(f"{BASE}/queryAll/", json=query_page([event]))
    responses.get(f"{BASE}/query/", json=query_page([won, no_contact]))
    conn = connector(session_settings())
    conn.clock = lambda: START
    pages = list(conn.pull_activities(None))
    queries = [soql_of(c) for c in responses.calls if "q=" in c.request.url]
    assert "Type" in queries[0].split("FROM")[0] and ", Type" not in queries[1]
    assert "ContactId" in queries[2].split("FROM")[0]
    items = [a for p in pages for a in p.items]
    assert [(a.type, a.contact_ref.object_type) for a in items] == [
        (ActivityType.EMAIL_SENT, "contact"),
        (ActivityType.MEETING, "lead"),
        (ActivityType.OPPORTUNITY_CREATED, "contact"),
        (ActivityType.OPPORTUNITY_WON, "contact"),
    ]
    created, closed = items[2:]
    assert created.properties["amount"] == closed.properties["amount"] == 1200.5
    assert created.occurred_at.day == 2 and closed.occurred_at.day == 9
    assert {created.external_id, closed.external_id} == {"Opportunity:0061:created", "Opportunity:0061:closed"}


@responses.activate
def test_after_a_gap_longer_than_the_recycle_bin_keeps_deletions_live_ids_are_listed() -> None:
    add_describe(responses, "Lead")
    add_deleted(responses, "Lead")
    responses.get(f"{BASE}/queryAll/", json=query_page([]))
    conn = connector(lead_settings())
    conn.clock = lambda: START
    cursor = list(conn.pull_contacts(None))[-1].cursor
    conn.clock = lambda: START + timedelta(days=10)  # within the Recycle Bin's 15 days: no listing
    assert all(p.live is None for p in conn.pull_contacts(cursor))
    responses.get(f"{BASE}/query/", json=query_page([{"Id": "00Q1"}, {"Id": "00Q7"}]))
    conn.clock = lambda: START + timedelta(days=16)
    first, *_ = list(conn.pull_contacts(cursor))
    assert first.live is not None and first.live.object_type == "lead"
    assert first.live.external_ids == ["00Q1", "00Q7"]
    listing = [c for c in responses.calls if "/query/" in c.request.url]
    assert [soql_of(c) for c in listing] == ["SELECT Id FROM Lead"]


@responses.activate
def test_a_bin_that_let_go_of_a_deletion_since_the_last_sync_gets_live_ids_listed() -> None:
    """A full Recycle Bin deletes records for good after two hours: ``/deleted``'s
    earliestDateAvailable later than the last sync means queryAll may have lost deletions."""
    add_describe(responses, "Lead")
    responses.get(f"{BASE}/queryAll/", json=query_page([]))
    conn = connector(lead_settings())
    conn.clock = lambda: START
    cursor = list(conn.pull_contacts(None))[-1].cursor
    add_deleted(responses, "Lead", earliest="2026-01-10T13:00:00.000+0000")
    responses.get(f"{BASE}/query/", json=query_page([{"Id": "00Q1"}]))
    conn.clock = lambda: START + timedelta(hours=3)
    first, *_ = list(conn.pull_contacts(cursor))
    assert first.live is not None and first.live.external_ids == ["00Q1"]
    [asked] = [c for c in responses.calls if "/deleted/" in c.request.url]
    query = parse_qs(urlparse(asked.request.url).query)
    assert query["start"] == ["2026-01-10T14:54:59+00:00"] and query["end"] == ["2026-01-10T14:59:59+00:00"]
