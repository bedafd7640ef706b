"""A write HubSpot stores in another form (text clipped at 65,536 characters) is diffed against
that form: a write without a new decision id lands once and is not repeated every cycle."""

from __future__ import annotations

import pytest

from connectors.hubspot.mapping import stored_value
from hub.pipeline.run import run_once
from hub.sandbox.world import World
from tests.connectors.hubspot.test_pipeline_e2e import config
from tests.push_rows import score_only_cycles


@pytest.fixture
def world() -> World:
    return World(n_contacts=20, seed=5)


def test_a_text_clipped_at_hubspot_s_limit_is_written_once(tmp_path, world, sandbox) -> None:
    ctx = config(tmp_path, sandbox)
    ctx.connector("crm").ensure_schema()
    run_once(ctx)
    first, second = score_only_cycles(ctx, "crm", {"reason": "r" * 70_000})
    assert (first.done, first.noop) == (1, 0)
    assert (second.sent, second.noop) == (0, 1)  # HubSpot holds the clipped text already
    ctx.close()


@pytest.mark.parametrize(
    ("field", "value", "kept"),
    [
        ("conversion_probability", 0.0067, "0.0067"),  # a number property keeps its digits
        ("lead_score", " 80 ", "80"),
        ("best_channel", " email ", "email"),
        ("reason", "r" * 70_000, "r" * 65_535 + "\u2026"),
        ("lead_score", "high", "high"),  # refused before the call: nothing is stored
    ],
)
def test_the_stored_form_is_what_hubspot_keeps(field, value, kept) -> None:
    assert stored_value(field, value) == kept
