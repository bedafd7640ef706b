"""Our off-policy estimators held against a reference implementation nobody here wrote.

The reference is the Open Bandit Pipeline's (obp.ope: InverseProbabilityWeighting,
SelfNormalizedInverseProbabilityWeighting, DoublyRobust; Dudík et al. 2011), written out inline
from its published formulas because obp pins old numpy / pandas / scikit-learn and torch and does
not install beside ours. Its DR uses ``np.average(q, weights=pi_e)`` where ours multiplies and
sums, so the two are separate code paths. The world is discrete (six context types, five
actions) so the target policy's true value is exact, not itself a Monte-Carlo estimate.
"""

from __future__ import annotations

import numpy as np
import pytest

from decision.offline.propensity import estimate_propensities, logged_propensity
from decision.offline.value import PolicyValues
from decision.offpolicy import doubly_robust, ips, reward_predictions, snips
from hub.reports.offline import evaluate_log

C, K = 6, 5
ACTIONS = [f"a{j}" for j in range(K)]


def _tables() -> tuple[np.ndarray, ...]:
    """Context probabilities, the mean reward per (context, action), a stochastic logging policy
    and a target policy leaning on each context's best action (all fixed by one seed)."""
    rng = np.random.default_rng(12345)
    pc = rng.dirichlet(np.full(C, 5.0))
    mu = rng.uniform(0.05, 0.6, size=(C, K))
    logits = rng.normal(0, 0.7, size=(C, K))
    logging = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    target = 0.3 / K + 0.7 * np.eye(K)[mu.argmax(axis=1)]
    return pc, mu, logging, target


PC, MU, LOGGING, TARGET = _tables()
#: the target policy's value, exactly: sum over contexts and actions of P(c) pi_e(a|c) mu(c, a)
TRUTH = float((PC[:, None] * TARGET * MU).sum())


