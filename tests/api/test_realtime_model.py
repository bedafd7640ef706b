"""Real-time decisions and the console use the engine's newest model, and follow a new one."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from hub.models import utcnow
from hub.store import learning as learning_store
from tests.api.conftest import auth, make_config, seed
from tests.api.test_console import login

ENGINE = {"decision.policy": "engine", "decision.engine": {"holdout_share": 0.0, "control_share": 0.0}}


def _save_version(ctx) -> int:
    """A snapshot of the engine's model, stored as the learn step stores one."""
    engine = ctx.policy
    with ctx.store.begin() as conn:
        return learning_store.save_snapshot(
            conn,
            engine.model_name,
            engine.snapshot(),
            {"learned": 0, "feature_version": engine.feature_version},
            utcnow(),
        )


def test_real_time_decisions_load_the_newest_snapshot_and_reload_on_a_new_one(tmp_path, store_url, api_redis_url, crm):
    from hub.api.app import create_app

    settings = make_config(tmp_path, store_url, api_redis_url, **ENGINE)
    app = create_app(settings)
    ctx = app.state.hub.ctx
    seed(ctx, crm)
    name = ctx.policy.model_name
    with TestClient(app, base_url="https://hub.example.com") as client:
        body = {"contact": {"email": "person1@example.com"}}
        cold = client.post("/v1/decisions", json=body, headers=auth("decide")).json()
        assert cold["policy_version"] == f"{name}@v0"  # nothing saved yet
        v1 = _save_version(ctx)
        time.sleep(settings.api.policy_refresh_seconds)  # each API process re-reads the version this often
        first = client.post("/v1/decisions", json=body, headers=auth("decide")).json()
        assert first["arm"] == "engine" and first["policy_version"] == f"{name}@v{v1}"
        v2 = _save_version(ctx)  # the learn step (another process) saves a newer one
        assert client.get("/v1/status", headers=auth("admin")).json()["policy_version"] == f"{name}@v{v2}"
        second = client.post("/v1/decisions", json=body, headers=auth("decide")).json()
        assert second["policy_version"] == f"{name}@v{v2}"
        login(client)
        models = client.get("/console/models").text
        assert f'data-model="{name}" data-version="{v2}"' in models and "in use" in models
        assert "Long-term value: the stated prior" in models  # learning is off by default
        assert f"{name}@v{v2}" in client.get("/console/").text
    app.state.hub.close()


def _cells(html_row: str) -> list[str]:
    import re

    cells = re.findall(r"<td[^>]*>(.*?)</td>", html_row, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in cells]


def test_hub_model_list_shows_what_the_models_page_shows_in_its_order(tmp_path, api_redis_url, crm):
    """`hub model list` listed versions oldest first as ``3`` with ``rollback of v1`` and no word of
    which one decides; the Models page lists them newest first as ``v3``, ``in use``, ``copy of v1``,
    with the feature schema, and ``-`` where a figure is missing."""
    import re

    from typer.testing import CliRunner

    from hub.api.app import create_app
    from hub.cli import app as cli
    from hub.pipeline.learn import rollback

    app = create_app(make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", api_redis_url, **ENGINE))
    ctx = app.state.hub.ctx
    seed(ctx, crm)
    name = ctx.policy.model_name
    _save_version(ctx)
    with ctx.store.begin() as conn:  # a version saved without its figures
        learning_store.save_snapshot(conn, name, ctx.policy.snapshot(), {}, utcnow())
    rollback(ctx, 1)
    with TestClient(app, base_url="https://hub.example.com") as client:
        login(client)
        page = client.get("/console/models").text
    app.state.hub.close()
    rows = re.findall(r"<tr data-model=[^>]*>(.*?)</tr>", page, re.S)
    console = [_cells(r)[:7] for r in rows]
    assert [c[1] for c in console] == ["v3", "v2", "v1"] and console[0][6] == "in use, copy of v1", console
    res = CliRunner().invoke(cli, ["model", "list", "-c", str(tmp_path / "hub.yaml")], terminal_width=300)
    assert res.exit_code == 0, res.output
    listed = [[c.strip() for c in ln.strip().strip("│").split("│")] for ln in res.output.splitlines() if name in ln]
    assert listed == console, (listed, console)
    assert console[1][3:5] == ["-", "-"], console
