"""Offline evaluation of a candidate policy on a logged decision log, from arrays.

The one piece of arithmetic ``hub evaluate`` and ``bench/offline_eval_accuracy.py`` share: given
the log (features, logged action, reward, logged propensity) and the candidate's action
probabilities on the same rows, it returns

- the candidate's value by IPS, SNIPS and doubly robust (decision/offpolicy.py), each with a
  percentile bootstrap interval;
- the current (logging) config's value by the same three estimators, from its replayed action
  probabilities (or the logged mean when it is not replayed), and the plain logged mean as a
  reality check on the replay;
- candidate minus current and candidate / current per estimator, from one paired bootstrap (both
  are computed on the same resampled rows, which is much tighter than two separate intervals;
  a candidate identical to the current config differs by exactly 0);
- overlap diagnostics: effective sample size of the importance weights, the largest weight, the
  share of the candidate's probability that falls where the log had no chance of trying it
  (rows logged with propensity 1 and another action), and actions the candidate uses that the
  log never took; a warning for each problem, and one verdict sentence.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> n = 4000
>>> a = rng.integers(0, 2, n)
>>> r = np.where(a == 1, 1.0, 0.0) + rng.normal(0, 0.1, n)
>>> ev = evaluate_log(np.zeros((n, 1)), a, r, np.full(n, 0.5), np.tile([0.0, 1.0], (n, 1)), ["wait", "email"])
>>> round(ev.candidate["dr"].value, 1), round(ev.logged.value, 1), ev.better
(1.0, 0.5, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from decision.offpolicy import (
    Estimate,
    bootstrap_sums,
    doubly_robust,
    dr_terms,
    importance_weights,
    ips,
    reward_predictions,
    snips,
)
from hub.reports.numbers import estimate, figure

METHODS = ("ips", "snips", "dr")
#: headline estimator for the verdict: unbiased if either propensities or reward model are right
HEADLINE = "dr"
DETERMINISTIC = 0.999  # a logged propensity at least this high: the log could not have tried another action
#: resample indices drawn per call; fixes the random stream, so changing it changes the numbers
_CHUNK = 4_000_000
#: resampled values gathered at once by joint_bootstrap (8 bytes each): bounds its memory
_GATHER = 1 << 16


@dataclass(frozen=True)
class Diagnostics:
    """How far the log supports the candidate."""

    n: int
    ess: float
    ess_share: float
    max_weight: float
    #: mean over rows of the candidate's probability on actions the logging policy could not
    #: have taken there (rows logged with propensity ~1 and another action)
    unsupported_mass: float
    #: action id -> the candidate's mean probability, for actions with no logged row at all
    never_tried: dict[str, float]
    #: share of rows where the candidate's most likely action is the logged one
    agreement: float
    #: mean probability per action: candidate and log
    candidate_mix: dict[str, float]
    logged_mix: dict[str, float]
    #: mean |replayed current probability of the logged action - logged propensity|; None if not replayed
    replay_gap: float | None = None


@dataclass
class OfflineEvaluation:
    n: int
    action_ids: list[str]
    candidate: dict[str, Estimate]
    #: the current (logging) config by the same estimators (the logged mean when not replayed)
    current: dict[str, Estimate]
    #: the plain mean of the logged rewards: the logging policy's on-policy value
    logged: Estimate
    difference: dict[str, Estimate]
    #: candidate / current per method; None when the current value is not clearly positive
    ratio: dict[str, Estimate | None]
    diagnostics: Diagnostics
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    alpha: float = 0.05
    #: key paths the candidate changes that the replay does not model (hub evaluate: governance, routing)
    unmodelled: list[str] = field(default_factory=list)

    @property
    def better(self) -> bool | None:
        """True / False when the headline difference interval excludes 0, else None."""
        d = self.difference[HEADLINE]
        if d.low > 0:
            return True
        if d.high < 0:
            return False
        return None

    @property
    def verdict(self) -> str:
        c, cur, d = self.candidate[HEADLINE], self.current[HEADLINE], self.difference[HEADLINE]
        pct = f"{1 - self.alpha:.0%}"
        nums = (
            f"{figure(c.value)} vs {figure(cur.value)} reward per decision (doubly robust; difference "
            f"{estimate(d.value, d.low, d.high)} ({pct} interval), {self.n:,} logged decisions)"
        )
        if self.better is True:
            head = f"The candidate would likely have done better than the current config: {nums}."
        elif self.better is False:
            head = f"The candidate would likely have done worse than the current config: {nums}."
        else:
            head = f"No clear difference between the candidate and the current config: {nums}."
        if self.unmodelled:
            changed = ", ".join(self.unmodelled)
            if d.low == d.high == 0:  # the policy replayed is the same on both sides
                head = (
                    f"Not estimated: the candidate changes {changed}, which this replay does not model, and its"
                    f" decision policy is the current one ({nums})."
                )
            else:
                head += f" This leaves out the candidate's change to {changed}, which the replay does not model."
        if self.warnings:
            head += " Treat with caution: see the warnings."
        return head

    def to_dict(self) -> dict[str, Any]:
        def est(e: Estimate | None) -> dict[str, Any] | None:
            return None if e is None else {k: _finite(v) for k, v in asdict(e).items()}

        return {
            "n": self.n,
            "actions": self.action_ids,
            "alpha": self.alpha,
            "candidate": {m: est(e) for m, e in self.candidate.items()},
            "current": {m: est(e) for m, e in self.current.items()},
            "logged": est(self.logged),
            "difference": {m: est(e) for m, e in self.difference.items()},
            "ratio": {m: est(e) for m, e in self.ratio.items()},
            "diagnostics": {k: _finite(v) for k, v in asdict(self.diagnostics).items()},
            "better": self.better,
            "warnings": self.warnings,
            "notes": self.notes,
            "unmodelled": self.unmodelled,
            "verdict": self.verdict,
        }


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    return v


def joint_bootstrap(columns: np.ndarray, n_bootstrap: int, seed: int | None) -> np.ndarray:
    """(n_bootstrap, m) column sums over rows resampled with replacement, the same rows for
    every column (so ratios and differences of columns are paired).

    Resamples are drawn ``_CHUNK // n`` replicates per call, as they always were, so a seed gives
    the same resamples and the same sums to the last bit; only a slice of the resampled rows is
    gathered at a time, so memory stays bounded whatever the log's size (see ``_replicate_sums``).
    """
    rng = np.random.default_rng(seed)
    n = len(columns)
    out = np.empty((n_bootstrap, columns.shape[1]))
    step = max(1, _CHUNK // n)
    for start in range(0, n_bootstrap, step):
        b = min(step, n_bootstrap - start)
        out[start : start + b] = _replicate_sums(columns, rng, b)
    return out


def _replicate_sums(columns: np.ndarray, rng: np.random.Generator, b: int) -> np.ndarray:
    """(b, m) sums of ``columns`` over b replicates of n row indices drawn from ``rng``.

    Rows are added in draw order, one at a time, exactly as ``columns[idx].sum(axis=1)`` adds
    them, so the results are bit-identical to that one-shot sum; but only ``_GATHER`` values are
    gathered at once, each slice's sums carried into the next as its first row. A single
    replicate (a log over ``_CHUNK / 2`` rows) is also drawn slice by slice: the generator's
    stream does not depend on how a draw is split, so its indices are unchanged too.
    """
    n, m = columns.shape
    idx = rng.integers(0, n, size=(b, n)) if b > 1 else None  # at most _CHUNK indices
    rows = max(2, _GATHER // (b * m)) // 2 * 2  # even, so a split draw never splits a 64-bit word
    acc = None
    for s in range(0, n, rows):
        e = min(n, s + rows)
        piece = idx[:, s:e] if idx is not None else rng.integers(0, n, size=(1, e - s))
        carry = acc is not None
        block = np.empty((e - s + carry, b, m))
        if carry:
            block[0] = acc
        # mode="clip" writes straight into block (indices are in range); "raise" buffers a copy
        np.take(columns, piece.T, axis=0, out=block[int(carry) :], mode="clip")
        acc = block.sum(axis=0)  # row by row along axis 0: the same additions as the one-shot sum
    return acc


def _interval(method: str, value: float, reps: np.ndarray, n: int, ess: float, alpha: float) -> Estimate:
    ok = reps[np.isfinite(reps)]
    if len(ok) < 2:
        return Estimate(method, value, math.nan, math.nan, math.nan, n, ess)
    lo, hi = np.quantile(ok, [alpha / 2, 1 - alpha / 2])
    return Estimate(method, float(value), float(lo), float(hi), float(ok.std(ddof=1)), n, ess)


def _diagnostics(a, p, target, w, action_ids: Sequence[str]) -> Diagnostics:
    n, k = target.shape
    det = p >= DETERMINISTIC
    other = target.copy()
    other[np.arange(n), a] = 0.0
    unsupported = float((other.sum(axis=1) * det).mean())
    logged_counts = np.bincount(a, minlength=k)
    mix = target.mean(axis=0)
    never = {action_ids[j]: float(mix[j]) for j in range(k) if logged_counts[j] == 0 and mix[j] > 0}
    ess = float(w.sum() ** 2 / (w**2).sum()) if (w**2).sum() > 0 else 0.0
    return Diagnostics(
        n=n,
        ess=ess,
        ess_share=ess / n,
        max_weight=float(w.max()),
        unsupported_mass=unsupported,
        never_tried=never,
        agreement=float((target.argmax(axis=1) == a).mean()),
        candidate_mix={action_ids[j]: float(mix[j]) for j in range(k)},
        logged_mix={action_ids[j]: float(logged_counts[j] / n) for j in range(k)},
    )


def _warnings(d: Diagnostics) -> list[str]:
    out = []
    if d.n < 200:
        out.append(f"Only {d.n} finalized decisions: intervals are wide; log more before trusting a verdict.")
    if d.ess_share < 0.1 or d.max_weight >= 50:
        out.append(
            f"Extreme importance weights: effective sample size {d.ess:,.0f} of {d.n:,} rows "
            f"({d.ess_share:.1%}), largest weight {d.max_weight:,.1f}. IPS is unreliable; prefer SNIPS / DR, "
            "and log with more exploration (decision.engine.explore_share) to evaluate changes this large."
        )
    if d.unsupported_mass > 0.05:
        out.append(
            f"Poor overlap: {d.unsupported_mass:.1%} of the candidate's choices fall on actions the log could not "
            "have tried in that situation (decisions logged with propensity 1: holdout, control, rules, budgets, "
            "long-term overrides). IPS and SNIPS count them as zero reward; DR relies on its reward model there."
        )
    if d.replay_gap is not None and d.replay_gap > 0.1:
        out.append(
            f"The current config replayed offline gives the logged actions probabilities {d.replay_gap:.2f} away from "
            "the logged propensities on average: the config changed during the log (use --since) or the replay's "
            "approximations bite (see the notes). The current row is then less trustworthy than the logged mean."
        )
    if d.never_tried:
        names = ", ".join(
            f"{a} ({f'{s:.1%}' if s >= 0.001 else 'under 0.1%'} of its choices)"
            for a, s in sorted(d.never_tried.items(), key=lambda x: -x[1])
        )
        out.append(f"The candidate picks actions the log never tried: {names}. Nothing in the log measures them.")
    return out


def _columns(a, r, p, t, q) -> list[np.ndarray]:
    """Per-row terms whose resampled sums give IPS (``w r`` / n), SNIPS (``w r`` / ``w``) and DR (/ n)."""
    terms = dr_terms(a, r, p, t, q)  # checks the log first
    w = importance_weights(a, p, t)
    return [w * r, w, terms]


def _estimates(X, a, r, p, t, q, sums: np.ndarray, boot) -> dict[str, Estimate | None]:
    """IPS, SNIPS and DR from ``sums``, the bootstrap sums of ``_columns``: no draw of their own."""
    n = len(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        snips_reps = sums[:, 0] / sums[:, 1]
    w = importance_weights(a, p, t)
    return {
        "ips": ips(a, r, p, t, **boot, reps=sums[:, 0] / n),
        "snips": snips(a, r, p, t, **boot, reps=snips_reps) if w.sum() > 0 else None,
        "dr": doubly_robust(X, a, r, p, t, q=q, **boot, reps=sums[:, 2] / n),
    }


def evaluate_log(
    X: Any,
    actions: Any,
    rewards: Any,
    propensities: Any,
    target: Any,
    action_ids: Sequence[str],
    *,
    current: Any = None,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    seed: int | None = 0,
    reward_model: Any = None,
    n_folds: int = 2,
) -> OfflineEvaluation:
    """Candidate (``target`` (n, k) probabilities) against the current policy on the log.

    ``actions`` are indices into ``action_ids``; ``rewards`` the finalized reward per decision;
    ``propensities`` the logging policy's probability of the logged action; ``X`` (n, d) the
    features the DR reward model is fitted on (cross-fitted, decision/offpolicy.py).
    ``current`` (n, k), when given, is the current policy's full action distribution (the
    logging one, replayed): it is then estimated with the same three estimators and the same
    reward model as the candidate, so a candidate equal to it differs by exactly 0. Without it
    the current value is the logged mean for every estimator (on-policy, assumption-free).
    The logged mean is always reported too (``logged``): a replay far from it is a warning.
    The six estimates share one set of bootstrap resamples (``bootstrap_sums``); each interval
    is to the last bit the one its estimator's own draw with ``seed`` gives.
    """
    a = np.asarray(actions, dtype=np.intp)
    r = np.asarray(rewards, dtype=float)
    p = np.asarray(propensities, dtype=float)
    t = _normalized(target)
    X = np.nan_to_num(np.asarray(X, dtype=float))
    n, k = t.shape
    boot = {"n_bootstrap": n_bootstrap, "alpha": alpha, "seed": seed}
    q = reward_predictions(X, a, r, k, reward_model=reward_model, n_folds=n_folds, seed=seed)
    cols = _columns(a, r, p, t, q)
    if current is not None:
        c = _normalized(current)
        cols += _columns(a, r, p, c, q)
    # one draw for all six estimates: each is the sum bootstrap_ratio would give with this seed
    sums = bootstrap_sums(cols, n_bootstrap, seed)
    cand = _estimates(X, a, r, p, t, q, sums[:, :3], boot)
    w = cols[1]  # the candidate's importance weights
    if current is not None:
        cur_est = _estimates(X, a, r, p, c, q, sums[:, 3:], boot)
    else:
        cols += [r, np.ones(n), r]
    S = joint_bootstrap(np.column_stack([*cols, r]), n_bootstrap, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = {"ips": S[:, 0] / n, "snips": S[:, 0] / S[:, 1], "dr": S[:, 2] / n}
        cur_reps = {"ips": S[:, 3] / n, "snips": S[:, 3] / S[:, 4], "dr": S[:, 5] / n}
    logged = _interval("logged", float(r.mean()), S[:, 6] / n, n, float(n), alpha)
    if current is None:
        cur_est = {m: Estimate(m, logged.value, logged.low, logged.high, logged.se, n, float(n)) for m in METHODS}
    diff: dict[str, Estimate] = {}
    ratio: dict[str, Estimate | None] = {}
    for m in METHODS:
        e, e0 = cand[m], cur_est[m]
        if e is None:  # SNIPS with no weight on any logged action
            e = cand[m] = Estimate(m, math.nan, math.nan, math.nan, math.nan, n, 0.0)
        if e0 is None:
            e0 = cur_est[m] = Estimate(m, math.nan, math.nan, math.nan, math.nan, n, 0.0)
        diff[m] = _interval(f"{m}_diff", e.value - e0.value, reps[m] - cur_reps[m], n, e.ess, alpha)
        positive = np.isfinite(e0.low) and e0.low > 0
        ratio[m] = (
            _interval(f"{m}_ratio", e.value / e0.value, reps[m] / cur_reps[m], n, e.ess, alpha) if positive else None
        )
    diag = _diagnostics(a, p, t, w, list(action_ids))
    if current is not None:
        diag = replace(diag, replay_gap=float(np.abs(c[np.arange(n), a] - p).mean()))
    ev = OfflineEvaluation(n, list(action_ids), cand, cur_est, logged, diff, ratio, diag, _warnings(diag), alpha=alpha)
    if any(v is None for v in ratio.values()):
        ev.notes.append("Ratios are left out where the current value's interval is not clearly above zero.")
    return ev


def _normalized(t: Any) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    return t / t.sum(axis=1, keepdims=True)
