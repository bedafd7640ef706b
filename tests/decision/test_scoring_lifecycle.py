"""The lead-scoring model's life in a real store: rollback through the command, training on few
converting contacts, and a live snapshot that will not load."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from decision.scoring import LeadScorer
from decision.scoring.registry import ModelRegistry
from hub.errors import StoreError
from hub.governance import audit
from hub.models import utcnow
from hub.store import Store
from hub.store import learning as learning_store
from tests.conftest import hub_config
from tests.decision.test_scoring import synthetic

NAMES = ("a", "b", "c")


def _fit(seed: int, shuffle: bool = False) -> LeadScorer:
    X, y, _ = synthetic(3000, seed)
    if shuffle:  # ranks at random: the promotion rule refuses it
        y = y[::-1].copy()
    return LeadScorer(estimator="logistic").fit(X, y, feature_names=NAMES)


def test_rollback_of_the_lead_score_makes_the_old_version_score(tmp_path, store_url, redis_url):
    """v1 and v2 promoted (v2 live), v3 a refused candidate: `hub model rollback 1` must make
    v1's model the one that scores, and rolling back to the never-live v3 must make it live."""
    from hub.cli import app

    store = Store(store_url, auto_migrate=True)
    reg = ModelRegistry(store, "lead_score")
    Xr, yr, _ = synthetic(2000, 50)
    assert reg.consider(_fit(1), Xr, yr).promoted
    assert reg.consider(_fit(2), Xr, yr).promoted
    assert not reg.consider(_fit(3, shuffle=True), Xr, yr).promoted
    assert reg.live_version() == 2
    path = hub_config(tmp_path, store_url, redis_url, **{"decision.scoring": {}})

    def hub(*args):
        r = CliRunner(env={"COLUMNS": "200"}).invoke(app, [*args, "-c", str(path)])
        return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)

    r = hub("model", "rollback", "1", "--name", "lead_score", "--by", "ana", "--note", "v2 overfits")
    assert r.returncode == 0, r.stderr
    assert "Model version 1 is live again as version 4" in r.stdout
    assert reg.live_version() == 4
    assert (reg.live().predict_proba(Xr) == reg.load(1).predict_proba(Xr)).all()
    v4 = reg.versions()[-1]
    assert v4.status == "promoted" and v4.metrics["rollback_of"] == 1

    r = hub("model", "rollback", "3", "--name", "lead_score", "--by", "ana", "--note", "try it")
    assert r.returncode == 0, r.stderr
    assert reg.live_version() == 5 and reg.versions()[2].status == "candidate"
    with store.connect() as conn:
        log = audit.entries(conn, action="model_rollback")
    assert [e.subject for e in log] == ["model lead_score v3", "model lead_score v1"]
    assert [e.details["new_version"] for e in log] == [5, 4]
    store.dispose()


def test_engine_snapshots_refuse_the_registry_s_reserved_keys(store_url):
    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn, pytest.raises(StoreError):
        learning_store.save_snapshot(conn, "engine", b"x", {"learned": 1, "_status": "promoted"}, utcnow())
    store.dispose()
