"""Monitoring: is the world still the one the model learned, and is the model still good?

Four checks, each a pure function over arrays, and one :func:`check` that turns them into
:class:`Alert` objects against :class:`Thresholds`. Every check that watches many things at
once has a stated false-alarm rate: its tests are Holm-corrected across everything it
watches (decision/alert_stats.py), so a healthy run raises an alert of that check with
probability at most ``alpha``. An alert is *raised* at ``alpha`` and *held* (an open one stays
open) down to ``clear_alpha``: hysteresis, so a condition at the edge does not flap.

- **Feature drift**: population stability index (PSI) per feature between a reference
  sample and recent rows, on the reference's quantile bins (the usual reading: < 0.1 stable,
  0.1-0.25 moderate, > 0.25 shifted), raised only when the PSI is also significant for the
  sample sizes (chi-squared test of homogeneity on the bins' counts) after Holm over the
  features.
- **Model quality** on recently labelled contacts: ROC AUC, Brier, calibration error, via
  :func:`decision.scoring.metrics.score_metrics` (an AUC near 0.5 is Pega's "AUC = 50" alert).
- **Reward rate**: one alert per cause (:func:`reward_drop_alerts`): the baseline arm fell
  (the market changed), the engine earns less than the baseline (the model harms), and the
  segments that fell more than the rest, grouped into one alert; one-sided Welch tests and
  differences in differences. Nothing is tested on fewer than ``min_rows`` decisions.
- **Exploration share**: the share of decisions whose action had less than even odds
  (propensity < 0.5: not the policy's likely choice), tested one-sided (binomial) against
  ``min_exploration`` and ``max_exploration``.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> round(psi(rng.normal(size=5000), rng.normal(size=5000)), 2) < 0.02
True
>>> psi(rng.normal(size=5000), rng.normal(1.0, 1.0, size=5000)) > 0.25
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from decision.alert_stats import (
    diff_in_diff_less_p,
    holm,
    homogeneity_p,
    share_above_p,
    share_below_p,
    welch_less_p,
)
from decision.scoring.metrics import ScoreMetrics, score_metrics


@dataclass(frozen=True)
class Alert:
    """One threshold crossed. ``subject`` is the feature, action or segment concerned."""

    kind: str  # drift, auc, brier, calibration, reward_rate, exploration_low, exploration_high, sync, model
    subject: str
    value: float
    threshold: float
    severity: str  # "warning" or "critical"
    message: str
    #: seen only at the clearing level: keeps an open alert open, never raises a new one
    hold: bool = False


@dataclass(frozen=True)
class Thresholds:
    psi_warning: float = 0.1
    psi_critical: float = 0.25
    min_auc: float = 0.6
    max_brier_increase: float = 0.02  # over the model's Brier at training time
    max_ece: float = 0.05
    min_reward_ratio: float = 0.5  # unused: reward alerts are tests now (kept for old configs)
    min_rows: int = 100  # below this, quality, reward, drift and exploration checks stay silent
    min_exploration: float = 0.02
    max_exploration: float = 0.5  # past half of the decisions against its own best guess
    alpha: float = 0.01  # false-alarm rate per check family and run (Holm-corrected)
    clear_alpha: float = 0.1  # an open alert stays open while its adjusted p-value is below this


def _edges(e_ok: np.ndarray, bins: int) -> np.ndarray:
    if not len(e_ok):
        return np.zeros(0)
    inner = np.quantile(e_ok, np.linspace(0, 1, bins + 1)[1:-1])
    # ``searchsorted(side="right")``: below the minimum is bin 0, above the maximum the last
    low = np.nextafter(e_ok.min(), -np.inf)
    high = np.nextafter(e_ok.max(), np.inf)
    return np.unique(np.concatenate([[low], inner, [high]]))


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of ``actual`` against ``expected`` (the training window).

    Bins are the expected sample's quantiles (distinct edges only), so a feature with many
    ties (counts that are mostly zero) gets fewer, still meaningful bins, plus one bin below
    its minimum and one above its maximum, so values the reference never had show (a count
    that was always 0 and is now 6 is drift). Missing values form their own bin, since
    "suddenly missing" is drift too.
    """
    return _psi_of(*bin_counts(expected, actual, bins), eps)


