"""Held-out value of the policy the engine would deploy, from arrays.

The test rows never influence what is deployed: the bandit is trained, and the choice between
it, a targeted version and the best constant is made, on the train rows only
(decision/offline/learn.py). On the test rows the deployed policy, the bandit alone and every
single action ("always take A") are valued by IPS (the headline), SNIPS and doubly robust, from
one paired bootstrap (decision/offline/value.py): ``difference_vs_best`` is the deployed
policy minus the single action with the highest IPS value on the test rows, on the same
resampled rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from decision.offline.learn import PolicyKind, bandit_settings, safe_improvement
from decision.offline.propensity import DEFAULT_CLIP, estimate_propensities, logged_propensity
from decision.offline.value import PolicyValues
from decision.offpolicy import reward_predictions
from hub.config import EngineSettings
from hub.reports.numbers import estimate, figure

#: warn when the deployed policy's weights are this concentrated (a single action of k logged
#: uniformly has an effective sample size of n / k: that alone is no reason to warn)
MIN_ESS_SHARE = 0.01
MIN_ESS = 100.0
MAX_WEIGHT = 50.0
#: an estimated propensity above this says the features all but determine the logged action
NEAR_CERTAIN = 0.98


@dataclass
class LogArrays:
    """A logged table as arrays: features ``X`` (n, d) with the indices of its count-like
    columns, logged action indices into ``action_names``, rewards (costs already taken off),
    and the logged propensities when the log has them (None: estimate them)."""

    X: np.ndarray
    numeric_columns: list[int]
    feature_names: list[str]
    actions: np.ndarray
    action_names: list[str]
    rewards: np.ndarray
    propensities: np.ndarray | None
    propensity_source: str = "column"
    costs: dict[str, float] = field(default_factory=dict)


def _mix(P: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    m = P.mean(axis=0)
    return {name: float(m[j]) for j, name in enumerate(names)}


def _propensities(log: LogArrays, seed: int, clip: float) -> tuple[np.ndarray, dict[str, Any]]:
    k = len(log.action_names)
    if log.propensities is not None:
        p = log.propensities
        return p, {"source": log.propensity_source, "min": float(p.min()), "max": float(p.max())}
    P = estimate_propensities(log.X, log.actions, k, clip=clip, seed=seed)
    p = logged_propensity(P, log.actions)
    info = {
        "source": f"estimated: multinomial logistic model of the action on the features, clipped at {clip}",
        "min": float(p.min()),
        "max": float(p.max()),
        "near_certain_share": float((p > NEAR_CERTAIN).mean()),
        "clipped_share": float(np.any(np.less_equal(P, clip * 1.0001), axis=1).mean()),
        "mean_by_action": _mix(P / P.sum(axis=1, keepdims=True), log.action_names),  # floored rows sum over 1
    }
    return p, info


def evaluate_split(
    log: LogArrays,
    train: np.ndarray,
    test: np.ndarray,
    *,
    engine: EngineSettings | None = None,
    policy: PolicyKind = "engine",
    seed: int = 0,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    clip: float = DEFAULT_CLIP,
) -> dict[str, Any]:
    """The JSON-ready result of ``hub offline evaluate`` for row indices ``train`` / ``test``."""
    names = log.action_names
    k = len(names)
    e = bandit_settings(engine or EngineSettings(), policy, seed)
    p, prop_info = _propensities(log, seed, clip)
    X, a, r = log.X, log.actions, log.rewards
    dep = safe_improvement(
        e, k, log.numeric_columns, X[train], a[train], r[train], p[train], names=names, seed=seed, alpha=alpha
    )
    Xt, at, rt, pt = X[test], a[test], r[test], p[test]
    learned = dep.learned_probabilities(Xt)
    deployed = dep.probabilities(Xt, learned)
    eye = np.eye(k)
    singles = {name: np.broadcast_to(eye[j], (len(test), k)) for j, name in enumerate(names)}
    targets: dict[str, np.ndarray] = {"policy": deployed, "learned": learned, **singles}
    q = reward_predictions(Xt, at, rt, k, seed=seed)
    values = PolicyValues(at, rt, pt, targets, q=q, n_bootstrap=n_bootstrap, alpha=alpha, seed=seed)
    actions = {name: values.estimate(name) for name in names}
    best = max(names, key=lambda name: actions[name].estimate)
    diff = values.difference("policy", best)
    overlap = values.overlap("policy")
    out: dict[str, Any] = {
        "policy": values.estimate("policy").to_dict(),
        "actions": {name: iv.to_dict() for name, iv in actions.items()},
        "best_action": best,
        "difference_vs_best": diff.to_dict(),
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "estimator": "ips",
        "alpha": alpha,
        "n_bootstrap": n_bootstrap,
        "seed": seed,
        "bandit": e.bandit,
        "deployed": {
            "mode": dep.mode,
            "constant": names[dep.constant],
            "learned_share": dep.share,
            "reason": dep.reason,
            "mix": _mix(deployed, names),
            "validation": dep.candidates,
        },
        "learned": {
            "policy": values.estimate("learned").to_dict(),
            "difference_vs_best": values.difference("learned", best).to_dict(),
            "mix": _mix(learned, names),
        },
        "snips": {
            "policy": values.estimate("policy", "snips").to_dict(),
            "difference_vs_best": values.difference("policy", best, "snips").to_dict(),
        },
        "dr": {
            "policy": values.estimate("policy", "dr").to_dict(),
            "difference_vs_best": values.difference("policy", best, "dr").to_dict(),
            "learned_difference_vs_best": values.difference("learned", best, "dr").to_dict(),
        },
        "propensities": prop_info,
        "diagnostics": overlap,
        "costs": dict(log.costs),
        "features": list(log.feature_names),
        "logged_mix": {name: float(s) for name, s in zip(names, np.bincount(a, minlength=k) / len(a), strict=True)},
    }
    out["warnings"] = _warnings(out, prop_info, overlap, len(test))
    out["verdict"] = verdict(out)
    return out


def _warnings(out: Mapping[str, Any], prop: Mapping[str, Any], overlap: Mapping[str, float], n_test: int) -> list[str]:
    w = []
    if n_test < 200:
        w.append(f"Only {n_test} test rows: intervals are wide; evaluate on a larger log before trusting the verdict.")
    if overlap["ess_share"] < MIN_ESS_SHARE or overlap["ess"] < MIN_ESS or overlap["max_weight"] >= MAX_WEIGHT:
        w.append(
            f"Extreme importance weights: effective sample size {overlap['ess']:,.0f} of {n_test:,} test rows, "
            f"largest weight {overlap['max_weight']:,.1f}. The log rarely took what the policy takes; "
            "IPS is unreliable here (compare SNIPS and DR)."
        )
    if prop.get("clipped_share", 0.0) > 0.01:
        w.append(
            f"{prop['clipped_share']:.1%} of rows have an estimated propensity at the clip: the log almost never "
            "took some action for such people, and values of policies that take it there are uncertain. "
            "Log propensities at decision time (--propensity-col) if you can."
        )
    if prop.get("near_certain_share", 0.0) > 0.5:
        w.append(
            f"The features give the action away: for {prop['near_certain_share']:.0%} of rows the estimated chance "
            f"of the logged action is above {NEAR_CERTAIN}. A column recorded with or after the decision (its "
            "propensity, a message id) may be among the features: name the features with --features, or give "
            "the logged propensities with --propensity-col."
        )
    missing = [name for name, s in out["logged_mix"].items() if s == 0]
    if missing:
        w.append(f"Actions never logged: {', '.join(missing)}; nothing in the log measures them.")
    return w


def verdict(out: Mapping[str, Any]) -> str:
    """One sentence: does the deployed policy beat the best single action on the test rows?"""
    d, best, pol = out["difference_vs_best"], out["best_action"], out["policy"]
    fig = (  # written as every table writes a value and a difference (hub/reports/numbers.py)
        f"{figure(pol['estimate'])} reward per row vs {figure(out['actions'][best]['estimate'])} for always {best}; "
        f"difference {estimate(d['estimate'], d['low'], d['high'])} ({1 - out['alpha']:.0%} interval, IPS, "
        f"{out['n_test']:,} test rows)"
    )
    mode = out["deployed"]["mode"]
    what = {
        "constant": f"the best single action on the train rows ({out['deployed']['constant']})",
        "learned": "the learned policy",
        "targeted": f"the learned policy on {out['deployed']['learned_share']:.0%} of people",
    }[mode]
    if d["low"] > 0:
        head = f"Targeting pays: the deployed policy ({what}) beats always {best}"
    elif d["high"] < 0:
        head = f"The deployed policy ({what}) does worse than always {best}"
    else:
        head = f"No clear difference between the deployed policy ({what}) and always {best}"
    return f"{head}: {fig}."
