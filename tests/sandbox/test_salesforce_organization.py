"""The Organization object: the org's default time zone, readable with "View Setup and
Configuration" only. A user without it is told the object is not there (400 INVALID_TYPE
"sObject type 'Organization' is not supported.", dxatscale/sfpowerscripts#968)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from hub.sandbox.salesforce_server import SalesforceCredentials, SalesforceLimits
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World

from .conftest import salesforce_client


def test_the_org_s_time_zone_is_queried_from_organization() -> None:
    with start_sandbox(World(n_contacts=5, seed=1), salesforce_limits=SalesforceLimits(time_zone="Asia/Tokyo")) as sb:
        sf = salesforce_client(sb)
        res = sf.query("SELECT Id, TimeZoneSidKey FROM Organization")
        assert res["totalSize"] == 1
        row = res["records"][0]
        assert (row["attributes"]["type"], row["Id"][:3], row["TimeZoneSidKey"]) == (
            "Organization",
            "00D",
            "Asia/Tokyo",
        )
        assert "Organization" in {o["name"] for o in sf.describe()["sobjects"]}
        with pytest.raises(SalesforceMalformedRequest) as refused:  # the org is not made through the API
            sf.restful("sobjects/Organization", method="POST", json={"Name": "Another"})
        assert refused.value.content[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"
        assert len(sb.world.salesforce.objects["Organization"]) == 1


def test_without_view_setup_the_organization_object_is_not_there() -> None:
    creds = SalesforceCredentials(view_setup=False)
    with start_sandbox(World(n_contacts=5, seed=1), salesforce_credentials=creds) as sb:
        sf = salesforce_client(sb)
        with pytest.raises(SalesforceMalformedRequest) as refused:
            sf.query("SELECT TimeZoneSidKey FROM Organization")
        assert refused.value.status == 400
        assert refused.value.content[0]["errorCode"] == "INVALID_TYPE"
        assert "sObject type 'Organization' is not supported" in refused.value.content[0]["message"]
        assert "Organization" not in {o["name"] for o in sf.describe()["sobjects"]}
        assert sf.query("SELECT Id FROM User LIMIT 1")["totalSize"] == 1  # the rest is as before
