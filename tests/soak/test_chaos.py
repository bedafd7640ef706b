"""The chaos run in its short mode: 3 real workers, faults, a SIGKILL, a Redis restart and a
dropped store connection, checked against the sandbox's write log (see bench/chaos.py).

About 3 minutes on a shared 2-core machine, so it is outside the default test command:
``HUB_SOAK=1 python -m pytest tests/soak``. The default command runs the shorter ``--ci`` mode
(600 people, the same faults; tests/integration/test_chaos_ci.py).
"""

from __future__ import annotations

import os

import pytest

from bench.chaos import main

pytestmark = pytest.mark.skipif(os.environ.get("HUB_SOAK") != "1", reason="soak test: set HUB_SOAK=1")


def test_quick_chaos_run_keeps_every_promise():
    lines: list[str] = []
    res = main(["--quick"], report=lines.append)
    failed = [name for name, ok in res["checks"].items() if not ok]
    assert not failed, "\n".join(lines)
    assert res["done_landed_once"] > 1000 and res["crm_edits"] > 0
    assert res["faults_injected"].get("error", 0) > 0
