"""The lead-scoring model's life in a real store: rollback through the command, training on few
converting contacts, and a live snapshot that will not load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from decision.scoring import LeadScorer
from decision.scoring.dataset import FEATURE_NAMES
from decision.scoring.registry import ModelRegistry
from hub.config import load_settings
from hub.errors import StoreError
from hub.governance import audit
from hub.models import Activity, Company, Contact, Identity, utcnow
from hub.pipeline.context import HubContext
from hub.pipeline.run import run_once
from hub.store import Store
from hub.store import learning as learning_store
from hub.store.activities import insert_activities
from hub.store.contacts import upsert_contacts
from hub.store.schema import contacts as contacts_table
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


def _store_with_buyers(url: str, n: int, buyers: dict[int, list[float]], now: datetime) -> Store:
    """``n`` contacts with page views; ``buyers`` maps a contact's index to its opportunities'
    ages in days."""
    store = Store(url, auto_migrate=True)
    rng = np.random.default_rng(0)
    with store.begin() as conn:
        people = [
            Contact(identities=[Identity(connector="imp", external_id=str(i))], company=Company(employees=50))
            for i in range(n)
        ]
        upsert_contacts(conn, people, now - timedelta(days=800))
        ids = sorted(conn.execute(select(contacts_table.c.id)).scalars())
        acts = [
            Activity(
                contact_id=cid,
                type="page_view",
                occurred_at=now - timedelta(days=float(age)),
                source="t",
                external_id=f"pv-{cid}-{k}",
            )
            for cid in ids
            for k, age in enumerate(rng.uniform(1.0, 400.0, 5))
        ]
        acts += [
            Activity(
                contact_id=ids[i],
                type="opportunity_created",
                occurred_at=now - timedelta(days=age),
                source="t",
                external_id=f"opp-{i}-{k}",
            )
            for i, ages in buyers.items()
            for k, age in enumerate(ages)
        ]
        insert_activities(conn, acts)
    return store


def test_one_converting_contact_is_one_positive_not_one_per_cut_off():
    """A contact cut at four stacked cut-offs is four positive rows but one converting contact:
    a fold holds all its rows, so it alone cannot train a classifier on held-out folds."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(240, len(FEATURE_NAMES)))
    groups = np.repeat(np.arange(60), 4)
    y = (groups == 7).astype(int)
    m = LeadScorer(min_positives=3).fit(X, y, groups=groups)
    assert m.source_ == "points" and m.n_positive_groups_ == 1
    # two converting contacts reach min_positives=2: two folds, each trains on the other's buyer
    y2 = np.isin(groups, (7, 30)).astype(int)
    two = LeadScorer(min_positives=2, estimator="logistic").fit(X, y2, groups=groups)
    assert two.source_ == "model" and two.n_positive_groups_ == 2


def test_run_once_decides_when_one_contact_converted(tmp_path, store_url, redis_url):
    """The auditor's CDNOW store: 60 contacts, one bought in the training windows; min_positives 3.
    Retraining used to crash every `hub run --once` pass before decide."""
    now = datetime.now(UTC)
    store = _store_with_buyers(store_url, 60, {7: [150.0]}, now)  # positive at all four cut-offs
    store.dispose()
    path = hub_config(tmp_path, store_url, redis_url, **{"decision.scoring": {"min_positives": 3}})
    ctx = HubContext.build(load_settings(path), embedded=True)
    try:
        report = run_once(ctx)
        assert report.scoring is not None and report.scoring.cold_start
        assert report.decide.decided == 60
    finally:
        ctx.close()


def test_run_once_logs_a_failed_retrain_and_still_decides(tmp_path, redis_url, caplog):
    """The store refuses the new version (a trigger stands in for a full disk): the retrain
    fails, the pass logs it and decides and pushes anyway, and does not retry every pass."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    now = datetime.now(UTC)
    buyers = {i: [150.0, 100.0, 40.0] for i in range(0, 80, 2)}
    store = _store_with_buyers(url, 80, buyers, now)
    with store.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER full BEFORE INSERT ON model_snapshots "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )
        )
    store.dispose()
    path = hub_config(tmp_path, url, redis_url, **{"decision.scoring": {"min_positives": 5}})
    ctx = HubContext.build(load_settings(path), embedded=True)
    try:
        report = run_once(ctx)
        assert report.scoring is None and report.decide.decided == 80
        assert any("lead scoring retrain failed" in r.getMessage() for r in caplog.records)
        caplog.clear()
        assert run_once(ctx).scoring is None  # not due again until retrain_every_hours
        assert not any("lead scoring retrain failed" in r.getMessage() for r in caplog.records)
    finally:
        ctx.close()


def test_min_positives_counts_converting_contacts_and_training_says_all_three(tmp_path, store_url, redis_url):
    """Ten contacts, each with two opportunities inside all four stacked training windows: 40
    positive rows, 20 opportunities, 10 converting contacts. min_positives 20 is not met."""
    from hub.cli import app

    now = datetime.now(UTC)
    _store_with_buyers(store_url, 60, {i: [150.0, 145.0] for i in range(10)}, now).dispose()
    path = hub_config(tmp_path, store_url, redis_url, **{"decision.scoring": {"min_positives": 20}})
    r = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["model", "train", "scoring", "-c", str(path)])
    assert r.exit_code == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("240 training rows (40 positive), 20 opportunities, 10 converting contacts.")
    assert "cold start: 10 converting contacts in training windows, 20 needed" in first
