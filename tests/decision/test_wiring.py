"""How the pieces fit: rules make the mask, the policy chooses inside it, budgets trim it."""

import numpy as np

from decision.arbitration import ActionSpec, Budget, Catalog, apply_budgets, eligibility, priority
from decision.experiment import assign_arms
from decision.offpolicy import ips
from decision.policies import LinearThompson

CATALOG = Catalog(
    (
        ActionSpec("wait", value=0.0),
        ActionSpec("nurture_email", "email", marketing=True, value=1.0),
        ActionSpec("sales_handoff", "sales", value=5.0),
    )
)


def test_decide_learn_and_evaluate_one_batch():
    rng = np.random.default_rng(0)
    n = 500
    X = rng.normal(size=(n, 4))
    opt_out = rng.random(n) < 0.3
    mask = eligibility(CATALOG, n, email_opt_out=opt_out, marketing_touches_7d=rng.integers(0, 5, n))
    arms = assign_arms(np.arange(n), "wiring", holdout_share=0.2)
    engine = arms == "engine"

    policy = LinearThompson(n_actions=3, seed=0)
    choice = policy.choose_many(X[engine], mask[engine])
    prio = priority(policy.predict_many(X[engine]), CATALOG, mask[engine])
    owners = rng.integers(0, 3, engine.sum())
    actions, demoted = apply_budgets(
        choice.actions,
        prio,
        mask[engine],
        CATALOG,
        [Budget("handoffs", ("sales_handoff",), 5)],
        owners,
    )
    assert not (opt_out[engine] & CATALOG.email[actions]).any()
    for o in range(3):
        assert ((actions == 2) & (owners == o)).sum() <= 5
    # rows the budget changed are logged as such and left out of the policy's own log
    keep = ~demoted
    rewards = (rng.random(keep.sum()) < 0.1 + 0.1 * (actions[keep] == 1)).astype(float)
    policy.learn_many(X[engine][keep], actions[keep], rewards, choice.propensities[keep])
    assert policy.n_obs_.sum() == keep.sum()
    target = policy.probabilities_many(X[engine][keep], mask[engine][keep])
    est = ips(actions[keep], rewards, choice.propensities[keep], target)
    assert 0 <= est.low <= est.value <= est.high <= 1.5
