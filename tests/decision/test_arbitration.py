"""Arbitration rules and budgets, with property-based tests on untrusted scores."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from decision.arbitration import (
    ActionSpec,
    Budget,
    Catalog,
    ContactPolicy,
    apply_budgets,
    arbitrate,
    eligibility,
    priority,
)
from hub.errors import DecisionError

CATALOG = Catalog(
    (
        ActionSpec("wait", value=0.0),
        ActionSpec("nurture_email", "email", marketing=True, value=1.0),
        ActionSpec("webinar_invite", "email", marketing=True, value=2.0),
        ActionSpec("retarget_ad", "ads", marketing=True, value=0.5),
        ActionSpec("sales_handoff", "sales", value=10.0, lever=1.5),
        ActionSpec("sdr_call", "phone", value=3.0),
    )
)
K = len(CATALOG.actions)
EMAIL = CATALOG.email
MARKETING = CATALOG.marketing
WAIT = CATALOG.index("wait")
HANDOFF = CATALOG.flags(["sales_handoff"])

scores = st.integers(1, 60).flatmap(
    lambda n: arrays(np.float64, (n, K), elements=st.floats(-1e6, 1e6, allow_nan=False))
)


@settings(max_examples=150, deadline=None)
@given(scores, st.data())
def test_consent_and_contact_policy_hold_whatever_the_scores(s, data):
    n = len(s)
    bools = arrays(np.bool_, n)
    opt_out, dnc = data.draw(bools), data.draw(bools)
    touches = data.draw(arrays(np.int64, n, elements=st.integers(0, 6)))
    since = data.draw(arrays(np.float64, n, elements=st.floats(0, 30) | st.just(np.nan)))
    base = data.draw(arrays(np.bool_, (n, K)))
    cp = ContactPolicy(max_marketing_touches_7d=3, sales_quiet_days=2.0)
    mask = eligibility(
        CATALOG,
        n,
        base_mask=base,
        email_opt_out=opt_out,
        do_not_contact=dnc,
        marketing_touches_7d=touches,
        days_since_sales_touch=since,
        contact_policy=cp,
    )
    budget = Budget("handoffs", ("sales_handoff",), limit=data.draw(st.integers(0, 3)))
    owners = data.draw(arrays(np.int64, n, elements=st.integers(0, 3)))
    out = arbitrate(priority(s, CATALOG, mask), mask, CATALOG, [budget], owners)
    a = out.actions
    assert mask[np.arange(n), a].all()
    assert not (opt_out & EMAIL[a]).any(), "an opted-out contact got an email"
    assert (a[dnc] == WAIT).all(), "a do-not-contact row got something other than wait"
    assert not ((touches >= 3) & MARKETING[a]).any(), "touch cap exceeded"
    assert not ((since < 2.0) & MARKETING[a]).any(), "marketing inside the sales quiet period"
    for o in np.unique(owners):
        assert (HANDOFF[a] & (owners == o)).sum() <= budget.limit, "budget exceeded"


@settings(max_examples=100, deadline=None)
@given(scores, st.data())
def test_budgets_never_exceeded_even_for_proposed_actions(s, data):
    n = len(s)
    mask = np.ones((n, K), dtype=bool)
    proposed = data.draw(arrays(np.int64, n, elements=st.integers(0, K - 1)))
    owners = data.draw(arrays(np.int64, n, elements=st.integers(0, 2)))
    used = {str(o): data.draw(st.integers(0, 2)) for o in range(3)}
    budgets = [
        Budget("handoffs", ("sales_handoff",), limit=2, used=used),
        Budget("calls", ("sdr_call", "sales_handoff"), limit=3, per_owner=False),
    ]
    a, demoted = apply_budgets(proposed, s, mask, CATALOG, budgets, owners)
    for o in range(3):
        assert (HANDOFF[a] & (owners == o)).sum() <= max(0, 2 - used[str(o)])
    assert np.isin(a, [CATALOG.index("sdr_call"), CATALOG.index("sales_handoff")]).sum() <= 3
    assert (a[~demoted] == proposed[~demoted]).all(), "rows within budget must keep their action"


def test_budget_goes_to_the_best_contacts_not_the_first():
    n = 10
    prio = np.zeros((n, K))
    prio[:, CATALOG.index("sales_handoff")] = np.arange(n)  # later rows are better leads
    prio[:, CATALOG.index("sdr_call")] = 0.5
    mask = np.ones((n, K), dtype=bool)
    out = arbitrate(
        prio,
        mask,
        CATALOG,
        [Budget("h", ("sales_handoff",), limit=3)],
        owners=["ann"] * 5 + ["bob"] * 5,
    )
    got = np.flatnonzero(out.actions == CATALOG.index("sales_handoff")).tolist()
    assert got == [2, 3, 4, 7, 8, 9]
    assert (out.actions[[0, 1, 5, 6]] == CATALOG.index("sdr_call")).all()
    # row 0 preferred the call anyway (0 < 0.5); rows 1, 5, 6 wanted a handoff and lost it
    assert np.flatnonzero(out.demoted).tolist() == [1, 5, 6]


def test_priority_blends_short_and_long_term_value():
    p = np.full((1, K), 0.1)
    lt = np.zeros((1, K))
    lt[0, CATALOG.index("retarget_ad")] = 100.0
    short = priority(p, CATALOG)
    assert np.argmax(short) == CATALOG.index("sales_handoff")  # 0.1 * 10 * 1.5
    assert np.argmax(priority(p, CATALOG, long_term=lt, blend=0.5)) == CATALOG.index("retarget_ad")
    masked = priority(p, CATALOG, np.eye(K, dtype=bool)[[0]])
    assert np.isneginf(masked[0, 1:]).all()
    with pytest.raises(DecisionError, match="blend"):
        priority(p, CATALOG, blend=1.5)


def test_catalogue_mistakes_are_reported():
    with pytest.raises(DecisionError, match="no-op"):
        Catalog((ActionSpec("email", "email"),))
    with pytest.raises(DecisionError, match="unique"):
        Catalog((ActionSpec("wait"), ActionSpec("wait")))
    with pytest.raises(DecisionError, match="cannot be budgeted"):
        apply_budgets([0], np.zeros((1, K)), np.ones((1, K), bool), CATALOG, [Budget("b", ("wait",), 1)])
