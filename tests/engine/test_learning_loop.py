"""The learning loop on a real store: windows, delayed rewards, snapshots, reload, rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.config import Settings
from hub.models import Activity, ActivityType, Contact, Identity
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.pipeline.learn import learn_step, list_models, rollback
from hub.pipeline.outcomes import record_outcomes
from hub.store import Store
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store.profiles import load_profiles
from hub.store.schema import decision_features, outcomes

T0 = datetime(2026, 2, 2, 9, tzinfo=UTC)


class Clock:
    def __init__(self, t: datetime):
        self.t = t

    def __call__(self) -> datetime:
        return self.t


EMAIL = {"id": "email_nurture_business", "kind": "email", "channel": "email", "attribution_days": 3}
SALES = {"id": "sales_outreach", "kind": "sales_outreach", "channel": "phone", "attribution_days": 10}
WAIT = {"id": "wait", "kind": "wait"}


def engine_ctx(store_url, actions=(EMAIL, SALES, WAIT), **decision) -> HubContext:
    """An embedded engine hub on the test clock at T0, following a one-rule playbook (e-mail
    everyone) until an action has one observation; ``decision``: more keys of that section."""
    settings = Settings.model_validate(
        {
            "store_url": store_url,
            "decision": {
                "actions": list(actions),
                "engine": {"holdout_share": 0.0, "explore_share": 0.0, "apprentice_min_observations": 1},
                "rules": [
                    {
                        "name": "nurture",
                        "when": "True",
                        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "email_nurture_business"}}],
                    }
                ],
                **decision,
            },
        }
    )
    c = HubContext.build(settings, embedded=True, store=Store(store_url, auto_migrate=True))
    c.clock = Clock(T0)
    return c


@pytest.fixture
def ctx(store_url):
    c = engine_ctx(store_url)
    yield c
    c.close()


def add_contacts(ctx, n: int) -> list[int]:
    people = [
        Contact(identities=[Identity(connector="crm", external_id=str(i))], emails=[f"p{i}@x.example"])
        for i in range(n)
    ]
    with ctx.store.begin() as conn:
        return sorted(contact_store.upsert_contacts(conn, people).changed)


def add_activity(ctx, cid: int, kind: ActivityType, at: datetime, key: str) -> list[int]:
    a = Activity(contact_id=cid, type=kind, occurred_at=at, source="crm", external_id=key)
    with ctx.store.begin() as conn:
        return activity_store.insert_activities(conn, [a]).new_ids


def test_activities_count_only_inside_the_chosen_actions_window_and_rewards_wait_for_it(ctx):
    (cid,) = add_contacts(ctx, 1)
    decide_contacts(ctx, [cid], "r1")  # cold engine follows the rule: email, 3-day window
    ids = add_activity(ctx, cid, ActivityType.EMAIL_CLICK, T0 + timedelta(days=1), "click")
    ids += add_activity(ctx, cid, ActivityType.MEETING, T0 + timedelta(days=5), "late-meeting")
    ids += add_activity(ctx, cid, ActivityType.EMAIL_OPEN, T0 - timedelta(hours=1), "before")
    assert record_outcomes(ctx, ids) == 1  # only the click: the meeting is outside, the open before
    with ctx.store.connect() as conn:
        assert load_profiles(conn, [cid])[cid]["total"] == {"email_click": 1, "meeting": 1, "email_open": 1}
    early = learn_step(ctx, T0 + timedelta(days=2))
    assert early.finalized == 0 and early.learned == 0  # the window is still open
    done = learn_step(ctx, T0 + timedelta(days=3, minutes=1))
    assert done.finalized == 1 and done.learned == 1 and done.version == 1
    with ctx.store.connect() as conn:
        row = conn.execute(select(decision_features)).one()
        assert row.reward == {"click": 1.0} and row.reward_total == 1.0 and row.learned_version == 1
        assert len(conn.execute(select(outcomes)).all()) == 1
    assert learn_step(ctx, T0 + timedelta(days=4)).learned == 0  # never learned twice


def test_snapshots_version_up_workers_reload_and_rollback_appends(ctx):
    cids = add_contacts(ctx, 6)
    for day in range(3):
        ctx.clock.t = T0 + timedelta(days=4 * day)
        decide_contacts(ctx, cids, f"d{day}")
        ids = []
        for cid in cids[:3]:
            ids += add_activity(ctx, cid, ActivityType.EMAIL_CLICK, ctx.clock.t + timedelta(hours=2), f"{day}-{cid}")
        record_outcomes(ctx, ids)
        learn_step(ctx, ctx.clock.t + timedelta(days=3, hours=1))
    models = list_models(ctx)
    assert [m["version"] for m in models] == [1, 2, 3]
    assert models[-1]["metrics"]["learned"] == 6
    engine = ctx.policy
    assert engine.model_version == 3 and engine.model.policy.n_obs_.sum() == 18

    other = HubContext.build(ctx.settings, embedded=True, store=ctx.store)  # a decide worker
    other.clock = ctx.clock
    decide_contacts(other, cids[:1], "w1")
    assert other.policy.model_version == 3 and other.policy.model.policy.n_obs_.sum() == 18

    assert rollback(ctx, 1) == 4
    decide_contacts(other, cids[:1], "w2")
    assert other.policy.model_version == 4 and other.policy.model.policy.n_obs_.sum() == 6
    assert list_models(ctx)[-1]["metrics"]["rollback_of"] == 1


def test_profiles_can_be_rebuilt_from_the_activities_table(ctx):
    from hub.store.activities import rebuild_profiles

    cids = add_contacts(ctx, 3)
    for i, cid in enumerate(cids):
        for k in range(i + 1):
            add_activity(ctx, cid, ActivityType.PAGE_VIEW, T0 - timedelta(days=k), f"pv-{cid}-{k}")
    with ctx.store.connect() as conn:
        before = load_profiles(conn, cids)
    with ctx.store.begin() as conn:
        assert rebuild_profiles(conn, chunk=2) == 3
    with ctx.store.connect() as conn:
        assert load_profiles(conn, cids) == before


def test_migration_0002_builds_profiles_for_existing_activities(tmp_path):
    from sqlalchemy import insert

    from hub.store.db import make_engine, migrate
    from hub.store.schema import activities, contacts

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            insert(contacts).values(
                id=1, created_at=T0, changed_at=T0, properties={}, email_opt_out=False, do_not_contact=False
            )
        )
        conn.execute(
            insert(activities).values(
                contact_id=1, type="email_open", occurred_at=T0, properties={}, source="crm", external_id="o1"
            )
        )
    migrate(engine)
    with engine.connect() as conn:
        assert load_profiles(conn, [1])[1]["total"] == {"email_open": 1}
    engine.dispose()


def test_content_slots_learn_from_attributed_opens_and_a_decide_worker_reloads_them(ctx):
    from hub.store.schema import decisions

    cids = add_contacts(ctx, 40)
    decide_contacts(ctx, cids, "c1")
    with ctx.store.connect() as conn:
        rows = conn.execute(select(decisions.c.contact_id, decisions.c.actions)).all()
    subject = {cid: a[0]["payload"]["fields"]["content_subject"] for cid, a in rows}
    winner = sorted(set(subject.values()))[0]
    ids = []
    for cid, s in subject.items():
        if s == winner:  # only the winning subject line gets opened
            ids += add_activity(ctx, cid, ActivityType.EMAIL_OPEN, T0 + timedelta(hours=3), f"o-{cid}")
    record_outcomes(ctx, ids)
    learn_step(ctx, T0 + timedelta(days=3, minutes=1))
    assert ctx.policy.extras.content.best()["content_subject"] == winner
    saved = list_models(ctx)[-1]["metrics"]["content"]["subject"]
    assert saved[winner][0] > 1 and sum(v[2] for v in saved.values()) == 40  # alpha grew; every send counted
    other = HubContext.build(ctx.settings, embedded=True, store=ctx.store)  # a decide worker
    other.clock = ctx.clock
    decide_contacts(other, cids[:1], "c2")
    assert other.policy.extras.content.best()["content_subject"] == winner


def test_a_rollback_committed_while_a_learn_step_runs_stays_live(ctx, monkeypatch):
    """The learn step saved ``newest + 1`` whatever was newest by then: a rollback committed while
    it learned was followed by the model the step had loaded before it plus the new rows, and that
    served, the rollback never. Now the step saves only if the newest version is still the one it
    learned on; otherwise it drops its work and the rows are learned next step, on the rollback."""
    from hub.store import learning as learning_store

    cids = add_contacts(ctx, 3)
    for day in range(3):  # one decision and one click a round; v1 and v2 learn the first two
        ctx.clock.t = T0 + timedelta(days=4 * day)
        decide_contacts(ctx, cids[day : day + 1], f"d{day}")
        record_outcomes(
            ctx, add_activity(ctx, cids[day], ActivityType.EMAIL_CLICK, ctx.clock.t + timedelta(hours=2), f"k{day}")
        )
        if day < 2:
            assert learn_step(ctx, ctx.clock.t + timedelta(days=3, hours=1)).version == day + 1
    operator = HubContext.build(ctx.settings, embedded=True, store=ctx.store)  # `hub model rollback` elsewhere
    operator.clock = ctx.clock
    real = learning_store.learnable

    def learnable_then_rollback(conn, *args, **kwargs):
        rows = real(conn, *args, **kwargs)
        assert rollback(operator, 1) == 3  # committed in its own transaction while the step learns
        return rows

    with monkeypatch.context() as m:
        m.setattr(learning_store, "learnable", learnable_then_rollback)
        report = learn_step(ctx, T0 + timedelta(days=11, hours=1))
    models = list_models(ctx)
    assert [m["version"] for m in models] == [1, 2, 3] and models[-1]["metrics"]["rollback_of"] == 1
    assert report.superseded and report.learned == 0 and report.version is None
    with ctx.store.connect() as conn:
        assert sorted(conn.execute(select(decision_features.c.learned_version)).scalars(), key=str) == [1, 2, None]
    report = learn_step(ctx, T0 + timedelta(days=11, hours=2))  # learned on the rolled-back model
    assert report.learned == 1 and report.version == 4
    assert ctx.policy.model.policy.n_obs_.sum() == 2  # v1's row and this one; v2's is rolled back
    assert list_models(ctx)[-1]["metrics"]["observations"] == ctx.policy.model.policy.n_obs_.tolist()


def test_saves_of_one_model_take_turns_and_compare_and_set(store_url):
    """A save that expects version N appends nothing once another save made N + 1, also when that
    save was still uncommitted as this one began (it waits for it, then sees it)."""
    import threading
    import time

    from hub.store import learning as learning_store

    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn:
        assert learning_store.save_snapshot(conn, "m", b"1", {}, T0, expect=0) == 1
        assert learning_store.save_snapshot(conn, "m", b"x", {}, T0, expect=0) is None
    rollback = store.engine.connect()
    tx = rollback.begin()
    assert learning_store.save_snapshot(rollback, "m", b"rollback", {}, T0) == 2  # not committed yet
    result = {}

    def learn_save() -> None:
        with store.begin() as conn:
            result["version"] = learning_store.save_snapshot(conn, "m", b"learned", {}, T0, expect=1)

    saver = threading.Thread(target=learn_save)
    saver.start()
    time.sleep(1.0)
    assert saver.is_alive()  # waiting for the rollback's save (PostgreSQL: its lock; SQLite: its write)
    tx.commit()
    rollback.close()
    saver.join(30)
    assert result == {"version": None}
    with store.connect() as conn:
        assert [s["version"] for s in learning_store.list_snapshots(conn, "m")] == [1, 2]
        assert learning_store.load_snapshot(conn, "m")[1] == b"rollback"
    store.dispose()


def test_content_slots_learn_opens_and_clicks_that_the_objective_gives_no_points(store_url):
    """Content slots read whether a send was opened or clicked from the decision's outcomes,
    not from its weighted reward: with ``objective.open: 0`` (opens worth no points, say for
    machine opens) and ``click: 0`` every send read as unopened, the subject slot learned "never
    opened" for every variant and the slots judged by clicks (only on opened sends) learned nothing."""
    from hub.store.schema import decisions

    ctx = engine_ctx(store_url, (EMAIL, WAIT), objective={"open": 0.0, "click": 0.0})
    try:
        cids = add_contacts(ctx, 30)
        decide_contacts(ctx, cids, "c1")
        with ctx.store.connect() as conn:
            rows = conn.execute(select(decisions.c.contact_id, decisions.c.actions)).all()
        subject = {cid: a[0]["payload"]["fields"]["content_subject"] for cid, a in rows}
        winner = sorted(set(subject.values()))[0]
        ids = []
        for cid, s in subject.items():
            if s == winner:  # only the winning subject line gets opened, and each open clicked
                ids += add_activity(ctx, cid, ActivityType.EMAIL_OPEN, T0 + timedelta(hours=3), f"o-{cid}")
                ids += add_activity(ctx, cid, ActivityType.EMAIL_CLICK, T0 + timedelta(hours=4), f"c-{cid}")
        record_outcomes(ctx, ids)
        report = learn_step(ctx, T0 + timedelta(days=3, minutes=1))
        assert report.learned == 30 and report.mean_reward == 0.0  # worth nothing to the objective
        state = ctx.policy.extras.content.state()
        opened = sum(1 for s in subject.values() if s == winner)
        assert state["subject"][winner][0] == 1 + opened  # alpha: one per opened send
        assert ctx.policy.extras.content.best()["content_subject"] == winner
        for slot in ("hero", "body", "cta"):  # judged by clicks on the opened sends: all clicked
            assert sum(n for _, _, n in state[slot].values()) == opened
            assert sum(a - 1 for a, _, _ in state[slot].values()) == opened
    finally:
        ctx.close()
