"""The hub's own pipeline against the sandbox portal: sync, decide, push, and no echo loop."""

from __future__ import annotations

from collections import Counter

import yaml

from hub.config import load_settings
from hub.pipeline.context import HubContext
from hub.pipeline.run import run_once


def config(tmp_path, sb) -> HubContext:
    cfg = {
        "store_url": f"sqlite:///{tmp_path / 'hub.db'}",
        "connectors": {
            "crm": {"type": "hubspot", "settings": {"access_token": sb.hubspot_token, "base_url": sb.hubspot_url}}
        },
        "decision": {
            "policy": "rules",
            "rules": [
                {"name": "opted-out", "when": "email_opt_out", "actions": []},
                {
                    "name": "nurture",
                    "when": "True",
                    "actions": [
                        {
                            "kind": "set_fields",
                            "fields": {"next_best_action": "email_nurture_business", "reason": "default track"},
                        }
                    ],
                },
            ],
        },
    }
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return HubContext.build(load_settings(path), embedded=True)


def test_pipeline_writes_once_and_does_not_loop_on_its_own_echoes(tmp_path, world, sandbox):
    ctx = config(tmp_path, sandbox)
    ctx.connector("crm").ensure_schema()
    first = run_once(ctx)
    pushed = first.pushes[0]
    assert first.syncs[0].records > 400 and first.decide.decided == first.syncs[0].records - first.syncs[0].rejects
    assert pushed.done > 0 and pushed.failed == 0
    nba = Counter(e.record_id for e in world.log.entries if e.field == "hub_next_best_action")
    assert len(nba) == pushed.done and set(nba.values()) == {1}  # one set_fields push per record
    second = run_once(ctx)  # reads back our own writes: echoes, not changes
    assert second.syncs[0].records >= len(nba)
    assert second.decide.decided == 0 and second.pushes[0].sent == 0
    third = run_once(ctx)
    assert third.syncs[0].records == 0
    ctx.close()


def test_market_changes_are_redecided_and_only_the_new_decision_id_is_written(tmp_path, world, sandbox):
    ctx = config(tmp_path, sandbox)
    ctx.connector("crm").ensure_schema()
    run_once(ctx)
    run_once(ctx)

    def api_writes() -> Counter:
        return Counter(e.field for e in world.log.entries if e.kind == "field" and "batch" in e.endpoint)

    before = api_writes()
    world.advance_days(2)  # the market runs our emails, people respond, records change
    report = run_once(ctx)
    assert 0 < report.decide.decided <= len(report.syncs[0].changed)
    new = api_writes() - before
    # same action and reason: diffed away; the new decision id is the only write per contact
    assert set(new) == {"hub_decision_id"} and new["hub_decision_id"] == report.pushes[0].done
    ctx.close()
