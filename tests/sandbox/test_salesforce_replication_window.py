"""``GET /sobjects/{T}/deleted`` and ``/updated`` refuse a window Salesforce will not replicate,
with 400 INVALID_REPLICATION_DATE:

- a start that does not precede the end by more than one minute (SOAP API guide, getDeleted()
  and getUpdated(), "Rules and Guidelines": "The specified startDate must chronologically
  precede the specified endDate value by more than one minute ... Otherwise, the API returns an
  INVALID_REPLICATION_DATE error");
- a start more than 30 days before now (integrations that met it: getomnico/omni PR #450 "keep
  first-run deletion window inside the 30-day limit", and a Go Salesforce connector's note that
  Salesforce "returns a terse INVALID_REPLICATION_DATE for a start older than 30 days").

The sandbox answered every such window with 200, so a reader that asked for one was never
told. Salesforce's message wording for these is not recorded; the sandbox's is its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from hub.sandbox.world import World


def _now(world: World) -> datetime:
    return datetime.fromtimestamp(world.clock.peek_ms() // 1000, UTC)


@pytest.mark.parametrize("resource", ["deleted", "updated"])
@pytest.mark.parametrize(
    "start_back, end_back",
    [
        (timedelta(minutes=5), timedelta(minutes=10)),  # the end before the start
        (timedelta(minutes=5), timedelta(minutes=5)),  # the same instant
        (timedelta(seconds=60), timedelta(0)),  # one minute: not more than one
        (timedelta(days=30, minutes=1), timedelta(0)),  # a start older than 30 days
    ],
)
def test_a_window_salesforce_will_not_replicate_is_invalid_replication_date(
    sf: Salesforce, world: World, resource: str, start_back: timedelta, end_back: timedelta
) -> None:
    world.clock.set_day(40)  # an org well past its first 30 days
    now = _now(world)
    with pytest.raises(SalesforceMalformedRequest) as refused:
        getattr(sf.Contact, resource)(now - start_back, now - end_back)
    assert refused.value.status == 400
    assert refused.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


@pytest.mark.parametrize("resource", ["deleted", "updated"])
def test_a_window_of_the_last_30_days_is_answered(sf: Salesforce, world: World, resource: str) -> None:
    world.clock.set_day(40)
    now = _now(world)
    for start in (now - timedelta(days=29, hours=23), now - timedelta(seconds=61)):
        answer = getattr(sf.Contact, resource)(start, now)
        assert "latestDateCovered" in answer
