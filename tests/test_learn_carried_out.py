"""The bandit learns only from decisions whose action happened.

A decision whose writes were all rejected by a reviewer (or expired, withdrawn, superseded,
failed, or withheld because autonomy is off for it) did nothing; learned, the contact's unprompted form fill was credited to an e-mail nobody
received. A decision with a write that landed (or was found in place), or with no write at all
(the real-time API's: its caller acts), is learned; one still waiting is learned once it lands.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from hub.models import Contact, Decision, Identity
from hub.store import Store
from hub.store import decisions as decision_store
from hub.store import learning as learning_store
from hub.store import pushes as push_store
from hub.store.contacts import upsert_contacts
from hub.store.schema import decisions, pushes
from tests.push_rows import set_field_rows

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _logged_emails(store: Store, prefix: str, n: int) -> tuple[list[int], list[Decision]]:
    """``n`` new contacts and, per contact, an engine decision to send ``email_nurture`` (3-day window)."""
    people = [Contact(identities=[Identity(connector="crm", external_id=f"{prefix}{i}")]) for i in range(n)]
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
    return ids, logged


def test_only_decisions_that_happened_are_learned(store_url):
    store = Store(store_url, auto_migrate=True)
    ids, logged = _logged_emails(store, "c", 6)
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


def test_a_write_that_landed_after_its_window_closed_is_not_learned(store_url):
    """A write held for approval (or stuck behind a blocked connector) past its action's window
    landed when the window's reward was already made of what the contact did without it: learned,
    that reward was credited to an action taken after it. Not learned; one that landed inside the
    window is, and so is one with two writes of which the first landed in time."""
    store = Store(store_url, auto_migrate=True)
    ids, logged = _logged_emails(store, "w", 5)
    end = T0 + timedelta(days=3)
    landed = {  # per decision: (state, landed at) of each write
        0: [("done", T0 + timedelta(hours=1))],
        1: [("done", end)],  # at the window's last instant: in time
        2: [("done", end + timedelta(hours=12))],  # approved after the window closed
        3: [("skipped", end + timedelta(days=1))],  # found in place, late
        4: [("done", end + timedelta(days=2)), ("done", T0 + timedelta(days=1))],  # the first in time
    }
    with store.begin() as conn:
        dids = decision_store.insert_decisions(conn, logged, "batch-late")
        for k, writes in landed.items():
            for j, (state, at) in enumerate(writes):
                rows = set_field_rows(ids[k], dids[k], [f"w{k}-{j}"], {"next_best_action": "x"})
                push_store.enqueue(conn, rows, T0)
                conn.execute(
                    update(pushes)
                    .where(pushes.c.decision_id == dids[k], pushes.c.external_id == f"w{k}-{j}")
                    .values(state=state, updated_at=at)
                )
        learning_store.finalize(conn, {d: ({}, 1.0) for d in dids}, T0 + timedelta(days=4))
    with store.connect() as conn:
        assert {r.decision_id for r in learning_store.learnable(conn, "f1")} == {dids[0], dids[1], dids[4]}
    store.dispose()


def test_an_approval_after_the_window_keeps_the_decision_out_of_learning(store_url, redis_url):
    """Through the pipeline: the push stamps when it landed on the hub's clock (the one decisions
    and windows are on), so a simulated clock, a demo's or a test's, reads it as production does."""
    from hub.config import parse_settings
    from hub.governance import approvals
    from hub.models import Activity, ActivityType
    from hub.pipeline.context import HubContext
    from hub.pipeline.decide import decide_contacts
    from hub.pipeline.learn import learn_step
    from hub.pipeline.outcomes import record_outcomes
    from hub.pipeline.push import push_until_drained
    from hub.store import activities as activity_store
    from tests.plugins.memory_crm import MemoryCRM

    crm = MemoryCRM(redis_url, "late")
    settings = parse_settings(
        {
            "store_url": store_url,
            "plugins": ["tests.plugins.memory_crm"],
            "connectors": {"crm": {"type": "memory_crm", "settings": {"redis_url": redis_url, "namespace": "late"}}},
            "governance": {"autonomy": {"actions": {"email_nurture": "needs_approval"}, "approval_ttl_hours": 240}},
            "decision": {
                "actions": [
                    {"id": "email_nurture", "kind": "email", "channel": "email", "attribution_days": 3},
                    {"id": "wait", "kind": "wait"},
                ],
                "rules": [
                    {
                        "name": "nurture",
                        "when": "True",
                        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "email_nurture"}}],
                    }
                ],
                "engine": {"holdout_share": 0.0, "explore_share": 0.0, "apprentice_min_observations": 1},
            },
        }
    )
    ctx = HubContext.build(settings, embedded=True, store=Store(store_url, auto_migrate=True))
    clock = {"now": T0}
    ctx.clock = lambda: clock["now"]
    try:
        cids = []
        for key in ("late", "in-time"):
            crm.put_contact(key, email=f"{key}@x.example", first_name="P", stage="lead")
            person = Contact(identities=[Identity(connector="crm", external_id=key)], emails=[f"{key}@x.example"])
            with ctx.store.begin() as conn:
                cids += upsert_contacts(conn, [person], T0).changed
        decide_contacts(ctx, cids, "r1")  # both e-mails held for approval
        forms = [
            Activity(
                contact_id=c,
                type=ActivityType.FORM_SUBMIT,
                occurred_at=T0 + timedelta(days=1),
                source="crm",
                external_id=f"form-{c}",
            )
            for c in cids
        ]
        with ctx.store.begin() as conn:
            new_ids = activity_store.insert_activities(conn, forms).new_ids
        assert record_outcomes(ctx, new_ids) == 2  # each to its e-mail (the only decision before it)
        with ctx.store.begin() as conn:
            held = {a.contact_id: a for a in approvals.list_approvals(conn, "awaiting")}
        for cid, day in zip(cids, (3.5, 2), strict=True):  # the first approved after its window closed
            clock["now"] = T0 + timedelta(days=day)
            with ctx.store.begin() as conn:
                approvals.decide(conn, held[cid].id, "approve", "reviewer", None, clock["now"])
            assert push_until_drained(ctx, "crm").done == 1
        clock["now"] = T0 + timedelta(days=4)
        report = learn_step(ctx)
        assert report.learned == 1 and report.by_action == {"email_nurture": 1} and report.mean_reward == 5.0
        with ctx.store.connect() as conn:
            assert [r.decision_id for r in learning_store.learnable(conn, ctx.policy.feature_version)] == []
            late = conn.execute(
                select(pushes.c.updated_at)
                .join(decisions, decisions.c.id == pushes.c.decision_id)
                .where(decisions.c.contact_id == cids[0])
            ).scalar()
        assert late.replace(tzinfo=UTC) == T0 + timedelta(days=3, hours=12)
    finally:
        ctx.close()
        crm.clear()
