"""Lead-scoring quality on real purchase histories (CDNOW) and on the sandbox market.

(a) CDNOW (23,570 real customers, 1997-1998): probability of buying again within 90 days of
    a cut-off, from the purchase history before it. Purchases become ``opportunity_created``
    activities with their dollar amount, so the *production* training-set builder and
    :class:`LeadScorer` run unchanged. Training cut-offs monthly from 1997-04-01 to 1997-10-01
    (every label window ends by the test cut-off), test cut-off 1998-01-01. Baseline: the
    classic points-based RFM score (recency, frequency, monetary quintiles 1-5, summed), ranked
    as is, and for Brier/ECE turned into a probability by its per-score rate on the training
    rows (the fairest calibration a points score can get).
(b) Sandbox market (hub.sandbox.world.World, legacy playbook actions every day): contacts and
    activities are rebuilt from the market's events, label = an opportunity opened within 90 days.
    Training cut-offs days 60-120, test cut-off day 210 (labels to day 300). Baseline: the legacy
    points score of :mod:`decision.scoring.points` (the cold-start score), raw and per-score rate.

Metrics on the test window: ROC AUC, PR AUC, Brier, expected calibration error, top-decile lift.
``model_shifted`` is the same model with its base rate moved (``LeadScorer.with_base_rate``) to the
rate implied by the 30 days before the test cut-off (``recent_rate``: known at that time, no leak).

    python bench/scoring_quality.py [--data ../shared/data/cdnow] [--contacts 5000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from decision.scoring import LeadScorer, build_rolling, points_probability, points_score, score_metrics, time_split
from decision.scoring.dataset import FEATURE_NAMES, TrainingSet, recent_rate
from decision.scoring.metrics import ScoreMetrics
from hub.models import Activity, ActivityType, Company, Consent, Contact
from hub.sandbox.catalog import ACTION_INDEX, CATALOG
from hub.sandbox.market import EVENT_TYPES
from hub.sandbox.playbook import Playbook
from hub.sandbox.world import PendingAction, World, WorldConfig

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cdnow"
SANDBOX_START = datetime(2025, 1, 6, tzinfo=UTC)
_ACTIVITY = {t.value for t in ActivityType}


# ---- CDNOW ----------------------------------------------------------------------------------
def load_cdnow(path: Path) -> tuple[list[Contact], list[Activity]]:
    raw = np.loadtxt(path / "CDNOW_master.txt", skiprows=1)
    ids = raw[:, 0].astype(int)
    contacts = [Contact(id=int(i)) for i in np.unique(ids)]
    acts = []
    for k, (cid, date, _cds, dollars) in enumerate(raw):
        d = str(int(date))
        at = datetime(int(d[:4]), int(d[4:6]), int(d[6:]), 12, tzinfo=UTC)
        acts.append(
            Activity.model_construct(  # trusted, already-typed rows: skip validation for speed
                contact_id=int(cid),
                type=ActivityType.OPPORTUNITY_CREATED,
                occurred_at=at,
                properties={"amount": float(dollars)},
                source="cdnow",
                external_id=str(k),
            )
        )
    return contacts, acts


def rfm_points(X: np.ndarray) -> np.ndarray:
    """Classic RFM: quintile scores 1-5 of recency (recent = 5), frequency and monetary, summed."""
    col = FEATURE_NAMES.index

    def quint(v: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.quantile(v, [0.2, 0.4, 0.6, 0.8]), v, side="right") + 1

    r = 6 - quint(X[:, col("days_since_last_opportunity")])
    return r + quint(X[:, col("opportunities_365d")]) + quint(X[:, col("amount_365d")])


def cell_rates(train_score: np.ndarray, train_y: np.ndarray, test_score: np.ndarray) -> np.ndarray:
    """A points score made a probability: the training rate of each score value."""
    overall = train_y.mean()
    rates = {s: train_y[train_score == s].mean() for s in np.unique(train_score)}
    return np.asarray([rates.get(s, overall) for s in test_score])


def cdnow(path: Path, quick: bool) -> dict[str, ScoreMetrics | float]:
    t = time.perf_counter()
    contacts, acts = load_cdnow(path)
    step = 3 if quick else 1
    cutoffs = [datetime(1997, m, 1, tzinfo=UTC) for m in range(4, 11, step)]
    test_at = datetime(1998, 1, 1, tzinfo=UTC)
    ts = build_rolling(contacts, acts, [*cutoffs, test_at], horizon_days=90)
    rate = recent_rate(contacts, acts, test_at, lookback_days=30, horizon_days=90)
    return {**evaluate(ts, test_at, rfm_points, "rfm", quick, rate), "seconds": time.perf_counter() - t}


# ---- sandbox --------------------------------------------------------------------------------
def simulate(n: int, days: int, seed: int) -> tuple[list[Contact], list[Activity]]:
    """Run the world under the legacy playbook, recording every market event as an activity."""
    world = World(WorldConfig(n_contacts=n, seed=seed, start=SANDBOX_START))
    market, playbook = world.market, Playbook()
    recorded: list[tuple[int, dict[str, np.ndarray]]] = []
    step = market.step

    def recording_step(batch=None):  # noqa: ANN001, ANN202 - wraps Market.step
        day = market.day
        events = step(batch)
        recorded.append((day, events))
        return events

    market.step = recording_step
    for day in range(days):
        # The playbook's choices enter the world as the CRM writes of a hub decision would.
        action, hour = playbook.decide(market)
        for person in np.flatnonzero(action != ACTION_INDEX["wait"]):
            world.pending[int(person)] = PendingAction(
                CATALOG[action[person]].id, f"{hour[person]:02d}", None, f"pb-{day}-{person}", "hubspot"
            )
        world.advance_days(1)
    pop = world.pop
    contacts = [
        Contact(
            id=i + 1,
            company=Company(
                employees=int(pop.company_employees[pop.company[i]]),
                annual_revenue=float(pop.company_revenue[pop.company[i]]),
            ),
            consent=Consent(email_opt_out=not bool(pop.email_consent[i]), do_not_contact=bool(pop.do_not_call[i])),
        )
        for i in range(n)
    ]
    acts = []
    for day, ev in recorded:
        base = SANDBOX_START + timedelta(days=day)
        for k in range(len(ev["type"])):
            kind = EVENT_TYPES[ev["type"][k]]
            if kind == "email_sent":
                continue  # not a feature; about a third of all events
            acts.append(
                Activity.model_construct(
                    contact_id=int(ev["person"][k]) + 1,
                    type=ActivityType(kind) if kind in _ACTIVITY else ActivityType.CUSTOM,
                    occurred_at=base + timedelta(seconds=int(ev["second"][k])),
                    properties={"amount": float(ev["value"][k])} if ev["value"][k] else {},
                    source="sandbox",
                    external_id=f"{day}-{k}",
                )
            )
    return contacts, acts


def sandbox(n: int, quick: bool, seed: int = 0) -> dict[str, ScoreMetrics | float]:
    t = time.perf_counter()
    contacts, acts = simulate(n, 300, seed)
    day = lambda d: SANDBOX_START + timedelta(days=d)  # noqa: E731
    train_days = range(60, 121, 30 if quick else 15)
    ts = build_rolling(contacts, acts, [*(day(d) for d in train_days), day(210)], horizon_days=90)
    rate = recent_rate(contacts, acts, day(210), lookback_days=30, horizon_days=90)
    return {**evaluate(ts, day(210), points_score, "points", quick, rate), "seconds": time.perf_counter() - t}


# ---- shared ---------------------------------------------------------------------------------
def auc_gap(y: np.ndarray, a: np.ndarray, b: np.ndarray, reps: int = 200, seed: int = 0) -> tuple[float, float, float]:
    """ROC AUC of ``a`` minus that of ``b`` on the same rows, with a paired bootstrap 95 % interval."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    gaps = []
    for _ in range(reps):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            gaps.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    lo, hi = np.quantile(gaps, [0.025, 0.975])
    return float(roc_auc_score(y, a) - roc_auc_score(y, b)), float(lo), float(hi)


