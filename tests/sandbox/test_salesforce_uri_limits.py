"""Request size: Salesforce takes at most 16,384 bytes of URI and headers in one REST call.

Salesforce help 000386264 ("Maximum number of rows returned by SOQL queries over the REST API"):
a URI over the limit gets 414 URI Too Long; URI and headers together over it get 431 Request
Header Fields Too Large. A long SOQL ``IN (...)`` list in ``GET /query?q=`` meets it first.
"""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceGeneralError

from hub.sandbox.world import World


def _names(n: int) -> str:
    return ", ".join(f"'Name number {k:05d}'" for k in range(n))


def test_a_query_whose_uri_is_too_long_is_refused_with_414(sf, world: World) -> None:
    fits = sf.query(f"SELECT Id FROM Campaign WHERE Name IN ({_names(450)})")  # ~12,200 bytes as sent
    assert fits["totalSize"] == 0
    with pytest.raises(SalesforceGeneralError) as e:
        sf.query(f"SELECT Id FROM Campaign WHERE Name IN ({_names(650)})")  # ~17,600 bytes
    assert e.value.status == 414


def test_uri_and_headers_together_over_the_limit_are_refused_with_431(sf) -> None:
    soql = f"SELECT Id FROM Campaign WHERE Name IN ({_names(450)})"
    with pytest.raises(SalesforceGeneralError) as e:
        sf.query(soql, headers={"X-Padding": "x" * 4500})
    assert e.value.status == 431
