"""The engine's bandit learned from a logged table, and deployed only where it is safe.

:func:`train_bandit` builds the bandit exactly as the live engine does
(:func:`decision.engine.engine_bandit`: the configured bandit, its exploration, forgetting,
learned noise and squared terms on the count-like columns, wrapped in the apprentice) and
teaches it the logged rows with ``learn_many``, rewards divided by ``reward_scale`` as
``EnginePolicy.learn`` does. :func:`deployed_probabilities` is what it would then do: its
action probabilities per row (Monte-Carlo for Thompson sampling, exact otherwise).

:func:`safe_improvement` guards against a learned policy that is worse than simply taking the
best single action for everyone (common when the reward barely depends on the context: the
learned policy then only adds noise). Within the train split only, it cross-fits: for each fold
it learns on the other folds and values on the fold, by IPS, the learned policy and "targeted"
versions of it (the learned policy on the share of rows where it predicts the largest gain over
the constant, the constant elsewhere) against the best constant action of the train split (the
one that would be deployed instead). A candidate is safe when its lower confidence bound is
above 0 and its departure from the constant rests on at least ``MIN_SUPPORT`` logged rows; the
safe candidate with the highest estimate is deployed, and with none the best constant is. The test split plays no
part in the choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from decision.engine import MIN_PROPENSITY, engine_bandit
from decision.offline.value import PolicyValues
from decision.policies import Policy
from hub.config import EngineSettings

PolicyKind = Literal["engine", "linucb", "greedy"]
#: ``--policy`` name -> the engine's ``bandit`` setting ("engine": as configured)
BANDITS: dict[str, str | None] = {"engine": None, "linucb": "linucb", "greedy": "epsilon_greedy"}
#: shares of rows the learned policy may decide in the targeted candidates (1.0: everywhere)
SHARES = (1.0, 0.5, 0.25, 0.1)
#: logged rows a candidate's departure from the constant must rest on before its gain is trusted
MIN_SUPPORT = 30.0
#: rows the share thresholds are computed on at most
_THRESHOLD_ROWS = 50_000


def bandit_settings(engine: EngineSettings, kind: PolicyKind, seed: int | None = None) -> EngineSettings:
    update: dict[str, Any] = {}
    if BANDITS[kind] is not None:
        update["bandit"] = BANDITS[kind]
    if seed is not None:
        update["seed"] = seed
    return engine.model_copy(update=update)


def train_bandit(
    engine: EngineSettings,
    n_actions: int,
    numeric_columns: Sequence[int],
    X: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    propensities: np.ndarray,
) -> Policy:
    """A fresh engine bandit taught the rows (rewards in the table's units)."""
    model = engine_bandit(engine, n_actions, numeric_columns)
    p = np.clip(np.asarray(propensities, dtype=float), MIN_PROPENSITY, 1.0)
    model.learn_many(X, actions, np.asarray(rewards, dtype=float) / engine.reward_scale, p)
    return model


def deployed_probabilities(model: Policy, X: np.ndarray) -> np.ndarray:
    """(n, k) the deployed bandit's action probabilities. With no legacy rules the engine's
    apprentice and its ``explore_share`` free rows are the same policy, so this is the mix."""
    return model.probabilities_many(X)


def predicted_rewards(model: Policy, X: np.ndarray, engine: EngineSettings) -> np.ndarray:
    """(n, k) the bandit's expected reward per action, in the table's units."""
    return model.predict_many(X) * engine.reward_scale


def best_constant(actions: np.ndarray, rewards: np.ndarray, propensities: np.ndarray, n_actions: int) -> int:
    """The action with the highest self-normalized IPS value when taken for everyone."""
    w = 1.0 / np.asarray(propensities, dtype=float)
    num = np.bincount(actions, weights=w * rewards, minlength=n_actions)
    den = np.bincount(actions, weights=w, minlength=n_actions)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(den > 0, num / den, -np.inf)
    return int(np.argmax(value))


def _gain(probs: np.ndarray, pred: np.ndarray, constant: int) -> np.ndarray:
    """Predicted reward of the learned policy minus that of the constant, per row."""
    return (probs * pred).sum(axis=1) - pred[:, constant]


@dataclass
class Deployment:
    """What is deployed: ``mode`` "learned" (the bandit everywhere), "targeted" (the bandit on
    rows whose predicted gain over ``constant`` exceeds ``threshold``) or "constant"."""

    model: Policy
    engine: EngineSettings
    constant: int
    mode: str
    share: float
    threshold: float
    reason: str
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def learned_probabilities(self, X: np.ndarray) -> np.ndarray:
        return deployed_probabilities(self.model, X)

    def probabilities(self, X: np.ndarray, learned: np.ndarray | None = None) -> np.ndarray:
        """(n, k) action probabilities of the deployed policy (``learned``: the bandit's own
        probabilities on X when already computed)."""
        k = self.model.n_actions
        const = np.zeros((len(X), k))
        const[:, self.constant] = 1.0
        if self.mode == "constant":
            return const
        probs = self.learned_probabilities(X) if learned is None else learned
        if self.mode == "learned":
            return probs
        gain = _gain(probs, predicted_rewards(self.model, X, self.engine), self.constant)
        return np.where((gain > self.threshold)[:, None], probs, const)


def _sample_gains(model: Policy, engine: EngineSettings, X: np.ndarray, constant: int, rng) -> np.ndarray:
    """Predicted gains over ``constant`` on a sample of the rows ``X`` (for share thresholds)."""
    rows = rng.choice(len(X), min(len(X), _THRESHOLD_ROWS), replace=False)
    return _gain(deployed_probabilities(model, X[rows]), predicted_rewards(model, X[rows], engine), constant)


def _threshold(gains: np.ndarray, share: float) -> float:
    """The predicted gain above which ``share`` of the rows would get the learned policy."""
    return -np.inf if share >= 1.0 else float(np.quantile(gains, 1.0 - share))


def safe_improvement(
    engine: EngineSettings,
    n_actions: int,
    numeric_columns: Sequence[int],
    X: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    propensities: np.ndarray,
    *,
    names: Sequence[str],
    n_folds: int = 2,
    n_bootstrap: int = 500,
    alpha: float = 0.05,
    seed: int = 0,
) -> Deployment:
    """Learn on all rows given (the train split) and decide, by cross-fitting on them, whether
    the learned policy, a targeted version of it, or the best constant action is deployed."""
    a = np.asarray(actions, dtype=np.intp)
    r = np.asarray(rewards, dtype=float)
    p = np.asarray(propensities, dtype=float)
    n = len(a)
    # one constant for every fold: the one that would be deployed, so each candidate is judged
    # against it (per-fold constants can differ when two actions nearly tie, and a candidate then
    # "beats" a constant that is never deployed)
    const = best_constant(a, r, p, n_actions)
    rng = np.random.default_rng([seed, 1])
    fold = rng.permutation(n) % n_folds
    oof = {s: np.zeros((n, n_actions)) for s in SHARES}
    oof_const = np.zeros((n, n_actions))
    oof_const[:, const] = 1.0
    for f in range(n_folds):
        fit, val = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        model = train_bandit(engine, n_actions, numeric_columns, X[fit], a[fit], r[fit], p[fit])
        probs = deployed_probabilities(model, X[val])
        gain = _gain(probs, predicted_rewards(model, X[val], engine), const)
        fit_gains = _sample_gains(model, engine, X[fit], const, rng)
        for s in SHARES:
            oof[s][val] = np.where((gain > _threshold(fit_gains, s))[:, None], probs, oof_const[val])
    targets = {"constant": oof_const, **{f"share {s}": oof[s] for s in SHARES}}
    values = PolicyValues(a, r, p, targets, n_bootstrap=n_bootstrap, alpha=alpha, seed=seed)
    candidates = []
    for s in SHARES:
        d = values.difference(f"share {s}", "constant")
        # logged rows behind the departure from the constant: where it took another action and
        # the candidate would have too (a gain resting on a handful of rows is not trusted)
        support = float((oof[s][np.arange(n), a] * (a != const)).sum())
        ok = support >= MIN_SUPPORT
        candidates.append({"share": s, **d.to_dict(), "support_rows": support, "trusted": ok})
    # safe: every candidate whose lower bound is above 0 beats the constant with confidence; of
    # those, the highest estimate (the highest lower bound would favour the smallest departures)
    safe = [c for c in candidates if c["trusted"] and np.isfinite(c["low"]) and c["low"] > 0]
    best = (
        max(safe, key=lambda c: c["estimate"])
        if safe
        else max(candidates, key=lambda c: c["low"] if np.isfinite(c["low"]) else -np.inf)
    )
    model = train_bandit(engine, n_actions, numeric_columns, X, a, r, p)
    pct = f"{1 - alpha:.0%}"
    fig = f"{best['estimate']:+.4g} [{best['low']:+.4g}, {best['high']:+.4g}]"
    where = f"cross-fitted on the train split ({n_folds} folds, IPS, {pct} interval)"
    if safe:
        mode = "learned" if best["share"] >= 1.0 else "targeted"
        tau = _threshold(_sample_gains(model, engine, X, const, rng), best["share"])
        who = "everyone" if mode == "learned" else f"the {best['share']:.0%} of people with the largest predicted gain"
        reason = (
            f"The learned policy for {who} beat always taking {names[const]} by {fig} per row, "
            f"{where}; it is deployed (the best constant elsewhere)."
        )
        return Deployment(model, engine, const, mode, float(best["share"]), tau, reason, candidates)
    reason = (
        f"No learned policy beat always taking {names[const]} with confidence, {where}: the best gain was "
        f"{fig} per row (learned policy on {best['share']:.0%} of people"
        + ("" if best["trusted"] else f", resting on {best['support_rows']:.0f} logged rows, under {MIN_SUPPORT:.0f}")
        + f"). The best constant action, "
        f"{names[const]}, is deployed."
    )
    return Deployment(model, engine, const, "constant", 0.0, np.inf, reason, candidates)
