"""docker-compose.yml runs only real commands of this package."""

from __future__ import annotations

import click
import typer
import yaml

from hub.cli import app
from tests.conftest import ROOT


def _command_names(group: click.Group, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    names = set()
    for name, cmd in group.commands.items():
        names.add((*prefix, name))
        if isinstance(cmd, click.Group):
            names |= _command_names(cmd, (*prefix, name))
    return names


def test_every_compose_command_is_a_real_hub_command_with_real_options():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    root = typer.main.get_command(app)
    known = _command_names(root)
    hub_services = {
        name: svc for name, svc in compose["services"].items() if "command" in svc and svc["command"][0] == "hub"
    }
    assert {"migrate", "worker", "learner", "beat", "flower"} <= set(hub_services)
    for name, svc in hub_services.items():
        argv = svc["command"][1:]
        words = tuple(w for w in argv if not w.startswith("-"))
        path = next((words[:n] for n in (2, 1) if words[:n] in known), None)
        assert path, f"service {name}: `hub {' '.join(argv)}` is not a hub command"
        cmd = root
        for part in path:
            cmd = cmd.commands[part]
        ctx = cmd.make_context(f"hub {' '.join(path)}", list(argv[len(path) :]), resilient_parsing=False)
        assert ctx.params is not None, name
    others = [
        n for n, s in compose["services"].items() if "command" in s and s["command"][0] not in ("hub", "redis-server")
    ]
    assert others == [], f"services running commands that are not ours: {others}"


def test_every_hub_service_gets_the_secrets_hub_yaml_names_from_dot_env():
    """hub.yaml holds `${HUBSPOT_TOKEN}`-style references (hub init's sample says so); Compose
    reads .env only to fill in docker-compose.yml itself, and a container's environment holds
    what its service lists and nothing else. Without an env_file every hub container stopped at
    "environment variable HUBSPOT_TOKEN is not set" however .env was written."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, svc in compose["services"].items():
        if "command" not in svc or svc["command"][0] != "hub":
            continue
        files = svc.get("env_file")
        assert files, f"service {name} has no env_file: hub.yaml's ${{VAR}} secrets never reach it"
        paths = [f if isinstance(f, str) else f["path"] for f in (files if isinstance(files, list) else [files])]
        assert ".env" in [p.removeprefix("./") for p in paths], (name, paths)


def test_the_beat_refuses_a_store_never_migrated_as_a_worker_does(tmp_path, pg_url):
    """`hub beat` started against a PostgreSQL store nobody migrated and scheduled tasks that
    every worker refuses; it now exits 1 saying to run `hub migrate`, as `hub worker` does.
    (No broker answers here: neither gets as far as one.)"""
    import subprocess
    import sys

    import yaml

    cfg = tmp_path / "hub.yaml"
    cfg.write_text(yaml.safe_dump({"store_url": pg_url, "broker_url": "redis://127.0.0.1:1/0"}))
    for command in ("worker", "beat"):
        res = subprocess.run(
            [sys.executable, "-m", "hub.cli.main", command, "-c", str(cfg)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert res.returncode == 1, (command, res.stdout, res.stderr)
        assert "hub migrate" in res.stderr + res.stdout, (command, res.stderr)
    assert not (tmp_path / "celerybeat-schedule").exists()  # the beat never started
