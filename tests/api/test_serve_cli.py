"""`hub serve` validates the config before it binds a port."""

from __future__ import annotations

import yaml

from tests.test_config import run_hub


def test_serve_with_a_bad_api_section_exits_2_naming_the_key(tmp_path):
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({"api": {"tokens": [{"name": "x", "token": "short", "scopes": ["decide"]}]}}))
    out = run_hub("serve", "-c", str(path), "--port", "1")
    assert out.returncode == 2
    assert "api.tokens[0].token" in out.stderr and "short" not in out.stderr.replace("a token needs", "")
