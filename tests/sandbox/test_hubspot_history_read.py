"""A batch read asking for ``propertiesWithHistory`` takes at most 50 inputs, as HubSpot's does
(its 400 body seen live in activepieces/activepieces#9359); without histories, 100."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts.exceptions import ApiException


def _read(hs, ids, history):
    body = {"inputs": [{"id": i} for i in ids], "properties": ["email"]}
    if history:
        body["propertiesWithHistory"] = ["lifecyclestage"]
    return hs.crm.contacts.batch_api.read(batch_read_input_simple_public_object_id=body)


def test_history_reads_take_fifty_inputs(world, hs) -> None:
    ids = sorted((r["id"] for r in world.hubspot.records.values() if not r["archived"]), key=int)
    assert len(_read(hs, ids[:50], history=True).results) == 50
    assert len(_read(hs, ids[:100], history=False).results) == 100
    with pytest.raises(ApiException) as e:
        _read(hs, ids[:51], history=True)
    body = json.loads(e.value.body)
    assert e.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "batch request for property histories is 50" in body["message"]
