"""A new user's own data through the CLI: what `hub status` and friends say agrees with what ran."""

from __future__ import annotations

import json

import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.store import Store
from hub.store.schema import decisions

ACTIONS = [
    {"id": "email_a", "kind": "email", "channel": "email"},
    {"id": "wait", "kind": "wait"},
]
FEATURES = [{"name": "frequency", "source": {"property": "frequency"}, "transforms": ["log1p"]}]


def _hub(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="hub", terminal_width=200)


def _own_data(tmp_path, features=FEATURES):
    (tmp_path / "people.csv").write_text("ID,frequency\n" + "".join(f"{i},{i % 5}\n" for i in range(1, 31)))
    cfg = tmp_path / "hub.yaml"
    body = {"store_url": f"sqlite:///{tmp_path / 'hub.db'}", "decision": {"actions": ACTIONS, "features": features}}
    cfg.write_text(yaml.safe_dump(body))
    res = _hub("import", "contacts", str(tmp_path / "people.csv"), "--id-col", "ID", "-c", str(cfg))
    assert res.exit_code == 0, res.output
    return cfg


def test_status_names_the_model_that_decided_with_declared_features(tmp_path, redis_url):
    """With decision.features declared, `hub run --once` decided with engine-098d…@v0 while
    `hub status` (and /v1/status) named engine-84d4…@v0, the built-in schema's model, which
    never decides: the status read the policy before binding the declared features' state."""
    cfg = _own_data(tmp_path)
    c = ("-c", str(cfg))
    before = json.loads(_hub("status", "--json", *c).stdout)
    ran = _hub("run", "--once", *c)
    assert ran.exit_code == 0, ran.output
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    with store.connect() as conn:
        used = set(conn.execute(select(decisions.c.policy_version).where(decisions.c.arm == "engine")).scalars())
    store.dispose()
    assert len(used) == 1, used
    (version,) = used
    assert version in ran.stdout, ran.stdout
    doc = json.loads(_hub("status", "--json", *c).stdout)
    assert (doc["policy"], doc["policy_version"]) == ("engine", version), doc
    said = _hub("status", *c)
    assert f"Policy in use: engine {version}" in said.stdout, said.stdout
    # before the first decide the declared features were not fitted: no model was named that never decides
    assert before["policy_version"] != doc["policy_version"] and version.split("@")[0] not in before["policy_version"]
    assert "@v" not in before["policy_version"], before


def test_features_show_names_a_declared_property_no_contact_has(tmp_path):
    """A misspelled property in decision.features (`frequncy` for the imported `frequency`) passed
    hub config validate and showed as a column of 0% coverage with no word on why: the engine
    would read a column of nothing. hub features show now says which property no contact has,
    with its key path and the closest property the contacts do have."""
    typo = [
        {"name": "frequency", "source": {"property": "frequncy"}},
        {"name": "visits", "source": {"field": "properties.vists"}},
    ]
    cfg = _own_data(tmp_path, features=typo)
    res = _hub("features", "show", "--json", "-c", str(cfg))
    assert res.exit_code == 0, res.output
    warnings = json.loads(res.stdout)["warnings"]
    assert any(
        "decision.features[0].source.property" in w and "'frequncy'" in w and "did you mean 'frequency'" in w
        for w in warnings
    ), warnings
    assert any("decision.features[1].source.field" in w and "'vists'" in w for w in warnings), warnings
    said = _hub("features", "show", "-c", str(cfg))
    assert "did you mean 'frequency'" in " ".join(said.output.split()), said.output
    (tmp_path / "good").mkdir()
    good = _own_data(tmp_path / "good")
    assert json.loads(_hub("features", "show", "--json", "-c", str(good)).stdout)["warnings"] == []


