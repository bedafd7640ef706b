"""The pipeline tasks: thin wrappers that load ids, call one hub function, fan out by id.

Task names are stable API (``hub.sync`` ...). Nothing waits on a subtask.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError

from hub.errors import RetryableError, StoreUnavailable
from hub.forget import forget_record
from hub.governance.step import governance_step
from hub.models import Identity
from hub.pipeline.decide import decide_contacts
from hub.pipeline.learn import learn_step
from hub.pipeline.outcomes import record_outcomes
from hub.pipeline.push import push_connector
from hub.pipeline.run import chunks, due_for_decision, redecide_cutoff
from hub.pipeline.scoring import retrain
from hub.pipeline.sweep import undecided_contacts
from hub.pipeline.sync import DecideFeed, committed_of, sync_connector
from tasks.app import app, context

log = logging.getLogger(__name__)
#: share of ``celery.task_time_limit`` a sync task spends before handing over to a continuation
SYNC_BUDGET_SHARE = 0.6


#: a dropped store connection (database restart, failover, pg_terminate_backend), a store not
#: reachable when a worker process first connects (StoreUnavailable) or a lock / rate-limit
#: Redis that is briefly away is transient;
#: every task is safe to run again (cursors commit with their page, decide is idempotent by
#: request key, push rows are leased), so they retry instead of dropping the work: waits of
#: 2, 4, ... capped at 5 min (under the visibility timeout), 12 tries, ~28 min before jitter
#: (each wait is drawn from zero to its cap, so ~14 min on average; 5 tries gave up in ~1 min)
STORE_RETRY = {
    "autoretry_for": (OperationalError, StoreUnavailable, RedisConnectionError),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 12,
}


STORE_RETRY_NO_MAX = {k: v for k, v in STORE_RETRY.items() if k != "max_retries"}


def _retry_countdown(task, exc: RetryableError) -> float:
    # stay well under the visibility timeout, or Redis redelivers the waiting message
    cap = task.app.conf.broker_transport_options.get("visibility_timeout", 3600) / 2
    return min(cap, max(exc.retry_after or 0, 2**task.request.retries))


@app.task(name="hub.sync", bind=True, **STORE_RETRY)
def sync(self, connector: str, deletions: bool = False) -> dict:
    ctx = context()
    # a long sync hands out decide tasks per full chunk of committed contacts (ids only)
    dec = ctx.settings.decision
    feed = DecideFeed(
        dec.chunk_size, lambda ids, key: decide.delay(ids, key), f"sync-{self.request.id}", dec.decide_during_sync_after
    )
    try:
        # stop well inside the soft time limit and continue in a fresh task (see sync_connector)
        budget = SYNC_BUDGET_SHARE * ctx.settings.celery.task_time_limit
        res = sync_connector(ctx, connector, on_commit=feed.committed, budget_seconds=budget, deletions=deletions)
    except Exception as exc:
        # pages committed before the failure will not be read again: credit their activities now
        partial = committed_of(exc)
        if partial is not None:
            for part in chunks(partial.new_activity_ids, 1000):
                learn.delay(part)
        if isinstance(exc, RetryableError):
            # what is still pending waits for its activities (the retry) or the sweep, as before
            raise self.retry(exc=exc, countdown=_retry_countdown(self, exc)) from None
        raise
    feed.finish()
    if res.more:
        sync.delay(connector, *([True] if deletions else []))  # deletions are looked for at the end
    if res.new_activity_ids:
        for part in chunks(res.new_activity_ids, 1000):
            learn.delay(part)
    return {
        "changed": len(res.changed),
        "records": res.records,
        "skipped": res.skipped,
        "suppressed": res.suppressed,
        "continues": res.more,
    }


@app.task(name="hub.decide", **STORE_RETRY)
def decide(contact_ids: list[int], request_key: str, redecide: bool = False) -> dict:
    ctx = context()
    if redecide:  # decided since they became due (a change's decide task ran first): not again
        res = decide_contacts(ctx, contact_ids, request_key, decided_before=redecide_cutoff(ctx))
    else:
        res = decide_contacts(ctx, contact_ids, request_key, owed_only=True)
    for name in sorted(res.connectors):
        push.delay(name)
    return {"decided": res.decided, "pushes": res.pushes}


@app.task(name="hub.push", bind=True, **STORE_RETRY)
def push(self, connector: str) -> dict:
    try:
        res = push_connector(context(), connector, spread=True)
    except RetryableError as exc:
        raise self.retry(exc=exc, countdown=_retry_countdown(self, exc)) from None
    if res.more:
        push.delay(connector)
    elif res.skipped_lock and context().locks.once(f"push-recheck:{connector}", 2):
        # another push of this connector is running and may have claimed before our rows
        # were queued: look again once it is done. One re-check per connector at a time:
        # every decide chunk queues a push, and each re-scheduling itself was a task storm
        push.apply_async((connector,), countdown=2)
    return {
        "sent": res.sent,
        "done": res.done,
        "failed": res.failed,
        "retrying": res.retrying,
        "skipped": res.skipped_lock,
    }


@app.task(name="hub.learn", **STORE_RETRY)
def learn(activity_ids: list[int] | None = None) -> dict:
    """Attribute new activities; then close windows and update the model (one consumer)."""
    ctx = context()
    n = record_outcomes(ctx, activity_ids or [])
    res = learn_step(ctx)
    gov = governance_step(ctx)  # expire approvals; monitoring alerts when due
    return {
        "outcomes": n,
        "finalized": res.finalized,
        "learned": res.learned,
        "version": res.version,
        "expired": gov.expired,
        "alerts": gov.monitor.raised,
    }


#: waits between tries of a privacy deletion whose person has a write being sent right now
FORGET_RETRY_SECONDS = 60


@app.task(name="hub.forget_records", bind=True, max_retries=60, **STORE_RETRY_NO_MAX)
def forget_records(self, connector: str, object_type: str, external_ids: list[str]) -> dict:
    """Forget the people whose records a CRM deleted for privacy (hub/forget.py ``forget_record``);
    a person with a write in flight is tried again later (only those)."""
    ctx = context()
    waiting: list[str] = []
    for ext in external_ids:
        report = forget_record(ctx, Identity(connector=connector, object_type=object_type, external_id=ext))
        if report.waiting:
            waiting.append(ext)
    if waiting:
        raise self.retry(args=(connector, object_type, waiting), countdown=FORGET_RETRY_SECONDS)
    return {"forgotten": len(external_ids)}


@app.task(name="hub.train_scoring", **STORE_RETRY)
def train_scoring() -> dict:
    """Retrain lead scoring; the registry promotes the new version only if it is not worse."""
    ctx = context()
    s = ctx.settings.decision.scoring
    if s is None or not s.enabled:
        return {"skipped": "decision.scoring is not enabled"}
    with ctx.locks.hold("train-scoring", ttl=1800) as held:
        if not held.acquired:
            return {"skipped": "another retrain is running"}
        res = retrain(ctx.store, ctx.clock(), s)
    log.info("lead scoring retrain: %s", res.message)
    return {
        "rows": res.rows,
        "positives": res.positives,
        "opportunities": res.opportunities,
        "converting_contacts": res.converting_contacts,
        "message": res.message,
    }


@contextmanager
def _once(ctx, name: str, ttl: int) -> Iterator[bool]:  # noqa: ANN001 - a HubContext
    """``locks.once``, given back if the work under it raises: its own retry (a store blip)
    must do the work, not find the key taken and return skipped."""
    first = ctx.locks.once(name, ttl)
    try:
        yield first
    except BaseException:
        if first:
            ctx.locks.forget_once(name)
        raise


@app.task(name="hub.sweep", **STORE_RETRY)
def sweep(grace_seconds: float = 300) -> dict:
    """Decide contacts whose decide task was lost (see hub/pipeline/sweep.py)."""
    ctx = context()
    with _once(ctx, "sweep", int(grace_seconds)) as first:
        if not first:
            # at most one sweep per grace period: a sweep sent again before the decides it
            # queued ran would queue them all again (seen in the chaos run as a decide storm)
            return {"requeued": 0, "skipped": True}
        ids = undecided_contacts(ctx, grace_seconds)
        for i, part in enumerate(chunks(ids, ctx.settings.decision.chunk_size)):
            decide.delay(part, f"sweep-{sweep.request.id}-{i}")
    if ids:
        log.warning("sweep: %d changed contacts had no decision (lost decide tasks); re-queued", len(ids))
    return {"requeued": len(ids)}


#: a little under beat's REDECIDE_INTERVAL (tasks/app.py): at most one re-decide per beat slot
REDECIDE_ONCE_SECONDS = 3000


@app.task(name="hub.redecide", bind=True, **STORE_RETRY)
def redecide(self) -> dict:
    """Decide again for contacts whose newest decision is older than
    ``decision.engine.redecide_after_days``, as ``hub run --once`` does on every pass."""
    ctx = context()
    with _once(ctx, "redecide", REDECIDE_ONCE_SECONDS) as first:
        if not first:
            # a second beat, or this sent again before its chunks ran, would queue them all again
            return {"requeued": 0, "skipped": True}
        ids = sorted(due_for_decision(ctx))
        for i, part in enumerate(chunks(ids, ctx.settings.decision.chunk_size)):
            decide.delay(part, f"redecide-{self.request.id}-{i}", True)
    return {"requeued": len(ids)}
