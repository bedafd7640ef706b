"""Lead scoring: calibration against a known probability, leakage, cold start, the registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from decision.scoring import LeadScorer, build_rolling, build_training_set, score_metrics, time_split
from decision.scoring.dataset import FEATURE_NAMES
from decision.scoring.metrics import expected_calibration_error, top_decile_lift
from decision.scoring.registry import ModelRegistry, PromotionRule
from hub.errors import DecisionError, StoreError
from hub.models import Activity, Company, Contact
from hub.store import Store, models_repo

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features with a known true probability: logistic in two columns, a noise column."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    p = 1 / (1 + np.exp(-(1.2 * X[:, 0] - 0.8 * X[:, 1] - 2.5)))
    return X, (rng.random(n) < p).astype(int), p


@pytest.mark.parametrize(("estimator", "calibration"), [("logistic", "isotonic"), ("hgb", "sigmoid")])
def test_calibrated_probabilities_match_the_known_truth(estimator, calibration):
    X, y, _ = synthetic(6000, 0)
    Xt, yt, pt = synthetic(4000, 1)
    model = LeadScorer(estimator=estimator, calibration=calibration, max_iter=60).fit(
        X, y, feature_names=("a", "b", "c")
    )
    p = model.predict_proba(Xt)[:, 1]
    assert model.source_ == "model"
    # Close to the true probability per row, and calibrated in bins against outcomes.
    assert np.mean(np.abs(p - pt)) < 0.03
    assert expected_calibration_error(yt, p) < 0.025
    assert abs(p.mean() - pt.mean()) < 0.01
    assert score_metrics(yt, p).roc_auc > 0.8


def test_the_calibration_check_fails_on_miscalibrated_probabilities():
    """The thresholds above can fail: the true probabilities pass, a distorted copy does not."""
    _, yt, pt = synthetic(4000, 1)
    assert expected_calibration_error(yt, pt) < 0.025
    assert expected_calibration_error(yt, np.sqrt(pt)) > 0.05


def test_scores_are_percentiles_and_expected_value_scales_with_probability():
    X, y, _ = synthetic(4000, 3)
    value = np.where(y == 1, 20_000.0, 0.0)
    model = LeadScorer(estimator="logistic").fit(X, y, value, feature_names=("a", "b", "c"))
    s = model.score_many(X)
    assert s.score.min() >= 0 and s.score.max() <= 100
    order = np.argsort(s.probability, kind="stable")
    assert (np.diff(s.score[order]) >= 0).all()  # the score is a rank of the probability
    assert 40 <= np.median(s.score) <= 60
    np.testing.assert_allclose(s.expected_value, s.probability * 20_000.0)
    assert top_decile_lift(y, s.probability) > 2


def _contact(i: int, employees: int = 50) -> Contact:
    return Contact(id=i, company=Company(employees=employees))


def _act(cid: int, kind: str, day: float, key: str, **props) -> Activity:
    return Activity(
        contact_id=cid,
        type=kind,
        occurred_at=T0 + timedelta(days=day),
        properties=props,
        source="t",
        external_id=key,
    )


def test_features_use_only_history_before_the_cutoff_and_labels_only_after():
    contacts = [_contact(1), _contact(2)]
    acts = [
        _act(1, "meeting", 5, "a"),
        _act(1, "meeting", 15, "b"),  # after the cut-off: must not be a feature
        _act(1, "opportunity_created", 20, "c", amount=7000),
        _act(2, "opportunity_created", 9, "d", amount=999),  # before the cut-off: history, not label
        _act(2, "opportunity_created", 200, "e", amount=1),  # beyond the horizon
    ]
    ts = build_training_set(contacts, acts, T0 + timedelta(days=10), horizon_days=90)
    col = FEATURE_NAMES.index
    assert ts.X[0, col("meeting_7d")] == 1 and ts.X[0, col("meeting_90d")] == 1
    assert ts.y.tolist() == [1, 0]
    assert ts.value.tolist() == [7000.0, 0.0]
    assert ts.X[1, col("opportunities_365d")] == 1 and ts.X[1, col("amount_365d")] == 999


def test_time_split_drops_rows_whose_label_window_overlaps_the_test_period():
    contacts = [_contact(i) for i in range(1, 4)]
    cutoffs = [T0 + timedelta(days=d) for d in (0, 30, 60, 90, 120)]
    ts = build_rolling(contacts, [], cutoffs, horizon_days=90)
    train, test = time_split(ts, T0 + timedelta(days=90))
    end = train.cutoffs + np.timedelta64(90 * 86400, "s")
    assert (end <= np.datetime64(int((T0 + timedelta(days=90)).timestamp()), "s")).all()
    assert len(train) == 3 and len(test) == 6  # cut-offs 30 and 60 overlap: dropped
    with pytest.raises(DecisionError):
        time_split(ts, T0)


def test_cold_start_serves_the_points_score_until_enough_labels():
    contacts = [_contact(i, employees=2000 if i == 1 else 5) for i in range(1, 41)]
    acts = [_act(1, "meeting", -3, "m"), _act(1, "opportunity_created", 5, "o")]
    ts = build_training_set(contacts, acts, T0, horizon_days=90)
    model = LeadScorer(min_positives=10).fit(ts.X, ts.y, ts.value)
    s = model.score_many(ts.X)
    assert s.source == "points"
    assert s.score[0] == 25 and s.score[1:].max() == 0  # 15 (meeting) + 10 (>= 1000 employees)
    assert s.probability[0] > s.probability[1]


def test_promotion_rule_tolerates_small_losses_and_refuses_large_ones():
    base = score_metrics(np.array([0, 0, 1, 1, 0, 1]), np.array([0.1, 0.2, 0.7, 0.8, 0.3, 0.6]))
    rule = PromotionRule({"roc_auc": 0.02, "brier": 0.01})
    assert rule.check(base, None)[0]
    slightly = base.__class__(**{**base.as_dict(), "roc_auc": base.roc_auc - 0.015, "brier": base.brier + 0.005})
    assert rule.check(slightly, base)[0]
    worse = base.__class__(**{**base.as_dict(), "brier": base.brier + 0.02})
    ok, reasons = rule.check(worse, base)
    assert not ok and any("brier" in r and "worse" in r for r in reasons)


def test_registry_promotes_only_non_worse_models_and_rolls_back(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    X, y, _ = synthetic(4000, 4)
    Xr, yr, _ = synthetic(3000, 5)
    reg = ModelRegistry(store, "lead_score")
    good = LeadScorer(estimator="logistic").fit(X, y, feature_names=("a", "b", "c"))
    first = reg.consider(good, Xr, yr)
    assert first.promoted and reg.live_version() == first.version == 1
    # A model trained on shuffled labels ranks at random: refused, but kept as a candidate.
    bad = LeadScorer(estimator="logistic").fit(
        X, np.random.default_rng(9).permutation(y), feature_names=("a", "b", "c")
    )
    second = reg.consider(bad, Xr, yr)
    assert not second.promoted and second.live_version == 1
    assert reg.live_version() == 1
    assert [v.status for v in reg.versions()] == ["promoted", "candidate"]
    # A model as good as the live one is promoted; rollback returns to the one before.
    third = reg.consider(
        LeadScorer(estimator="logistic", random_state=1).fit(X, y, feature_names=("a", "b", "c")), Xr, yr
    )
    assert third.promoted and reg.live_version() == 3
    assert reg.rollback() == 1
    np.testing.assert_allclose(reg.live().predict_proba(Xr), good.predict_proba(Xr))
    assert reg.versions()[0].metrics["roc_auc"] == pytest.approx(first.candidate.roc_auc)
    with store.begin() as conn, pytest.raises(StoreError):
        models_repo.save_snapshot(conn, "x", b"", {"_status": "promoted"})


def test_base_rate_shift_moves_the_level_and_keeps_the_ranking():
    X, y, _ = synthetic(4000, 6)
    model = LeadScorer(estimator="logistic").fit(X, y, feature_names=("a", "b", "c"))
    shifted = model.with_base_rate(X, 0.02)
    p0, p1 = model.predict_proba(X)[:, 1], shifted.predict_proba(X)[:, 1]
    assert p1.mean() == pytest.approx(0.02, abs=1e-4) and p0.mean() > 0.05
    assert (np.argsort(p0, kind="stable") == np.argsort(p1, kind="stable")).all()
    assert not hasattr(model, "offset_") or model.offset_ == 0.0  # the original is untouched
    with pytest.raises(DecisionError):
        LeadScorer.cold_start().with_base_rate(X, 0.1)


def test_models_repo_round_trips_on_both_dialects(store_url):
    """Bytes, NaN-bearing metrics and the promotion history on SQLite and PostgreSQL."""
    store = Store(store_url, auto_migrate=True)
    try:
        with store.begin() as conn:
            v1 = models_repo.save_snapshot(conn, "m", b"\x00one", {"roc_auc": float("nan"), "brier": 0.1})
            v2 = models_repo.save_snapshot(
                conn, "m", b"\x00two", {"roc_auc": 0.7, "nested": {"x": [1.0, float("inf")]}}
            )
            assert models_repo.live_version(conn, "m") is None
            models_repo.promote(conn, "m", v1, T0)
            models_repo.promote(conn, "m", v2, T0 + timedelta(days=1))
        with store.begin() as conn:
            assert models_repo.live_version(conn, "m") == v2
            info, blob = models_repo.load_snapshot(conn, "m", v1)
            assert blob == b"\x00one" and info.metrics == {"roc_auc": None, "brier": 0.1}
            assert models_repo.load_snapshot(conn, "m", v2)[0].metrics["nested"] == {"x": [1.0, None]}
            assert models_repo.rollback(conn, "m") == v1
            assert models_repo.rollback(conn, "m") is None
            with pytest.raises(StoreError):
                models_repo.rollback(conn, "m")
            with pytest.raises(StoreError):
                models_repo.load_snapshot(conn, "m", 99)
            assert [s.status for s in models_repo.list_snapshots(conn, "m")] == ["rolled_back", "rolled_back"]
    finally:
        store.dispose()


def test_an_opt_out_after_the_cut_off_is_not_seen_at_it():
    """Today's opt-out is a snapshot; a row cut before the unsubscribe must read 'not opted out'."""
    c = Contact(id=1, consent={"email_opt_out": True})
    unsub = Activity(contact_id=1, type="unsubscribe", occurred_at=T0 + timedelta(days=20), source="s", external_id="u")
    col = FEATURE_NAMES.index("email_opt_out")
    before = build_training_set([c], [unsub], T0 + timedelta(days=10))
    after = build_training_set([c], [unsub], T0 + timedelta(days=30))
    no_history = build_training_set([c], [], T0 + timedelta(days=10))
    assert (before.X[0, col], after.X[0, col], no_history.X[0, col]) == (0.0, 1.0, 1.0)
