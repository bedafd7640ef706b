"""A hub field mapped onto a property HubSpot sets itself is named by setup and check.

HubSpot refuses a write to such a property (READ_ONLY_VALUE) for every record, whatever the
value; its definition says so beforehand (``modificationMetadata.readOnlyValue``, as in
amp-labs/connectors' recorded property answers). Setup reported it ok and every push failed.
"""

from __future__ import annotations

from hub.config import ConnectorEntry
from hub.plugins import build_plugin_manager


def test_a_field_mapped_onto_a_read_only_property_is_flagged_by_setup_and_check(sandbox) -> None:
    entry = ConnectorEntry(
        type="hubspot",
        settings={"access_token": sandbox.hubspot_token, "base_url": sandbox.hubspot_url},
        field_mapping={"lead_score": "hs_analytics_num_page_views"},
    )
    c = build_plugin_manager().build("hs", entry)
    c.client.sleep = lambda s: None
    c.ensure_schema()
    (item,) = [i for i in c.schema_plan() if i.name == "hs_analytics_num_page_views"]
    assert item.state == "read-only" and not item.fixable
    assert "lead_score" in item.note and "field_mapping" in item.note
    report = c.check()
    assert not report.ok
    assert any("hs_analytics_num_page_views" in p and "read-only" in p for p in report.problems), report.problems
    c.close()
