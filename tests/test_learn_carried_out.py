"""The bandit learns only from decisions whose action happened.

A decision whose writes were all rejected by a reviewer (or expired, withdrawn, superseded,
failed, or withheld because autonomy is off for it) did nothing; learned, the contact's unprompted form fill was credited to an e-mail nobody
received. A decision with a write that landed (or was found in place), or with no write at all
(the real-time API's: its caller acts), is learned; one still waiting is learned once it lands.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from hub.models import Contact, Decision, Identity
from hub.store import Store
from hub.store import decisions as decision_store
from hub.store import learning as learning_store
from hub.store import pushes as push_store
from hub.store.contacts import upsert_contacts
from hub.store.schema import pushes
from tests.push_rows import set_field_rows

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_only_decisions_that_happened_are_learned(store_url):
    store = Store(store_url, auto_migrate=True)
    people = [Contact(identities=[Identity(connector="crm", external_id=f"c{i}")]) for i in range(6)]
    with store.begin() as conn:
        ids = sorted(upsert_contacts(conn, people, T0).changed)
    logged = [
        Decision(
            contact_id=cid,
            actions=[],
            policy="engine",
            policy_version="engine@v1",
            created_at=T0,
            action="email_nurture",
            features=[1.0],
            feature_version="f1",
            attribution_days=3,
        )
        for cid in ids
    ]
    with store.begin() as conn:
        dids = decision_store.insert_decisions(conn, logged, "batch-1")
        # rejected, done, skipped (in place already), held, none (a real-time decision's), withheld
        for k, state in enumerate(("rejected", "done", "skipped", "awaiting_approval")):
            push_store.enqueue(conn, set_field_rows(ids[k], dids[k], [f"c{k}"], {"next_best_action": "x"}), T0)
            conn.execute(update(pushes).where(pushes.c.decision_id == dids[k]).values(state=state))
        # the sixth's write is withheld: governance.autonomy is off for it (it was learned)
        rows = set_field_rows(ids[5], dids[5], ["c5"], {"next_best_action": "x"})
        assert push_store.withhold(conn, rows, T0, push_store.AUTONOMY_OFF) == 1
        learning_store.finalize(conn, {d: ({}, 1.0) for d in dids}, T0 + timedelta(days=4))

    def learnable() -> set[int]:
        with store.connect() as conn:
            return {r.decision_id for r in learning_store.learnable(conn, "f1")}

    assert learnable() == {dids[1], dids[2], dids[4]}
    with store.begin() as conn:  # the held write is approved and lands
        conn.execute(update(pushes).where(pushes.c.decision_id == dids[3]).values(state="done"))
    assert learnable() == {dids[1], dids[2], dids[3], dids[4]}
    store.dispose()


def test_a_first_learn_step_the_store_rolls_back_leaves_nothing_learned(store_url, monkeypatch):
    """No snapshot of the model exists yet (a new catalog or feature set): when the store rolled
    the step back, a reload had nothing to load, so the in-memory model kept what it learned and
    the retry learned the same rows again, each counted twice."""
    import pytest
    from sqlalchemy.exc import OperationalError

    from hub.models import ActivityType
    from hub.pipeline.learn import learn_step
    from hub.pipeline.outcomes import record_outcomes
    from tests.outcomes.test_declared_outcomes import T0 as DAY0
    from tests.outcomes.test_declared_outcomes import add, make_ctx, one_contact

    ctx = make_ctx(store_url)
    try:
        cids = [one_contact(ctx, f"k{i}") for i in range(3)]
        record_outcomes(ctx, add(ctx, cids[0], ActivityType.EMAIL_CLICK, DAY0 + timedelta(days=1), "c1"))

        def locked(*args, **kwargs):
            raise OperationalError("UPDATE decision_features", {}, Exception("database is locked"))

        with monkeypatch.context() as m:
            m.setattr(learning_store, "mark_learned", locked)
            with pytest.raises(OperationalError):
                learn_step(ctx, DAY0 + timedelta(days=3, minutes=1))
        assert sum(ctx.policy.model.policy.n_obs_) == 0  # put back as it was
        report = learn_step(ctx, DAY0 + timedelta(days=3, minutes=2))
        assert report.learned == 3 and sum(ctx.policy.model.policy.n_obs_) == 3
    finally:
        ctx.close()