def test_run_once_goes_on_past_a_crm_that_does_not_answer_and_says_so(tmp_path):
    """`hub run --once` with one CRM down stopped the whole pass at its sync: the imported people
    were not decided and nothing said why. As under the workers, the pass now goes on without that
    CRM (everyone else is decided), then names it, says its writes wait, and exits 1."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = _own_data(tmp_path)
    body = yaml.safe_load(cfg.read_text())
    body["connectors"] = {
        "crm": {
            "type": "hubspot",
            "settings": {"access_token": "pat-x", "base_url": f"http://127.0.0.1:{port}", "max_retries": 0},
        }
    }
    cfg.write_text(yaml.safe_dump(body))
    res = _hub("run", "--once", "-c", str(cfg))
    said = " ".join(res.output.split())
    assert res.exit_code == 1, res.output
    assert "Decided for 30 contacts" in said, said  # the imported people, past the CRM that failed
    assert "crm's sync failed" in said and f"127.0.0.1:{port}" in said and "connection refused" in said, said
    assert "The rest of the pass went on without it" in said and "0 (failed)" in said, said
    # the sync alert it raised names a command that exists (it said `hub connectors check`)
    alerts = json.loads(_hub("alerts", "list", "--json", "-c", str(cfg)).stdout)
    assert ["try `hub connectors list --check` and `hub sync crm`" in a["message"] for a in alerts] == [True], alerts
    assert f"hub run --once -c {cfg}" in said and "connectors.crm.enabled: false" in said, said


def test_validate_without_a_connector_says_what_comes_next(tmp_path):
    """`hub init` then `hub config validate` on a hub for one's own files (no connector) printed
    "OK hub.yaml: 0 connectors, policy engine." and nothing else: no next step, where a hub with
    a CRM gets "Next: hub migrate, then hub connectors setup"."""
    cfg = tmp_path / "hub.yaml"
    init = _hub("init", str(cfg))
    assert init.exit_code == 0 and "hub import" in " ".join(init.output.split()), init.output
    res = _hub("config", "validate", "-c", str(cfg))
    said = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert f"hub import contacts FILE -c {cfg}" in said and f"hub run --once -c {cfg}" in said, said
    assert "connectors:" in said, said


def test_model_list_and_rollback_find_the_model_of_declared_features(tmp_path):
    """With decision.features declared, `hub model list` marked no version "in use" and
    `hub model rollback 1` said "model engine-<built-in schema> has no version 1": both read the
    engine's model name before binding the declared features' fitted state, the name of a model
    that never decides."""
    from hub.config import load_settings
    from hub.pipeline.context import HubContext
    from hub.pipeline.features import ensure_features
    from hub.pipeline.learn import learned_state
    from hub.store import learning as learning_store

    cfg = _own_data(tmp_path)
    ctx = HubContext.build(load_settings(cfg), embedded=True)
    try:
        ensure_features(ctx)
        engine = ctx.policy
        name = engine.model_name
        metrics = {"learned": 3, "mean_reward": 0.5, "feature_version": engine.feature_version, **learned_state(engine)}
        with ctx.store.begin() as conn:
            for _ in range(2):
                learning_store.save_snapshot(conn, name, engine.snapshot(), metrics, ctx.clock())
    finally:
        ctx.close()
    listed = _hub("model", "list", "-c", str(cfg))
    in_use = [line.split("│")[1:3] for line in listed.stdout.splitlines() if "in use" in line]
    assert [(m.strip(), v.strip()) for m, v in in_use] == [(name, "v2")], listed.stdout
    fitted = [line for line in listed.stdout.splitlines() if "features-" in line]
    assert fitted and all("decision.features" in line for line in fitted), listed.stdout
    back = _hub("model", "rollback", "1", "--by", "ann", "-c", str(cfg))
    assert back.exit_code == 0 and "live again as version 3" in back.output, back.output


def test_report_models_does_not_call_the_fitted_features_a_model(tmp_path):
    """`hub report models` on a hub with declared features said "This store's other models:
    features-3863a8c28d36 (1 version), ...": the fitted state of decision.features, not a model."""
    cfg = _own_data(tmp_path)
    assert _hub("features", "show", "-c", str(cfg)).exit_code == 0  # fits and stores decision.features
    said = _hub("report", "models", "-c", str(cfg))
    assert said.exit_code == 0 and "No lead_score versions yet" in said.output, said.output
    assert "features-" not in said.output, said.output


def test_push_with_nothing_to_send_says_so_instead_of_a_table_of_nothing(tmp_path):
    """`hub push` on a hub of imported people (no connector) printed an empty table, and with
    connectors but nothing queued a table of zeros, where `hub sync` and `hub connectors setup`
    say in words that there is nothing to do."""
    cfg = _own_data(tmp_path)
    res = _hub("push", "-c", str(cfg))
    said = " ".join(res.output.split())
    assert res.exit_code == 0 and "┏" not in res.output, res.output
    assert "No connector is enabled" in said and "hub decisions" in said, said

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    body = yaml.safe_load(cfg.read_text())
    body["connectors"] = {
        "crm": {"type": "hubspot", "settings": {"access_token": "x", "base_url": f"http://127.0.0.1:{port}"}}
    }
    cfg.write_text(yaml.safe_dump(body))
    res = _hub("push", "-c", str(cfg))  # nothing queued: no call to the CRM is made
    said = " ".join(res.output.split())
    assert res.exit_code == 0 and "┏" not in res.output, res.output
    assert "No push is due" in said and "hub pushes list --state pending" in said, said


def test_forget_says_what_it_removed_in_words_not_a_python_dict(tmp_path):
    """`hub forget ann@x.example` printed "Forgotten contact 1: removed {'contacts': 1,
    'identities': 1, 'emails': 1, 'decisions': 0, 'pushes': 0, ...}": a Python dict, zeros and all."""
    (tmp_path / "people.csv").write_text("email,first_name\nann@x.example,Ann\nbob@x.example,Bob\n")
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(yaml.safe_dump({"store_url": f"sqlite:///{tmp_path / 'hub.db'}"}))
    assert _hub("import", "contacts", str(tmp_path / "people.csv"), "-c", str(cfg)).exit_code == 0
    res = _hub("forget", "ann@x.example", "-c", str(cfg))
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "{" not in said and "'" not in said and ": 0" not in said, said
    assert "Forgotten contact 1 (ann@x.example): removed contacts 1, identities 1, emails 1" in said, said
