"""A declared feature's custom property is synced by the HubSpot connector and checked live."""

from __future__ import annotations

import requests

from hub.config import Settings
from hub.pipeline.context import HubContext
from tests.connectors.hubspot.conftest import drain


def hub_context(sb, tmp_path, feature_source: dict) -> HubContext:
    settings = Settings.model_validate(
        {
            "store_url": f"sqlite:///{tmp_path / 'hub.db'}",
            "connectors": {
                "hs": {"type": "hubspot", "settings": {"access_token": sb.hubspot_token, "base_url": sb.hubspot_url}}
            },
            "decision": {"features": [{"name": "tier", "source": feature_source, "type": "categorical"}]},
        }
    )
    return HubContext.build(settings, embedded=True)


def test_a_declared_property_is_read_on_sync_and_a_missing_one_is_reported_by_check(world, sandbox, tmp_path):
    group = next(iter(world.hubspot.groups))
    res = requests.post(
        f"{sandbox.hubspot_url}/crm/v3/properties/contacts",
        json={"name": "icp_tier", "label": "ICP tier", "type": "string", "fieldType": "text", "groupName": group},
        headers={"Authorization": f"Bearer {sandbox.hubspot_token}"},
        timeout=10,
    )
    assert res.status_code in (200, 201), res.text
    rids = sorted((rid for rid, r in world.hubspot.records.items() if not r["archived"]), key=int)[:5]
    with world.lock:
        for rid in rids:
            world.hubspot.set_properties(rid, {"icp_tier": "A"}, "test", source="market")

    ctx = hub_context(sandbox, tmp_path, {"property": "icp_tier", "connector": "hubspot"})
    hs = ctx.connector("hs")
    assert hs.extra_properties == ("icp_tier",)
    items, _, _, _ = drain(hs.pull_contacts(None))
    tiers = {c.identities[0].external_id: c.properties.get("icp_tier") for c in items}
    assert all(tiers[r] == "A" for r in rids if r in tiers)
    assert sum(v == "A" for v in tiers.values()) >= 4 and None in tiers.values()
    assert not any("icp_tier" in p for p in hs.check().problems)
    ctx.close()

    missing = hub_context(sandbox, tmp_path, {"field": "properties.icp_band"})
    report = missing.connector("hs").check()
    assert not report.ok and any("icp_band" in p and "does not have" in p for p in report.problems)
    missing.close()