def evaluate(ts: TrainingSet, test_at: datetime, baseline, name: str, quick: bool, rate: float) -> dict:  # noqa: ANN001
    train, test = time_split(ts, test_at)
    model = LeadScorer(max_iter=80 if quick else 200).fit(
        train.X, train.y, train.value, order=train.cutoffs, groups=train.contact_ids
    )
    p = model.predict_proba(test.X)[:, 1]
    shifted = model.with_base_rate(test.X, rate).predict_proba(test.X)[:, 1]
    b_train, b_test = baseline(train.X), baseline(test.X)
    raw = score_metrics(test.y, b_test.astype(float))
    if baseline is points_score:  # the cold-start score's own documented probability curve
        curve = score_metrics(test.y, points_probability(b_test))
        raw = ScoreMetrics(**{**raw.as_dict(), "brier": curve.brier, "ece": curve.ece})
    else:  # a bare points total is no probability: no Brier or calibration to speak of
        raw = ScoreMetrics(**{**raw.as_dict(), "brier": float("nan"), "ece": float("nan")})
    return {
        "model": score_metrics(test.y, p),
        "model_shifted": score_metrics(test.y, shifted),
        "recent_rate": rate,
        "auc_gap": auc_gap(test.y, p, b_test.astype(float)),
        f"{name}_raw": raw,
        f"{name}_rate": score_metrics(test.y, cell_rates(b_train, train.y, b_test)),
        "train_rows": float(len(train)),
        "train_positives": float(train.y.sum()),
        "model_kind": model.kind_ if model.source_ == "model" else "points",
        "calibration": getattr(model, "calibration_kind_", "-"),
    }


