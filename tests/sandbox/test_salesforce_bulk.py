"""Bulk API 2.0 query jobs in the Salesforce look-alike, through simple-salesforce's ``sf.bulk2``.

Vendor reference: Salesforce "Bulk API 2.0 and Bulk API Developer Guide": "Create a Query Job",
"Get Information About a Query Job", "Get Results for a Query Job", "Understanding Bulk API 2.0
Query" (developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import Operation

from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World

from .conftest import salesforce_client


@pytest.fixture
def small() -> Iterator[tuple[World, SandboxHandle]]:
    world = World(n_contacts=300, seed=5)
    with start_sandbox(world) as sb:
        yield world, sb


def _jobs_url(sf: Salesforce) -> str:
    return sf.bulk2_url + "query"


def _post(sf: Salesforce, body: dict) -> tuple[int, object]:
    r = sf.session.post(_jobs_url(sf), json=body, headers={"Authorization": "Bearer " + sf.session_id})
    return r.status_code, r.json()


def _get(sf: Salesforce, path: str, **params: str) -> tuple[int, object, dict]:
    r = sf.session.get(_jobs_url(sf) + path, params=params, headers={"Authorization": "Bearer " + sf.session_id})
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text
    return r.status_code, body, dict(r.headers)


def test_a_query_job_polls_to_complete_and_pages_by_locator(small) -> None:
    """Create answers UploadComplete; polls see InProgress before JobComplete; results come in
    ``maxRecords`` pages chained by ``Sforce-Locator`` ("null" on the last) with
    ``Sforce-NumberOfRecords`` ("Get Results for a Query Job")."""
    world, sb = small
    sf = salesforce_client(sb)
    client = sf.bulk2.Contact._client
    job = client.create_job(Operation.query, "SELECT Id, Email, HasOptedOutOfEmail, Account.Name FROM Contact")
    assert job["state"] == "UploadComplete" and job["operation"] == "query" and job["object"] == "Contact"
    states = [client.get_job(job["id"], True)["state"] for _ in range(4)]
    assert states[0] == "InProgress" and states[-1] == "JobComplete"
    live = {r["Id"]: r for r in world.salesforce.objects["Contact"].values() if not r["IsDeleted"]}
    assert client.get_job(job["id"], True)["numberRecordsProcessed"] == len(live)
    seen: dict[str, dict[str, str]] = {}
    locator, pages = "", 0
    while True:
        page = client.get_query_results(job["id"], locator, max_records=100)
        rows = list(csv.DictReader(io.StringIO(page["records"])))
        assert page["number_of_records"] == len(rows) <= 100
        seen.update({r["Id"]: r for r in rows})
        pages += 1
        locator = page["locator"]
        if not locator:
            break
    assert pages == -(-len(live) // 100) and set(seen) == set(live)
    rid, rec = next((k, v) for k, v in live.items() if not v["Email"] or v["HasOptedOutOfEmail"] is False)
    assert seen[rid]["HasOptedOutOfEmail"] in ("true", "false")
    assert seen[rid]["Email"] == (rec["Email"] or "")  # null is an empty value


def test_csv_is_quoted_and_datetimes_are_iso_utc(small) -> None:
    """Query results are CSV with a header row and every value in double quotes (the example in
    "Get Results for a Query Job"); dateTime values as yyyy-MM-ddTHH:mm:ss.SSSZ ("Valid Date
    Format in Records")."""
    _world, sb = small
    sf = salesforce_client(sb)
    client = sf.bulk2.Lead._client
    job = client.create_job(Operation.query, "SELECT Id, SystemModstamp, IsConverted FROM Lead")
    client.wait_for_job(job["id"], True, wait=0.01)
    text = client.get_query_results(job["id"], "", 5)["records"]
    lines = text.splitlines()
    assert lines[0] == '"Id","SystemModstamp","IsConverted"'
    rid, stamp, converted = next(csv.reader([lines[1]]))
    assert lines[1].startswith('"00Q') and rid.startswith("00Q")
    assert len(stamp) == 24 and stamp[10] == "T" and stamp.endswith("Z") and converted in ("true", "false")


def test_query_all_returns_deleted_rows_and_query_does_not(small) -> None:
    """``queryAll`` returns records deleted by a merge or delete and archived Tasks and Events;
    ``query`` does not ("Create a Query Job", operation)."""
    world, sb = small
    sf = salesforce_client(sb)
    lead = next(r for r in world.salesforce.objects["Lead"].values() if not r["IsDeleted"])
    with world.lock:
        world.salesforce.delete("Lead", lead["Id"], "test")

    def ids(op: Operation) -> set[str]:
        client = sf.bulk2.Lead._client
        job = client.create_job(op, "SELECT Id FROM Lead")
        client.wait_for_job(job["id"], True, wait=0.01)
        return {r["Id"] for r in csv.DictReader(io.StringIO(client.get_query_results(job["id"])["records"]))}

    assert lead["Id"] in ids(Operation.query_all) and lead["Id"] not in ids(Operation.query)


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT COUNT() FROM Contact",
        "SELECT Id FROM Contact OFFSET 10",
        "SELECT LeadSource, COUNT(Id) FROM Contact GROUP BY LeadSource",
        "SELECT Id, (SELECT Id FROM Tasks) FROM Contact",
        "SELECT FIELDS(STANDARD) FROM Contact",
        "SELECT TYPEOF What WHEN Account THEN Name END FROM Event",
    ],
)
def test_bulk_refuses_what_bulk_refuses(small, soql: str) -> None:
    """Bulk API 2.0 doesn't support GROUP BY, OFFSET, TYPEOF, aggregate functions such as COUNT(),
    FIELDS(), or parent-to-child relationship queries ("Create a Query Job", note); the refusal
    is a 400 with Salesforce's error list (code as met in the field: jsforce/jsforce#732,
    OpenFn/adaptors#395 "Aggregate Relationships not supported in Bulk V2 Query")."""
    _world, sb = small
    sf = salesforce_client(sb)
    status, body = _post(sf, {"operation": "query", "query": soql})
    assert status == 400
    assert isinstance(body, list) and body[0]["errorCode"] == "FEATURENOTENABLED" and body[0]["message"]


