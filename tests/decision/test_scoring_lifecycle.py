"""The lead-scoring model's life in a real store: rollback through the command, training on few
converting contacts, and a live snapshot that will not load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from decision.scoring import LeadScorer, features_at
from decision.scoring.dataset import FEATURE_NAMES
from decision.scoring.registry import ModelRegistry
from decision.scoring.settings import ScoringSettings
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


def _registry_with_models(url: str, now: datetime):
    """A store of 30 contacts and a registry holding v1 (usable) and v2, both promoted (v2 live)."""
    from decision.scoring import score_metrics
    from hub.pipeline.scoring import registry_for

    store = _store_with_buyers(url, 30, {}, now)
    reg = registry_for(store, ScoringSettings())
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, len(FEATURE_NAMES)))
    y = (rng.random(2000) < 1 / (1 + np.exp(-(X[:, 0] - 2)))).astype(int)
    for k in (1, 2):
        m = LeadScorer(estimator="logistic", random_state=k).fit(X, y)
        reg.promote(reg.register(m, score_metrics(y, m.predict_proba(X)[:, 1])), now - timedelta(hours=3 - k))
    return store, reg, X, y


def _truncate(store: Store, version: int) -> None:
    from sqlalchemy import update

    from hub.store.schema import model_snapshots

    with store.begin() as conn:
        blob = conn.execute(select(model_snapshots.c.blob).where(model_snapshots.c.version == version)).scalar()
        conn.execute(
            update(model_snapshots).where(model_snapshots.c.version == version).values(blob=blob[: len(blob) // 2])
        )


def test_a_live_snapshot_that_will_not_load_or_fit_falls_back_and_is_logged_once(store_url, caplog):
    """Truncated live pickle, then a live version fitted on another feature list: every decide
    batch used to crash. Scoring walks back to the newest usable promoted version, then to the
    points score, and says so once per version, not once per batch."""
    import logging

    from hub.pipeline.lead_scores import score_fields
    from hub.pipeline.scoring import load_history

    now = datetime.now(UTC)
    store, reg, X, y = _registry_with_models(store_url, now)
    _truncate(store, 2)
    contacts, acts = load_history(store, now - timedelta(days=365))
    F = features_at(contacts, acts, now)
    settings = ScoringSettings()

    def batch() -> list[float]:
        with store.connect() as conn:
            got = score_fields(store, conn, contacts, now, settings)
        return [got[c.id]["conversion_probability"] for c in contacts]

    def logged(version: int) -> int:
        return sum(f"lead_score v{version}" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)

    v1 = [round(float(p), 4) for p in reg.load(1).score_many(F).probability]
    assert batch() == v1 and batch() == v1
    assert logged(2) == 1
    # a release whose feature list is one column shorter (same schema version) promoted on top
    old = LeadScorer(estimator="logistic").fit(X[:, :-1], y, feature_names=FEATURE_NAMES[:-1])
    reg.promote(reg.register(old, _metrics(old, X[:, :-1], y)))
    assert reg.live_version() == 3
    assert batch() == v1 and batch() == v1
    assert logged(3) == 1 and logged(2) == 1
    store.dispose()


def _metrics(model: LeadScorer, X: np.ndarray, y: np.ndarray):
    from decision.scoring import score_metrics

    return score_metrics(y, model.predict_proba(X)[:, 1])


def test_monitoring_alerts_on_unusable_live_models_and_retraining_replaces_them(store_url):
    """Both promoted versions are broken: the points score serves, monitoring raises one
    ``model`` alert per version, and a retrain is not judged against a model that cannot score."""
    from hub.pipeline.lead_scores import score_fields
    from hub.pipeline.monitoring import monitor
    from hub.pipeline.scoring import load_history

    now = datetime.now(UTC)
    store, reg, X, y = _registry_with_models(store_url, now)
    _truncate(store, 1)
    _truncate(store, 2)
    contacts, acts = load_history(store, now - timedelta(days=365))
    F = features_at(contacts, acts, now)

    def batch() -> list[float]:
        with store.connect() as conn:
            got = score_fields(store, conn, contacts, now, ScoringSettings())
        return [got[c.id]["conversion_probability"] for c in contacts]

    assert batch() == [round(float(p), 4) for p in LeadScorer.cold_start().score_many(F).probability]
    alerts = [a for a in monitor(store, now, ScoringSettings()) if a.kind == "model"]
    assert sorted((a.subject, a.severity) for a in alerts) == [
        ("lead_score v1", "critical"),
        ("lead_score v2", "critical"),
    ]
    assert all("the points score scores instead" in a.message for a in alerts)
    d = reg.consider(LeadScorer(estimator="logistic", random_state=5).fit(X, y), X, y)
    assert d.live_version is None and d.promoted and reg.live_version() == d.version == 3
    assert not [a for a in monitor(store, now, ScoringSettings()) if a.kind == "model"]
    assert batch() == [round(float(p), 4) for p in reg.load(3).score_many(F).probability]
    store.dispose()
