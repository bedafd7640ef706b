"""The pipeline functions without Celery: sync -> decide -> push against the memory CRM."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.config import load_settings
from hub.pipeline.context import HubContext
from hub.pipeline.push import plan_pushes, push_connector
from hub.pipeline.run import run_once
from hub.store import Store
from hub.store.schema import pushes, sync_state
from tests.conftest import hub_config
from tests.plugins.memory_crm import MemoryCRM


@pytest.fixture
def crm(redis_url):
    c = MemoryCRM(redis_url, "memcrm")
    c.clear()
    yield c
    c.clear()


def seed(crm: MemoryCRM, n: int = 10, hot: int = 3) -> None:
    now = datetime.now(UTC)
    for i in range(n):
        crm.put_contact(str(i), email=f"p{i}@example.com", first_name=f"P{i}", stage="lead")
    for i in range(hot):
        for k in range(3):
            crm.add_activity(f"pv-{i}-{k}", str(i), "page_view", now - timedelta(days=k))


def make_ctx(tmp_path, store_url, redis_url, **kw) -> HubContext:
    Store(store_url, auto_migrate=True).dispose()  # what `hub migrate` does
    return HubContext.build(load_settings(hub_config(tmp_path, store_url, redis_url, **kw)), embedded=True)


def test_run_once_pushes_exactly_the_decided_actions(tmp_path, store_url, redis_url, crm):
    seed(crm)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    report = run_once(ctx)
    assert report.decide.decided == 10
    effects = crm.effects()
    nba = {e["record"]: e["new"] for e in effects if e["field"] == "next_best_action"}
    assert nba == {str(i): ("sales_outreach" if i < 3 else "email_nurture") for i in range(10)}
    assert sorted(e["record"] for e in effects if e["field"] == "lists") == ["0", "1", "2"]
    assert len(effects) == 10 * 4 + 3  # two rule fields plus decision id and arm each, three list adds
    assert {e["new"] for e in effects if e["field"] == "experiment_arm"} == {"rules"}
    ctx.close()


def test_second_run_makes_no_writes_and_no_decisions_for_echoes(tmp_path, store_url, redis_url, crm):
    seed(crm)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    before = len(crm.effects())
    again = run_once(ctx)  # sees our own writes come back (echoes) and nothing else
    assert again.syncs[0].records == 10  # every record moved: our writes touched them
    assert again.decide.decided == 0
    assert len(crm.effects()) == before
    ctx.close()


def test_a_real_change_is_decided_again_and_diffed(tmp_path, store_url, redis_url, crm):
    seed(crm, n=3, hot=0)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    now = datetime.now(UTC)
    for k in range(3):
        crm.add_activity(f"new-{k}", "1", "page_view", now)
    report = run_once(ctx)
    assert report.decide.decided == 1
    new = [e for e in crm.effects() if e["record"] == "1" and e["field"] == "next_best_action"]
    assert [e["new"] for e in new] == ["email_nurture", "sales_outreach"]
    ctx.close()


def test_opted_out_contact_gets_no_nurture(tmp_path, store_url, redis_url, crm):
    crm.put_contact("x", email="x@example.com", opt_out=True)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    report = run_once(ctx)
    assert report.decide.decided == 1
    assert crm.effects() == []
    ctx.close()


def test_malformed_record_is_rejected_by_id_and_the_page_goes_on(tmp_path, store_url, redis_url, crm, caplog):
    seed(crm, n=4, hot=0)
    crm.put_raw("bad", '"not an object"')
    ctx = make_ctx(tmp_path, store_url, redis_url)
    report = run_once(ctx)
    assert report.syncs[0].rejects == 1 and report.syncs[0].records == 4
    assert "bad" in caplog.text
    with ctx.store.connect() as conn:
        cur = conn.execute(select(sync_state.c.cursor).where(sync_state.c.stream == "contacts")).scalar()
    assert cur is not None
    ctx.close()


def test_permanent_failure_stays_visible_and_the_rest_lands(tmp_path, store_url, redis_url, crm):
    seed(crm, n=5, hot=0)
    crm.set_fault("fail_records", ["2"])
    ctx = make_ctx(tmp_path, store_url, redis_url)
    report = run_once(ctx)
    assert report.pushes[0].failed == 1 and report.pushes[0].done == 4
    with ctx.store.connect() as conn:
        failed = conn.execute(select(pushes.c.external_id, pushes.c.last_error).where(pushes.c.state == "failed")).all()
    assert [(r.external_id, "INVALID_FIELD" in r.last_error) for r in failed] == [("2", True)]
    ctx.close()


def test_transient_failure_is_retried_with_backoff(tmp_path, store_url, redis_url, crm):
    seed(crm, n=4, hot=0)
    crm.r.set(crm.k("flaky_left"), 1)
    # one batch, which the CRM fails; a 1 s backoff, so a slow machine's drain loop (run_once
    # pushes until nothing is due) does not reach the retries (at 0.2 s, a loaded CI sent them again)
    ctx = make_ctx(tmp_path, store_url, redis_url, **{"push.lanes": 1, "push.backoff_base": 1.0})
    report = run_once(ctx)
    assert report.pushes[0].retrying == 4 and crm.effects() == []
    with ctx.store.connect() as conn:
        rows = conn.execute(
            select(pushes.c.state, pushes.c.attempts, pushes.c.next_attempt_at, pushes.c.last_error)
        ).all()
    assert {(r.state, r.attempts) for r in rows} == {("pending", 1)}
    assert all("503" in r.last_error for r in rows)
    import time

    time.sleep(2.1)  # backoff_base 1 s, jittered: due again within 2 s
    summary = push_connector(ctx, "crm")
    assert summary.done == 4 and len(crm.effects()) == 16
    ctx.close()


def test_dry_run_plans_writes_without_making_them(tmp_path, store_url, redis_url, crm):
    from hub.pipeline.decide import decide_contacts
    from hub.pipeline.sync import sync_connector

    seed(crm, n=6, hot=2)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    res = sync_connector(ctx, "crm")
    decide_contacts(ctx, sorted(res.changed), "t")
    plan = plan_pushes(ctx, "crm")
    assert plan.planned == {"set_fields": 6, "add_to_list": 2}
    assert crm.effects() == []
    ctx.close()


def test_decide_is_idempotent_per_request_key(tmp_path, store_url, redis_url, crm):
    from hub.pipeline.decide import decide_contacts
    from hub.pipeline.sync import sync_connector

    seed(crm, n=3, hot=0)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    ids = sorted(sync_connector(ctx, "crm").changed)
    first = decide_contacts(ctx, ids, "k1")
    again = decide_contacts(ctx, ids, "k1")
    assert first.decided == 3 and again.decided == 0 and again.already == 3
    ctx.close()


def test_a_sync_past_its_time_budget_stops_cleanly_and_a_continuation_finishes_it(tmp_path, redis_url, crm):
    from sqlalchemy import func

    from hub.pipeline.sync import sync_connector
    from hub.store.schema import identities

    for i in range(60):  # 25 per page: three pages
        crm.put_contact(f"extra{i}", email=f"extra{i}@example.com")
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)
    first = sync_connector(ctx, "crm", budget_seconds=0.0)  # spent at once: one page, then hand over
    assert first.more and first.pages == 1 and first.records == 25
    with ctx.store.connect() as conn:
        state = {r.stream: r.last_status for r in conn.execute(select(sync_state))}
    assert state["contacts"] == "continuing"
    rounds, total = 1, first.records
    while True:
        res = sync_connector(ctx, "crm", budget_seconds=0.0)
        rounds, total = rounds + 1, total + res.records
        if not res.more:
            break
    with ctx.store.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(identities)).scalar()
    assert stored == total == 60  # every record once, none twice
    assert rounds >= 3
    assert sync_connector(ctx, "crm").records == 0  # and nothing left behind the cursor
    ctx.close()


class ThreadsSeen:
    """The configured policy, noting the BLAS / OpenMP thread counts it decides under."""

    def __init__(self, policy):
        self.policy, self.seen = policy, []

    def __getattr__(self, name):
        return getattr(self.policy, name)

    def decide(self, batch, now):
        from threadpoolctl import threadpool_info

        self.seen.append({pool["num_threads"] for pool in threadpool_info()})
        return self.policy.decide(batch, now)


def test_decide_runs_with_one_math_thread(tmp_path, store_url, redis_url, crm):
    """Decide scales by processes: a BLAS pool per core in each would spin on the others' cores."""
    from threadpoolctl import threadpool_limits

    from hub.pipeline.decide import decide_contacts
    from hub.pipeline.sync import sync_connector

    seed(crm, n=3, hot=0)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    ids = sorted(sync_connector(ctx, "crm").changed)
    watch = ThreadsSeen(ctx.policy)
    ctx.__dict__["policy"] = watch  # replaces the cached policy
    with threadpool_limits(limits=2):  # the pools as a machine with 2 cores starts them (tests set 1)
        assert decide_contacts(ctx, ids, "threads").decided == 3
    assert watch.seen == [{1}]
    ctx.close()


def test_a_decide_process_freezes_its_heap_after_its_first_batch(tmp_path, redis_url, crm):
    """What a worker holds for good (imports, the policy) leaves the collector's full passes."""
    import gc

    seed(crm)
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)
    run_once(ctx)
    ctx.close()
    assert gc.get_freeze_count() > 0


def test_run_once_decides_people_brought_in_by_an_import(tmp_path, store_url, redis_url, crm):
    """The README's own-data path ends with `hub run --once`, which decided only what a sync of
    that run changed: 50 imported people were never decided, run after run."""
    from hub.importing import ImportOptions, import_contacts

    ctx = make_ctx(tmp_path, store_url, redis_url)
    csv = tmp_path / "people.csv"
    csv.write_text("email,first_name\n" + "".join(f"p{i}@example.com,P{i}\n" for i in range(50)), encoding="utf-8")
    assert import_contacts(ctx.store, csv, ImportOptions()).created == 50
    assert run_once(ctx).decide.decided == 50
    assert run_once(ctx).decide.decided == 0  # decided: nothing owed any more
    ctx.close()
