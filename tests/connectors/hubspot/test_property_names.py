"""A hub field mapped onto a property name HubSpot will not create is named by setup.

HubSpot refuses a property name with capitals or of 100 characters or more ("Names for properties
should be lowercase and have less than 100 characters.", HubSpot/hubspot-api-nodejs#277); the
sandbox created it, so setup said ok and a mapping that works nowhere else went unnoticed.
"""

from __future__ import annotations

from hub.config import ConnectorEntry
from hub.plugins import build_plugin_manager


def test_setup_reports_a_mapped_name_hubspot_refuses_and_creates_the_rest(world, sandbox) -> None:
    entry = ConnectorEntry(
        type="hubspot",
        settings={"access_token": sandbox.hubspot_token, "base_url": sandbox.hubspot_url},
        field_mapping={"lead_score": "Hub_Lead_Score"},
    )
    c = build_plugin_manager().build("hs", entry)
    c.client.sleep = lambda s: None
    report = c.ensure_schema()
    assert [p for p in report.problems if p.startswith("Hub_Lead_Score: ")], report.problems
    assert "lowercase" in report.problems[0]
    assert "Hub_Lead_Score" not in world.hubspot.properties and "hub_next_best_action" in report.created
    assert not c.check().ok
    c.close()