def bin_counts(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Rows of each sample in :func:`psi`'s bins (the last one: missing values)."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e_nan, a_nan = np.isnan(e), np.isnan(a)
    e_ok, a_ok = e[~e_nan], a[~a_nan]
    edges = _edges(e_ok, bins)
    e_counts = np.append(np.bincount(np.searchsorted(edges, e_ok, side="right"), minlength=len(edges) + 1), e_nan.sum())
    a_counts = np.append(np.bincount(np.searchsorted(edges, a_ok, side="right"), minlength=len(edges) + 1), a_nan.sum())
    return e_counts, a_counts


def _psi_of(e_counts: np.ndarray, a_counts: np.ndarray, eps: float = 1e-4) -> float:
    pe = np.maximum(e_counts / max(int(e_counts.sum()), 1), eps)
    pa = np.maximum(a_counts / max(int(a_counts.sum()), 1), eps)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


#: a column with at most this many distinct reference values is compared value by value
DISCRETE_LEVELS = 10


def discrete_psi(expected: np.ndarray, actual: np.ndarray, eps: float = 1e-4) -> float:
    """PSI with one bin per value the expected sample holds, plus one for any other value: for
    indicator and one-hot columns, where quantile bins of a constant column cannot see a value
    the training rows never had (a new level arriving is the drift worth seeing).

    >>> round(discrete_psi(np.zeros(100), np.r_[np.zeros(50), np.ones(50)]), 1)
    4.6
    """
    return _psi_of(*discrete_counts(expected, actual), eps)


def discrete_counts(expected: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of each sample in :func:`discrete_psi`'s bins (the last one: values ``expected`` lacks)."""
    e, a = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    values = np.unique(e)
    e_counts = np.append((e[:, None] == values).sum(axis=0), 0)
    a_hit = a[:, None] == values
    return e_counts, np.append(a_hit.sum(axis=0), (~a_hit.any(axis=1)).sum())


def feature_drift(train: np.ndarray, recent: np.ndarray, names: Sequence[str], bins: int = 10) -> dict[str, float]:
    """PSI per feature column."""
    train, recent = np.asarray(train, dtype=float), np.asarray(recent, dtype=float)
    return {name: psi(train[:, j], recent[:, j], bins) for j, name in enumerate(names)}


def rates_by(keys: Sequence[str] | np.ndarray, rewards: np.ndarray) -> dict[str, tuple[float, int]]:
    """Mean reward and count per key (action id, segment...)."""
    k = np.asarray(keys).astype(str)
    r = np.asarray(rewards, dtype=float)
    uniq, inv = np.unique(k, return_inverse=True)
    n = np.bincount(inv, minlength=len(uniq))
    s = np.bincount(inv, weights=r, minlength=len(uniq))
    return {str(u): (float(s[i] / n[i]), int(n[i])) for i, u in enumerate(uniq)}


def exploration_share(propensities: np.ndarray, explored: np.ndarray | None = None) -> float:
    """Share of decisions that explored: flagged, or else taken with less than even odds
    (propensity < 0.5: not the policy's likely choice; a sampling policy logs propensities
    below one for its likely choices too, so "below one" would count nearly everything)."""
    p = np.asarray(propensities, dtype=float)
    if len(p) == 0:
        return float("nan")
    flags = np.asarray(explored, dtype=bool) if explored is not None else p < 0.5
    return float(flags.mean())


def check(
    *,
    thresholds: Thresholds | None = None,
    train_X: np.ndarray | None = None,
    recent_X: np.ndarray | None = None,
    feature_names: Sequence[str] = (),
    y_recent: np.ndarray | None = None,
    p_recent: np.ndarray | None = None,
    trained_brier: float | None = None,
    reward_current: dict[str, np.ndarray] | None = None,
    reward_reference: dict[str, np.ndarray] | None = None,
    segments: Sequence[str] = (),
    contacts_current: dict[str, np.ndarray] | None = None,
    contacts_reference: dict[str, np.ndarray] | None = None,
    propensities: np.ndarray | None = None,
    explored: np.ndarray | None = None,
) -> list[Alert]:
    """Run every check whose inputs are given; returns the alerts, most severe first."""
    t = thresholds or Thresholds()
    alerts: list[Alert] = []
    if train_X is not None and recent_X is not None:
        alerts += _drift_alerts(np.asarray(train_X, dtype=float), np.asarray(recent_X, dtype=float), feature_names, t)
    if y_recent is not None and p_recent is not None and len(y_recent) >= t.min_rows:
        alerts += _quality_alerts(score_metrics(y_recent, p_recent), trained_brier, t)
    if reward_current is not None and reward_reference is not None:
        alerts += reward_drop_alerts(
            reward_current, reward_reference, segments, t, contacts_current, contacts_reference
        )
    if propensities is not None and len(propensities) >= t.min_rows:
        alerts += _exploration_alerts(np.asarray(propensities, dtype=float), explored, t)
    return sorted(alerts, key=lambda a: (a.severity != "critical", a.kind, a.subject))


def _level(p_adj: float, t: Thresholds) -> bool | None:
    """True: raise; False: hold an open alert; None: nothing."""
    return True if p_adj < t.alpha else (False if p_adj < t.clear_alpha else None)


def declared_drift_alerts(train: np.ndarray, recent: np.ndarray, names: Sequence[str], t: Thresholds) -> list[Alert]:
    """Drift of declared feature columns (decision.features) against the rows they were fitted
    on: as :func:`check`'s drift, but a column of few values (a one-hot level, a missing flag)
    is compared value by value, since quantile bins of a column constant when fitted cannot see
    a value arrive."""
    return _drift_alerts(np.asarray(train, dtype=float), np.asarray(recent, dtype=float), names, t, discrete=True)


def _drift_alerts(
    train: np.ndarray, recent: np.ndarray, names: Sequence[str], t: Thresholds, discrete: bool = False
) -> list[Alert]:
    """PSI per feature, alerted where it crosses the PSI level *and* is significant for the
    sample sizes after Holm over the features; held at half the PSI level. ``discrete``: columns
    of at most ``DISCRETE_LEVELS`` values by :func:`discrete_psi`."""
    if len(train) < t.min_rows or len(recent) < t.min_rows:
        return []
    values, pvals = [], []
    for j in range(len(names)):
        levels = len(np.unique(train[:, j])) if discrete else DISCRETE_LEVELS + 1
        if levels <= DISCRETE_LEVELS:  # flags and one-hots: one bin per value, so a new value shows
            counts = discrete_counts(train[:, j], recent[:, j])
        else:
            counts = bin_counts(train[:, j], recent[:, j])
        # PSI is the size gate; the p-value is the chi-squared test on the bins' raw counts (PSI's
        # eps-floored empty bins make n_eff * PSI far from chi-squared on a few hundred rows)
        values.append(_psi_of(*counts))
        pvals.append(homogeneity_p(*counts))
    out = []
    for name, value, p_adj in zip(names, values, holm(pvals), strict=True):
        level = _level(p_adj, t)
        if level is None or value < (t.psi_warning if level else t.psi_warning / 2):
            continue
        critical = value >= t.psi_critical
        limit = t.psi_critical if critical else t.psi_warning
        out.append(
            Alert(
                "drift",
                name,
                value,
                limit,
                "critical" if critical else "warning",
                f"feature {name} drifted: PSI {value:.3f} (>= {limit}; p = {p_adj:.2g} after Holm over "
                f"{len(names)} features, {len(train)} vs {len(recent)} rows)",
                hold=not level or value < t.psi_warning,
            )
        )
    return out


BASELINE_ARMS = ("holdout", "rules")


def reward_drop_alerts(
    current: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    segments: Sequence[str],
    t: Thresholds,
    contacts_current: dict[str, np.ndarray] | None = None,
    contacts_reference: dict[str, np.ndarray] | None = None,
) -> list[Alert]:
    """At most one alert per cause, from per-decision ``reward`` and key arrays (``arm`` and
    one per segment dimension), Holm over every test of the run:

    - ``market``: the baseline arm's reward per decision (holdout, or a rules-only hub's
      decisions) fell from the reference window to the current one. Its policy is fixed, so
      a drop is the world changing, not the engine (with no baseline arm: all decisions);
    - ``engine``: in the current window the engine arm earns less per decision than the
      baseline arm: the model is doing harm;
    - ``segments``: the actions, industries, size bands... that fell *and* fell more than the
      rest (both tests pass: the larger p-value counts), named together in one alert.

    A decision population that merely changes (an engine that acts on other contacts than
    last week) moves none of these: each compares a fixed policy with itself, or two arms
    of one randomized experiment in the same window. ``contacts_current`` /
    ``contacts_reference`` (``arm``, ``reward`` per contact in each window), when given, are
    what the two arm tests read: arms are randomized per contact, and per decision an arm
    that decides more often would look worse or better for that alone."""
    rc, rr = np.asarray(current["reward"], dtype=float), np.asarray(reference["reward"], dtype=float)
    arm_c, arm_r = contacts_current or current, contacts_reference or reference
    xc, xr = np.asarray(arm_c["reward"], dtype=float), np.asarray(arm_r["reward"], dtype=float)
    ac = np.asarray(arm_c.get("arm", np.full(len(xc), "")), dtype=str)
    ar = np.asarray(arm_r.get("arm", np.full(len(xr), "")), dtype=str)
    base_c, base_r = np.isin(ac, BASELINE_ARMS), np.isin(ar, BASELINE_ARMS)
    if not base_c.any() and not base_r.any():
        base_c, base_r = np.ones(len(xc), bool), np.ones(len(xr), bool)
    labels: list[str] = []
    pvals: list[float] = []
    facts: list[tuple[float, float, int, int]] = []
    if base_c.sum() >= t.min_rows and base_r.sum() >= t.min_rows:
        labels.append("market")
        pvals.append(welch_less_p(xc[base_c], xr[base_r]))
        facts.append((xc[base_c].mean(), xr[base_r].mean(), int(base_c.sum()), int(base_r.sum())))
    eng = ac == "engine"
    if eng.sum() >= t.min_rows and base_c.sum() >= t.min_rows and not base_c[eng].any():
        labels.append("engine")
        pvals.append(welch_less_p(xc[eng], xc[base_c]))
        facts.append((xc[eng].mean(), xc[base_c].mean(), int(eng.sum()), int(base_c.sum())))
    for dim in segments:
        kc, kr = np.asarray(current[dim]).astype(str), np.asarray(reference[dim]).astype(str)
        for key in sorted(set(kc.tolist()) & set(kr.tolist())):
            ci, ri = kc == key, kr == key
            if min(ci.sum(), ri.sum(), (~ci).sum(), (~ri).sum()) < t.min_rows:
                continue
            labels.append(f"{dim}:{key}")
            fell = welch_less_p(rc[ci], rr[ri])
            more = diff_in_diff_less_p(rc[ci], rr[ri], rc[~ci], rr[~ri])
            pvals.append(max(fell, more))  # intersection-union: both must hold
            facts.append((rc[ci].mean(), rr[ri].mean(), int(ci.sum()), int(ri.sum())))
    if not pvals:
        return []
    adj = holm(pvals)
    m = len(pvals)
    out = []
    words = {
        "market": "the baseline arm's reward fell (a fixed policy: the market changed)",
        "engine": "the engine arm earns less than the baseline arm in the same window",
    }
    unit = "contact" if contacts_current is not None else "decision"
    for i, label in enumerate(labels):
        level = _level(adj[i], t) if label in words else None
        if level is None:
            continue
        cur, ref, nc, nr = facts[i]
        out.append(
            Alert(
                "reward_rate",
                label,
                float(cur),
                float(ref),
                "warning",
                f"{words[label]}: {cur:.4f} vs {ref:.4f} per {unit} ({nc} vs {nr}; p = {adj[i]:.2g} after Holm "
                f"over {m} tests)",
                hold=not level,
            )
        )
    found = [(i, _level(adj[i], t)) for i, lab in enumerate(labels) if lab not in words]
    found = [(i, lv) for i, lv in found if lv is not None]
    if found:
        raised = [i for i, lv in found if lv]
        shown = raised or [i for i, _ in found]
        parts = [f"{labels[i]} {facts[i][0]:.4f} from {facts[i][1]:.4f} (n={facts[i][2]})" for i in shown]
        worst = min(shown, key=lambda i: adj[i])
        out.append(
            Alert(
                "reward_rate",
                "segments",
                float(facts[worst][0]),
                float(facts[worst][1]),
                "warning",
                f"reward per decision fell, and more than elsewhere, in {len(shown)} segment(s): "
                + "; ".join(parts[:8])
                + (f"; and {len(parts) - 8} more" if len(parts) > 8 else "")
                + f" (smallest p = {adj[worst]:.2g} after Holm over {m} tests)",
                hold=not raised,
            )
        )
    return out


def sync_alerts(failed: dict[str, list[tuple[str, str]]]) -> list[Alert]:
    """One critical ``sync`` alert per connector whose last sync failed (credentials revoked,
    the API refusing), whatever number of streams or segments it starves: ``failed`` maps a
    connector to its failed (stream, error) pairs. A fact, not a test: raised at once and
    cleared by the first sync that succeeds.

    A connector that still syncs but delivers nothing is not flagged from activity counts:
    on healthy sandbox runs (bench/alerts_quality.py, seeds 0-2) Salesforce delivered 0 to 3
    of the last two days' 87-91 activities against 41-47% of the week before, as a silent
    feed would; its symptoms (a rate per send that collapses) are watched by
    :func:`feed_rate_alerts`."""
    out = []
    for name, streams in sorted(failed.items()):
        if not streams:
            continue
        error = (streams[0][1] or "no error text").splitlines()[0][:300]
        out.append(
            Alert(
                "sync",
                name,
                float(len(streams)),
                0.0,
                "critical",
                f"the last sync of {name} failed ({', '.join(s for s, _ in streams)}): {error}. Nothing new is"
                f" read from it until this is fixed; try `hub connectors list --check` and `hub sync {name}`",
            )
        )
    return out


def group_by_cause(alerts: list[Alert]) -> list[Alert]:
    """A connector that stopped starves every rate and reward it feeds: while a ``sync`` alert
    is raised, the feed-rate and reward alerts of the same run are its symptoms, named in its
    message instead of raised on their own (one alert per cause)."""
    causes = [a for a in alerts if a.kind == "sync" and not a.hold]
    if not causes:
        return alerts
    symptom = [a for a in alerts if a.kind == "reward_rate" or (a.kind == "drift" and a.subject.endswith("_rate"))]
    if not symptom:
        return alerts
    names = ", ".join(f"{a.kind} {a.subject}" for a in symptom)
    first = causes[0]
    grouped = Alert(**{**first.__dict__, "message": f"{first.message}. Also seen, likely from this: {names}"})
    return [grouped if a is first else a for a in alerts if a not in symptom]


def feed_rate_alerts(rates: dict[str, tuple[int, int, int, int]], t: Thresholds) -> list[Alert]:
    """A response feed that broke: ``rates`` maps a name (``email_open_rate``) to (hits, base)
    in the current and the reference window, e.g. opens per email sent. A rate per send does
    not move when the policy sends more or less, so a collapse is the feed (a tracking pixel
    removed, a sync that stopped), not the market. Raised when the rate fell below a third
    of its reference (a feed that broke loses most of its events: two days after a pixel
    broke, a 7-day window's open rate was 0.28 of the one before; a rate that sags with
    fatigue is the market: a healthy sandbox run on seed 2 more than halved its open rate,
    17.6% to 8.0% on 174 sends, and sends to one person are not independent, so a test alone
    overstates a drop) and the one-sided two-proportion test agrees after Holm over the rates
    watched; held down to half and ``clear_alpha``. Nothing on fewer than ``min_rows`` sends
    in either window."""
    names, pvals, facts = [], [], []
    for name, (hc, nc, hr, nr) in rates.items():
        if nc < t.min_rows or nr < t.min_rows:
            continue
        pc, pr = min(hc / nc, 1.0), min(hr / nr, 1.0)
        pooled = min((hc + hr) / (nc + nr), 1.0)
        se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / nc + 1 / nr))
        names.append(name)
        pvals.append(float(_norm_cdf((pc - pr) / se)))
        facts.append((pc, pr, nc, nr))
    out = []
    for name, p_adj, (pc, pr, nc, nr) in zip(names, holm(pvals), facts, strict=True):
        level = _level(p_adj, t)
        # a broken feed loses most of its events; a rate that sags with fatigue is the market
        if level is None or pc >= pr / 2:
            continue
        level = level and pc < pr / 3
        out.append(
            Alert(
                "drift",
                name,
                pc,
                pr,
                "critical",
                f"{name.replace('_', ' ')} fell to {pc:.1%} from {pr:.1%} ({nc} vs {nr} sends; p = {p_adj:.2g} "
                f"after Holm over {len(names)} rates): a broken feed or tracking, not the market",
                hold=not level,
            )
        )
    return out