def _f(v: float, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if np.isnan(v) else f"{v:{width}.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--contacts", type=int, default=5000)
    ap.add_argument("--quick", action="store_true", help="fewer cut-offs and boosting rounds")
    args = ap.parse_args()
    results = {"cdnow": cdnow(args.data, args.quick), "sandbox": sandbox(args.contacts, args.quick)}
    header = f"{'data':8} {'scorer':13} {'n':>6} {'base':>6} {'ROC AUC':>8} {'PR AUC':>7} {'Brier':>7} {'ECE':>7} {'lift@10%':>8}"
    print(header)
    print("-" * len(header))
    out: dict[str, dict] = {}
    for data, res in results.items():
        out[data] = {k: v for k, v in res.items() if not isinstance(v, ScoreMetrics)}
        for scorer, m in res.items():
            if not isinstance(m, ScoreMetrics):
                continue
            out[data][scorer] = {k: None if np.isnan(v) else round(v, 4) for k, v in m.as_dict().items()}
            print(
                f"{data:8} {scorer:13} {m.n:6d} {m.base_rate:6.3f} {m.roc_auc:8.3f} {m.pr_auc:7.3f} "
                f"{_f(m.brier, 7, 4)} {_f(m.ece, 7, 4)} {m.top_decile_lift:8.2f}"
            )
        print(
            f"{data:8} model = {res['model_kind']} + {res['calibration']} calibration, "
            f"{int(res['train_rows'])} training rows ({int(res['train_positives'])} positive), "
            f"recent-rate estimate {res['recent_rate']:.3f}, {res['seconds']:.1f} s; ROC AUC model - baseline "
            f"{res['auc_gap'][0]:+.3f} [{res['auc_gap'][1]:+.3f}, {res['auc_gap'][2]:+.3f}] (paired bootstrap 95%)"
        )
    print(json.dumps({"bench": "scoring_quality", "quick": args.quick, **out}, sort_keys=True, allow_nan=False))


if __name__ == "__main__":
    main()