def test_a_string_literal_is_not_mistaken_for_a_clause(small) -> None:
    _world, sb = small
    sf = salesforce_client(sb)
    status, body = _post(sf, {"operation": "query", "query": "SELECT Id FROM Contact WHERE LastName = 'OFFSET'"})
    assert status == 200 and body["state"] == "UploadComplete"


def test_job_body_is_validated(small) -> None:
    """``operation`` must be query or queryAll and ``query`` is required ("Create a Query Job",
    request parameters); unknown SOQL columns are refused as REST refuses them (INVALID_FIELD)."""
    _world, sb = small
    sf = salesforce_client(sb)
    status, body = _post(sf, {"operation": "insert", "query": "SELECT Id FROM Contact"})
    assert status == 400 and body[0]["errorCode"] == "JSON_PARSER_ERROR"
    status, body = _post(sf, {"operation": "query"})
    assert status == 400 and body[0]["errorCode"] == "INVALIDJOB"
    status, body = _post(sf, {"operation": "query", "query": "SELECT Id FROM Contact", "columnDelimiter": "SPACE"})
    assert status == 400 and body[0]["errorCode"] == "JSON_PARSER_ERROR"
    status, body = _post(sf, {"operation": "query", "query": "SELECT Nope__c FROM Contact"})
    assert status == 400 and body[0]["errorCode"] == "INVALID_FIELD"


def test_unknown_jobs_bad_locators_and_early_results_are_refused(small) -> None:
    """An unknown job id is 404 NOT_FOUND; results exist only once the job is JobComplete ("Get
    Results for a Query Job"); a locator is one the job handed out."""
    _world, sb = small
    sf = salesforce_client(sb)
    status, body, _ = _get(sf, "/750Hb000000000000AAA")
    assert status == 404 and body[0]["errorCode"] == "NOT_FOUND"
    status, body, _ = _get(sf, "/750Hb000000000000AAA/results")
    assert status == 404 and body[0]["errorCode"] == "NOT_FOUND"
    status, job = _post(sf, {"operation": "query", "query": "SELECT Id FROM Contact"})
    status, body, _ = _get(sf, f"/{job['id']}/results")
    assert status == 400 and body[0]["errorCode"] == "INVALIDJOBSTATE"
    sf.bulk2.Contact._client.wait_for_job(job["id"], True, wait=0.01)
    status, body, _ = _get(sf, f"/{job['id']}/results", locator="not-a-locator")
    assert status == 400 and body[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    status, body, _ = _get(sf, f"/{job['id']}/results", maxRecords="0")
    assert status == 400
    status, text, headers = _get(sf, f"/{job['id']}/results", maxRecords="2")
    assert status == 200 and headers["Sforce-NumberOfRecords"] == "2" and headers["Sforce-Locator"] != "null"


def test_an_armed_failure_ends_the_job_failed_with_a_message(small) -> None:
    """A job that cannot finish ends ``Failed`` with ``errorMessage`` ("Get Information About a
    Query Job"); simple-salesforce's wait raises on it."""
    from simple_salesforce.exceptions import SalesforceOperationError

    _world, sb = small
    sb.salesforce.fail_next_bulk_jobs = 1
    sf = salesforce_client(sb)
    client = sf.bulk2.Contact._client
    job = client.create_job(Operation.query, "SELECT Id FROM Contact")
    with pytest.raises(SalesforceOperationError):
        client.wait_for_job(job["id"], True, wait=0.01)
    info = client.get_job(job["id"], True)
    assert info["state"] == "Failed" and info["errorMessage"]