def _norm_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def _exploration_alerts(p: np.ndarray, explored: np.ndarray | None, t: Thresholds) -> list[Alert]:
    flags = np.asarray(explored, dtype=bool) if explored is not None else p < 0.5
    n, hits = len(flags), int(flags.sum())  # same rule as exploration_share
    share = hits / n
    # two one-sided tests on one share: Bonferroni over the pair
    low = _level(min(1.0, 2 * share_below_p(hits, n, t.min_exploration)), t)
    high = _level(min(1.0, 2 * share_above_p(hits, n, t.max_exploration)), t)
    out = []
    if low is not None and t.min_exploration > 0:
        out.append(
            Alert(
                "exploration_low",
                "policy",
                share,
                t.min_exploration,
                "warning",
                f"only {share:.1%} of {n} decisions explore (took an action with less than even odds); "
                "the policy cannot learn about other actions",
                hold=not low,
            )
        )
    if high is not None:
        out.append(
            Alert(
                "exploration_high",
                "policy",
                share,
                t.max_exploration,
                "warning",
                f"{share:.1%} of {n} decisions explore (took an action with less than even odds); "
                "exploration is costing more than planned",
                hold=not high,
            )
        )
    return out


def _quality_alerts(m: ScoreMetrics, trained_brier: float | None, t: Thresholds) -> list[Alert]:
    out = []
    if not math.isnan(m.roc_auc) and m.roc_auc < t.min_auc:
        out.append(
            Alert(
                "auc",
                "model",
                m.roc_auc,
                t.min_auc,
                "critical",
                f"ROC AUC on {m.n} recently labelled contacts is {m.roc_auc:.3f}",
            )
        )
    if trained_brier is not None and m.brier > trained_brier + t.max_brier_increase:
        out.append(
            Alert(
                "brier",
                "model",
                m.brier,
                trained_brier + t.max_brier_increase,
                "warning",
                f"Brier score rose to {m.brier:.4f} from {trained_brier:.4f} at training",
            )
        )
    if not math.isnan(m.ece) and m.ece > t.max_ece:
        out.append(
            Alert(
                "calibration",
                "model",
                m.ece,
                t.max_ece,
                "warning",
                f"calibration error {m.ece:.3f}: predicted probabilities no longer match outcomes",
            )
        )
    return out
