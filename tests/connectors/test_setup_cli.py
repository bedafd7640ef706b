"""`hub connectors setup` and `hub connectors list --check` on a new HubSpot portal and a new Salesforce org.

The sandbox starts without any hub property (HubSpot) and without the hub's custom fields
(Salesforce: ``SalesforceState.absent``). Real hubspot-api-client and simple-salesforce (Metadata
API through zeep, REST for permission sets) over HTTP(S) to the sandbox, through the typer CLI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hubspot import HubSpot
from hubspot.crm.properties import PropertyCreate
from typer.testing import CliRunner

from hub.cli import app
from hub.demo import sandbox_settings
from hub.sandbox.salesforce_server import SalesforceCredentials
from hub.sandbox.salesforce_state import HUB_FIELDS
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World


def _new(tmp_path: Path, **creds: bool) -> Iterator[tuple[SandboxHandle, Path]]:
    world = World(n_contacts=40, seed=9)  # a new org: no hub field yet
    with start_sandbox(world, salesforce_credentials=SalesforceCredentials(**creds)) as sb:
        yield sb, sandbox_settings(sb, tmp_path, {"hubspot", "salesforce"})


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[SandboxHandle, Path]]:
    yield from _new(tmp_path)


def _hub(*args: str):  # noqa: ANN202
    return CliRunner().invoke(app, list(args))


def test_a_new_portal_and_org_are_checked_previewed_set_up_and_verified(fresh) -> None:
    sb, cfg = fresh
    before = _hub("connectors", "list", "--check", "-c", str(cfg))
    assert before.exit_code == 1, before.output
    assert "hubspot: properties missing: hub_best_channel" in before.output
    assert "salesforce: Contact.Hub_Decision_Id__c is missing or hidden by field-level security" in before.output

    dry = _hub("connectors", "setup", "--dry-run", "-c", str(cfg))
    assert dry.exit_code == 0, dry.output
    assert "hub_best_channel" in dry.output and "enumeration/select (email," in dry.output
    assert "Lead.Hub_Lead_Score__c" in dry.output and "Number(18, 4)" in dry.output
    assert "40 items to set up" in dry.output  # group + 13 properties + 2 x 13 fields
    assert "hub_lead_score" not in sb.world.hubspot.properties  # a dry run changes nothing
    assert sb.world.salesforce.absent["Lead"] == set(HUB_FIELDS)

    done = _hub("connectors", "setup", "--json", "-c", str(cfg))
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert result["ok"] and {c["connector"] for c in result["connectors"]} == {"hubspot", "salesforce"}
    assert all(i["state"] == "ok" for c in result["connectors"] for i in c["items"])
    sf = next(c for c in result["connectors"] if c["connector"] == "salesforce")
    assert "Contact.Hub_Best_Channel__c" in sf["created"] and "PermissionSet Decision_Hub_Fields" in sf["created"]
    channel = sb.world.hubspot.properties["hub_best_channel"]
    assert (channel["type"], channel["fieldType"]) == ("enumeration", "select") and len(channel["options"]) == 4

    after = _hub("connectors", "list", "--check", "-c", str(cfg))
    assert after.exit_code == 0, after.output
    again = _hub("connectors", "setup", "--json", "-c", str(cfg))  # idempotent: nothing new
    assert again.exit_code == 0 and all(not c["created"] for c in json.loads(again.output)["connectors"])


def test_without_the_rights_setup_exits_1_and_says_what_an_admin_must_grant(tmp_path: Path) -> None:
    for sb, cfg in _new(tmp_path, manage_permissions=False):
        res = _hub("connectors", "setup", "salesforce", "--json", "-c", str(cfg))
        assert res.exit_code == 1
        items = json.loads(res.output)["connectors"][0]["items"]
        assert {i["state"] for i in items} == {"hidden"}  # created, but no field-level security
        assert all("INSUFFICIENT_ACCESS_OR_READONLY" in i["note"] and not i["fixable"] for i in items)
        assert "Setup > Permission Sets > New (API name Decision_Hub_Fields)" in items[0]["note"]
        assert sb.salesforce_password not in res.output


def test_a_mistyped_property_is_named_and_only_a_person_can_fix_it(fresh) -> None:
    sb, cfg = fresh
    hs = HubSpot(access_token=sb.hubspot_token, host=sb.hubspot_url)
    hs.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="hub_lead_score", label="Score", type="string", field_type="text", group_name="contactinformation"
        ),
    )
    dry = _hub("connectors", "setup", "hubspot", "--dry-run", "--json", "-c", str(cfg))
    assert dry.exit_code == 1  # nothing setup can do about it
    [score] = [i for i in json.loads(dry.output)["connectors"][0]["items"] if i["name"] == "hub_lead_score"]
    assert score["state"] == "mistyped" and "is string/text" in score["note"] and not score["fixable"]
    res = _hub("connectors", "setup", "hubspot", "-c", str(cfg))
    assert res.exit_code == 1 and "a person must" in res.output
    assert sb.world.hubspot.properties["hub_lead_score"]["type"] == "string"
    unknown = _hub("connectors", "setup", "nope", "-c", str(cfg))
    assert unknown.exit_code == 2 and "nope" in unknown.output


def test_without_customize_application_setup_prints_each_field_definition_for_an_admin(tmp_path: Path) -> None:
    for _sb, cfg in _new(tmp_path, customize_application=False):
        res = _hub("connectors", "setup", "salesforce", "--json", "-c", str(cfg))
        assert res.exit_code == 1
        items = {i["name"]: i for i in json.loads(res.output)["connectors"][0]["items"]}
        score = items["Lead.Hub_Lead_Score__c"]
        assert score["state"] == "missing" and not score["fixable"]
        assert "an admin must add this custom field" in score["note"] and '"precision": 18' in score["note"]
        assert '"type": "Picklist"' in items["Contact.Hub_Best_Channel__c"]["note"]


def test_a_push_dry_run_whose_writes_would_fail_exits_1(fresh) -> None:
    """It printed "these writes would fail" and exited 0, so a deploy script went on; a connector
    name not in the config said "run `hub connectors setup`" and exited 0 too."""
    sb, cfg = fresh
    res = _hub("push", "hubspot", "--dry-run", "-c", str(cfg))
    assert res.exit_code == 1 and "These writes would fail" in res.output
    unknown = _hub("push", "hubspto", "--dry-run", "-c", str(cfg))
    assert unknown.exit_code == 2 and "no connector 'hubspto'" in unknown.output
    assert _hub("connectors", "setup", "hubspot", "-c", str(cfg)).exit_code == 0
    ready = _hub("push", "hubspot", "--dry-run", "-c", str(cfg))
    assert ready.exit_code == 0 and "ready for these writes" in ready.output


def test_a_finished_setup_names_the_pass_that_decides_and_pushes_with_its_config(fresh) -> None:
    """A finished setup said "Next: hub sync", which only reads the CRMs (no decision, no write),
    while `hub sandbox serve` and the README say `hub run --once`; and it left out the -c its
    config needed."""
    _, cfg = fresh
    res = CliRunner().invoke(app, ["connectors", "setup", "hubspot", "-c", str(cfg)], terminal_width=400)
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())  # the console wraps long lines
    assert f"Next: hub run --once -c {cfg}" in said, said
    assert f"hub worker -c {cfg}" in said and "hub sync" not in said
