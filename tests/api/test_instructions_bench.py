"""The benches' real-time loops run, without valgrind or a server. bench/instructions.py's: each
ASGI request is answered 200 and recorded by the trained model, and each in-process decision is
recorded once (valgrind then only counts what these loops execute; a full run takes minutes, so
it stays a bench). bench/api_load.py's engine-alone figure decides the views the server does."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bench.api_load import engine_cpu_ms
from bench.instructions import child, prepare
from hub.config import load_settings
from hub.store import Store
from hub.store.schema import decisions


def _decided(config: Path) -> dict[str, int]:
    """Decisions recorded per policy version."""
    store = Store(load_settings(config).store_url)
    with store.connect() as conn:
        q = select(decisions.c.policy_version, func.count()).group_by(decisions.c.policy_version)
        found = {v: n for v, n in conn.execute(q)}
    store.engine.dispose()
    return found


def test_the_measured_loops_decide_through_the_api_and_in_process(tmp_path: Path):
    config = prepare(tmp_path)
    child("asgi_request", config, 3)  # raises SystemExit on any answer but 200
    first = _decided(config)
    [engine] = [v for v in first if v.startswith("engine-")]
    assert engine.endswith("@v1")  # the trained model, not v0
    assert first[engine] > 20  # the holdout arm's few decisions carry the legacy rules' version
    assert sum(first.values()) == 30 + 3  # warm-up and measured calls
    child("api_decision", config, 4)
    assert sum(_decided(config).values()) == 33 + 30 + 4
    child("engine_row", config, 2)  # the engine alone records nothing but the model-loading decision
    assert sum(_decided(config).values()) == 67 + 1


def test_the_load_benchs_engine_figure_decides_the_servers_views(tmp_path: Path):
    """bench/api_load.py's engine-alone figure builds its views as the server does (its last
    step, after minutes of load: a break there loses the whole run)."""
    config = prepare(tmp_path)
    assert 0.0 < engine_cpu_ms(config, contacts=200, rows=5) < 10_000.0
