"""Text in square brackets reaches the terminal as written. Rich reads ``[ops]`` as a style tag
and drops it, so `hub flower` without Flower said "pip install 'decision-hub'" (an install that
does not bring Flower) and `hub connectors list --check` the same of a warehouse dialect."""

from __future__ import annotations

import sys

import yaml
from typer.testing import CliRunner

from hub.cli import app


def hub(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="hub", env={"COLUMNS": "250"})


def _config(tmp_path, **body) -> str:
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({"store_url": f"sqlite:///{tmp_path / 'hub.db'}", **body}), encoding="utf-8")
    return str(path)


def test_hub_flower_without_flower_names_the_extra_that_installs_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "flower", None)  # not installed, whatever this machine has
    res = hub("flower", "-c", _config(tmp_path))
    assert res.exit_code == 1
    assert "pip install 'decision-hub[ops]'" in res.output, res.output


def test_a_check_problem_in_the_connectors_table_keeps_its_brackets(tmp_path):
    wh = {"type": "warehouse", "settings": {"url": "snowflake://u@acct/db", "contacts": {"table": "people"}}}
    config = _config(tmp_path, connectors={"wh": wh})
    assert hub("migrate", "-c", config).exit_code == 0
    res = hub("connectors", "list", "--check", "-c", config)
    assert res.exit_code == 1
    table = res.output.split("Connectors", 1)[1].split("└", 1)[0]
    assert "'decision-hub[warehouse-snowflake]'" in " ".join(table.replace("│", " ").split()), res.output
    assert "1 connector failed its check." in " ".join(res.output.split()), res.output  # was "their"


def test_a_failed_push_s_reason_keeps_its_brackets_in_hub_pushes_list(tmp_path):
    from hub.models import utcnow
    from hub.store import Store
    from hub.store.schema import contacts, decisions, pushes

    config = _config(tmp_path)
    reason = "INVALID_OPTION 'hub_best_channel': fax was not one of the allowed options: [email, ad_audience]"
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}", auto_migrate=True)
    now = utcnow()
    with store.begin() as conn:
        (cid,) = conn.execute(
            contacts.insert()
            .values(email_opt_out=False, do_not_contact=False, properties={}, created_at=now, changed_at=now)
            .returning(contacts.c.id)
        ).one()
        (did,) = conn.execute(
            decisions.insert()
            .values(
                contact_id=cid,
                request_key="k",
                policy="rules",
                policy_version="v",
                propensity=1.0,
                arm="holdout",
                explanation="x",
                actions=[],
                created_at=now,
            )
            .returning(decisions.c.id)
        ).one()
        conn.execute(
            pushes.insert().values(
                decision_id=did,
                contact_id=cid,
                connector="hs",
                object_type="contact",
                external_id="17",
                kind="set_fields",
                payload={"fields": {"best_channel": "fax"}},
                state="failed",
                attempts=1,
                last_error=reason,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    store.dispose()
    res = hub("pushes", "list", "--state", "failed", "-c", config)
    assert res.exit_code == 0, res.output
    assert "allowed options: [email, ad_audience]" in " ".join(res.output.replace("│", " ").split()), res.output
