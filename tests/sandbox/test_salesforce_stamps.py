"""The Salesforce sandbox keeps datetimes as Salesforce does, through simple-salesforce.

Salesforce keeps datetimes to the second (its API answers ``…T10:00:00.000+0000``), stamps every
row one transaction writes with the same SystemModstamp, and ignores milliseconds when SOQL
compares datetimes (salesforce.stackexchange.com/questions/234824: a literal at ``.900`` equals
the stored second). A sandbox that gave every row its own millisecond hid cursor bugs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce

from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World
from tests.sandbox.conftest import salesforce_client

SYSTEM = ("CreatedDate", "LastModifiedDate", "SystemModstamp")


@pytest.fixture
def sf() -> Iterator[Salesforce]:
    world = World(n_contacts=60, seed=5, salesforce_hub_fields=True)
    sb: SandboxHandle
    with start_sandbox(world) as sb:
        yield salesforce_client(sb)


def _leads(sf: Salesforce, where: str = "") -> list[dict]:
    q = f"SELECT Id, {', '.join(SYSTEM)} FROM Lead {where} ORDER BY SystemModstamp, Id"
    return sf.query_all(q)["records"]


def test_system_datetimes_are_whole_seconds(sf: Salesforce) -> None:
    sf.Lead.create({"LastName": "Fresh", "Company": "Acme"})
    rows = _leads(sf)
    assert rows
    for row in rows:
        for f in SYSTEM:
            assert row[f].endswith(".000+0000"), (f, row[f])


def test_one_collections_call_is_one_stamp(sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Lead"}, "LastName": f"Batch {k}", "Company": "Acme"} for k in range(150)]
    out = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    ids = [r["id"] for r in out]
    assert all(r["success"] for r in out)
    rows = [r for r in _leads(sf) if r["Id"] in ids]
    assert len(rows) == 150
    assert len({(r["CreatedDate"], r["SystemModstamp"]) for r in rows}) == 1
    # and an update of them all, in one call, moves them all to one new stamp
    update = [{"attributes": {"type": "Lead"}, "Id": i, "Title": "Updated"} for i in ids]
    sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": update})
    rows = [r for r in _leads(sf) if r["Id"] in ids]
    assert len({r["SystemModstamp"] for r in rows}) == 1


def test_soql_ignores_milliseconds(sf: Salesforce) -> None:
    rid = sf.Lead.create({"LastName": "Timed", "Company": "Acme"})["id"]
    stamp = next(r["SystemModstamp"] for r in _leads(sf) if r["Id"] == rid)
    second = stamp[:19]  # 2026-01-05T10:00:00
    later = f"{second}.900Z"
    assert rid in {r["Id"] for r in _leads(sf, f"WHERE SystemModstamp >= {later}")}
    assert rid in {r["Id"] for r in _leads(sf, f"WHERE SystemModstamp = {later}")}
    assert rid not in {r["Id"] for r in _leads(sf, f"WHERE SystemModstamp > {second}.000Z")}
    assert rid in {r["Id"] for r in _leads(sf, f"WHERE SystemModstamp <= {second}.001Z")}


def test_datetime_written_with_milliseconds_is_kept_to_the_second(sf: Salesforce) -> None:
    contact = sf.Contact.create({"LastName": "Timed"})["id"]
    sf.Contact.update(contact, {"Hub_Best_Send_Time__c": "2026-01-05T09:30:15.789Z"})
    row = sf.query(f"SELECT Hub_Best_Send_Time__c FROM Contact WHERE Id = '{contact}'")["records"][0]
    assert row["Hub_Best_Send_Time__c"] == "2026-01-05T09:30:15.000+0000"
