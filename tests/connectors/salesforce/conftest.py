"""Fixtures of the Salesforce tests that run the real client against the sandbox: ``sb`` serves
the module's own ``world``; ``store`` is an embedded store a test's pulled pages are kept in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World
from hub.store import Store


@pytest.fixture
def sb(world: World) -> Iterator[SandboxHandle]:
    with start_sandbox(world) as handle:
        yield handle


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'hub.db'}", auto_migrate=True)
    yield s
    s.dispose()
