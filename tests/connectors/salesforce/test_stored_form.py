"""A write the org stores in another form (rounded to the field's scale) is diffed against that
form: a score-only write, which carries no new decision id, lands once and is not repeated."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from connectors.salesforce.mapping import stored_sf_value
from hub.config import load_settings
from hub.pipeline.context import HubContext
from hub.pipeline.run import run_once
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World
from hub.store import Store
from tests.conftest import hub_config
from tests.push_rows import score_only_cycles

from .test_sandbox_e2e import sf_settings

NAME = "salesforce"
FIELD = "Hub_Conversion_Probability__c"


@pytest.fixture
def world() -> World:
    world = World(n_contacts=20, seed=5, salesforce_hub_fields=True)
    org = world.salesforce
    for sobject in ("Contact", "Lead"):  # Number(16, 2): an admin's field keeping two decimals
        org.field_specs[(sobject, FIELD)] = replace(org.spec(sobject, FIELD), precision=16, scale=2)
    return world


@pytest.fixture
def sandbox(world: World) -> Iterator[SandboxHandle]:
    with start_sandbox(world) as sb:
        yield sb


def _ctx(tmp_path: Path, redis_url: str, sb: SandboxHandle) -> HubContext:
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    Store(store_url, auto_migrate=True).dispose()
    rule = {"name": "all", "when": "True", "actions": [{"kind": "set_fields", "fields": {"next_best_action": "wait"}}]}
    cfg = hub_config(
        tmp_path,
        store_url,
        redis_url,
        plugins=[],
        connectors={NAME: {"type": "salesforce", "settings": sf_settings(sb)}},
        **{"decision.rules": [rule]},
    )
    return HubContext.build(load_settings(cfg), embedded=True)


@pytest.mark.parametrize("sync", [True, False], ids=["synced", "before-the-sync"])
def test_a_probability_rounded_by_a_two_decimal_field_is_written_once(
    tmp_path, redis_url, world, sandbox, sync
) -> None:
    """Read back by a sync, or not yet: the store records what the org keeps of a landed write."""
    ctx = _ctx(tmp_path, redis_url, sandbox)
    run_once(ctx)
    first, second = score_only_cycles(ctx, NAME, {"conversion_probability": 0.0067}, sync)
    assert (first.done, first.noop) == (1, 0)
    assert 0.01 in [r.get(FIELD) for t in ("Contact", "Lead") for r in world.salesforce.objects[t].values()]
    assert (second.sent, second.noop) == (0, 1)  # the org holds 0.01: sending 0.0067 again changes nothing
    ctx.close()


NUMBER_2 = {"type": "double", "precision": 16, "scale": 2}


@pytest.mark.parametrize(
    ("hub_name", "value", "described", "kept"),
    [
        ("conversion_probability", 0.125, NUMBER_2, 0.13),  # half up, not to even
        ("conversion_probability", "0.0067", NUMBER_2, 0.01),
        ("expected_value", 1e20, NUMBER_2, 1e20),  # refused before the call: nothing is stored
        ("content_subject", " \tHi there \n", {"type": "string", "length": 255}, "Hi there"),
        ("content_subject", "   ", {"type": "string", "length": 255}, None),  # saved as null
        ("content_subject", "\U0001f525" * 3, {"type": "string", "length": 4}, "\U0001f525\u2026"),
        ("best_send_time", "14", {"type": "datetime"}, "14"),  # diffed as an instant, not here
    ],
)
def test_the_stored_form_is_what_the_org_saves(hub_name, value, described, kept) -> None:
    assert stored_sf_value(hub_name, value, described) == kept