def _log(n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` logged rows: context one-hot X, logged action, Bernoulli reward, logged propensity,
    and both policies' (n, K) probabilities on the rows."""
    rng = np.random.default_rng(seed)
    c = rng.choice(C, size=n, p=PC)
    a = (LOGGING[c].cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    r = (rng.random(n) < MU[c, a]).astype(float)
    return {"X": np.eye(C)[c], "a": a, "r": r, "p": LOGGING[c, a], "target": TARGET[c], "logging": LOGGING[c]}


# --- the reference: obp.ope's per-round formulas, one position (len_list = 1) -----------------


def ref_ipw(action_dist, reward, action, pscore, lambda_=np.inf) -> float:
    """obp InverseProbabilityWeighting: mean of min(pi_e(a|x) / pscore, lambda_) * r."""
    iw = np.minimum(action_dist[np.arange(len(action)), action] / pscore, lambda_)
    return float((reward * iw).mean())


def ref_snipw(action_dist, reward, action, pscore) -> float:
    """obp SelfNormalizedInverseProbabilityWeighting: mean of r * iw / mean(iw)."""
    iw = action_dist[np.arange(len(action)), action] / pscore
    return float((reward * iw / iw.mean()).mean())


def ref_dr(action_dist, reward, action, pscore, estimated_rewards_by_reg_model) -> float:
    """obp DoublyRobust: q_hat(x, pi_e) + iw * (r - q_hat(x, a)), averaged."""
    return float(ref_rounds_dr(action_dist, reward, action, pscore, estimated_rewards_by_reg_model).mean())


def ref_rounds_dr(action_dist, reward, action, pscore, q) -> np.ndarray:
    """obp DoublyRobust._estimate_round_rewards: the per-round terms its interval resamples."""
    n = len(action)
    iw = action_dist[np.arange(n), action] / pscore
    return np.average(q, weights=action_dist, axis=1) + iw * (reward - q[np.arange(n), action])


def ref_interval(samples, alpha=0.05, n_bootstrap_samples=4000, random_state=0) -> tuple[float, float]:
    """obp estimate_confidence_interval_by_bootstrap: percentiles of means of resampled rounds."""
    rng = np.random.RandomState(random_state)
    means = [rng.choice(samples, size=len(samples)).mean() for _ in range(n_bootstrap_samples)]
    return float(np.percentile(means, 100 * alpha / 2)), float(np.percentile(means, 100 * (1 - alpha / 2)))


def _reference(d: dict[str, np.ndarray], policy: np.ndarray, q: np.ndarray) -> dict[str, float]:
    return {
        "ips": ref_ipw(policy, d["r"], d["a"], d["p"]),
        "snips": ref_snipw(policy, d["r"], d["a"], d["p"]),
        "dr": ref_dr(policy, d["r"], d["a"], d["p"], q),
    }


def test_truth_is_not_the_logging_value():
    """The target really differs from the logging policy, so agreeing with the truth means something."""
    logged = float((PC[:, None] * LOGGING * MU).sum())
    assert TRUTH - logged > 0.1


def test_decision_offpolicy_equals_reference_point_estimates():
    d = _log(3000, 1)
    q = np.clip(MU[d["X"].argmax(axis=1)] + np.random.default_rng(2).normal(0, 0.1, (3000, K)), 0, 1)
    ref = _reference(d, d["target"], q)
    ours = {
        "ips": ips(d["a"], d["r"], d["p"], d["target"], n_bootstrap=100).value,
        "snips": snips(d["a"], d["r"], d["p"], d["target"], n_bootstrap=100).value,
        "dr": doubly_robust(d["X"], d["a"], d["r"], d["p"], d["target"], q=q, n_bootstrap=100).value,
    }
    assert ours == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_policy_values_equal_reference_point_estimates():
    """decision/offline/value.py (``hub offline evaluate``) with the same reward predictions."""
    d = _log(3000, 3)
    q = reward_predictions(d["X"], d["a"], d["r"], K, seed=0)
    values = PolicyValues(
        d["a"], d["r"], d["p"], {"target": d["target"], "logging": d["logging"]}, q=q, n_bootstrap=100
    )
    for name in ("target", "logging"):
        ref = _reference(d, d[name], q)
        ours = {m: values.estimate(name, m).estimate for m in ("ips", "snips", "dr")}
        assert ours == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_evaluate_log_equals_reference_point_estimates():
    """hub/reports/offline.py (``hub evaluate``, ``hub learn history``): candidate and replayed
    current, DR against the reference fed the same cross-fitted reward predictions."""
    d = _log(3000, 4)
    ev = evaluate_log(d["X"], d["a"], d["r"], d["p"], d["target"], ACTIONS, current=d["logging"], n_bootstrap=100)
    q = reward_predictions(d["X"], d["a"], d["r"], K, seed=0)
    for ours, policy in ((ev.candidate, d["target"]), (ev.current, d["logging"])):
        ref = _reference(d, policy, q)
        assert {m: e.value for m, e in ours.items()} == pytest.approx(ref, rel=1e-12, abs=1e-12)
    assert ev.logged.value == pytest.approx(d["r"].mean())
    cand, cur = _reference(d, d["target"], q), _reference(d, d["logging"], q)
    assert {m: e.value for m, e in ev.difference.items()} == pytest.approx(
        {m: cand[m] - cur[m] for m in cand}, rel=1e-12, abs=1e-12
    )


def test_intervals_match_the_reference_bootstrap():
    """Our percentile intervals against obp's (different random draws, so equal up to Monte-Carlo
    error: with 4000 resamples each endpoint's error is ~4% of a standard error)."""
    d = _log(2000, 8)
    ev = evaluate_log(d["X"], d["a"], d["r"], d["p"], d["target"], ACTIONS, n_bootstrap=4000)
    q = reward_predictions(d["X"], d["a"], d["r"], K, seed=0)
    iw = d["target"][np.arange(2000), d["a"]] / d["p"]
    rounds = {"ips": iw * d["r"], "dr": ref_rounds_dr(d["target"], d["r"], d["a"], d["p"], q)}
    for m, samples in rounds.items():
        low, high = ref_interval(samples)
        e = ev.candidate[m]
        assert (e.low, e.high) == pytest.approx((low, high), abs=0.05 * (high - low))


def test_deterministic_logging_rows_match_reference():
    """Rows logged with propensity 1 (holdout, rules): weight pi_e(a|x) / 1, as in the reference;
    the candidate's mass on the other actions there counts in ``unsupported_mass``."""
    d = _log(2000, 5)
    det = d["X"].argmax(axis=1) == 0  # context 0 is logged deterministically: always action 0
    d["a"][det], d["p"][det] = 0, 1.0
    ev = evaluate_log(d["X"], d["a"], d["r"], d["p"], d["target"], ACTIONS, n_bootstrap=100)
    q = reward_predictions(d["X"], d["a"], d["r"], K, seed=0)
    ref = _reference(d, d["target"], q)
    assert {m: e.value for m, e in ev.candidate.items()} == pytest.approx(ref, rel=1e-12, abs=1e-12)
    off_logged = 1.0 - d["target"][det, 0]
    assert ev.diagnostics.unsupported_mass == pytest.approx(off_logged.sum() / len(d["a"]))


def test_large_log_converges_to_the_truth_within_the_intervals():
    d = _log(40_000, 6)
    ev = evaluate_log(d["X"], d["a"], d["r"], d["p"], d["target"], ACTIONS, n_bootstrap=300)
    q = reward_predictions(d["X"], d["a"], d["r"], K, seed=0)
    ref = _reference(d, d["target"], q)
    for m, e in ev.candidate.items():
        assert e.covers(TRUTH), (m, e, TRUTH)
        assert e.low <= ref[m] <= e.high
        assert e.high - e.low < 0.03  # a tight interval, so covering the truth is not vacuous


@pytest.mark.parametrize("clip", [0.01, 0.02])
def test_estimated_propensity_floor_leaves_likely_actions_alone(clip):
    """A near-deterministic logger (0.996 on one action per context): the textbook floor
    1 / max(p_hat, clip) (Strehl et al. 2010) bounds the rare actions' weights and leaves the likely
    action's propensity as estimated, so the logging policy valued on its own log by IPS with
    estimated propensities is its logged mean. Renormalizing after the floor shrinks every likely
    propensity by 1 + (K - 1) * clip and inflates that value by as much (4% at 0.01, 8% at 0.02)."""
    rng = np.random.default_rng(9)
    n = 20_000
    c = rng.choice(C, size=n, p=PC)
    logger = np.full((C, K), 0.001)
    logger[np.arange(C), np.arange(C) % K] = 1 - 0.001 * (K - 1)
    a = (logger[c].cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    r = (rng.random(n) < MU[c, a]).astype(float)
    P = estimate_propensities(np.eye(C)[c], a, K, clip=clip)
    p_hat = logged_propensity(P, a)
    assert P.min() >= clip  # every weight is at most 1 / clip
    likely = a == np.arange(C)[c] % K
    assert np.abs(p_hat[likely] - 0.996).max() < 0.005
    assert ref_ipw(logger[c], r, a, p_hat) == pytest.approx(r.mean(), rel=0.01)


def coverage(n: int, replications: int, n_bootstrap: int) -> dict[str, float]:
    """Share of seeded small logs whose 95% interval (per estimator) covers the true value."""
    hits = {"ips": 0, "snips": 0, "dr": 0}
    for seed in range(replications):
        d = _log(n, 1000 + seed)
        ev = evaluate_log(d["X"], d["a"], d["r"], d["p"], d["target"], ACTIONS, n_bootstrap=n_bootstrap, seed=seed)
        for m, e in ev.candidate.items():
            hits[m] += e.covers(TRUTH)
    return {m: h / replications for m, h in hits.items()}


def test_intervals_cover_the_truth_about_95_percent_of_the_time():
    """200 logs of 300 rows: the percentile bootstrap should cover near 95% (binomial sd 1.5%)."""
    cov = coverage(300, 200, 300)
    for m, share in cov.items():
        assert 0.89 <= share <= 0.99, (m, cov)
