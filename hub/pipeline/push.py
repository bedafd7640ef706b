"""Push queued actions to one connector in vendor-sized batches.

Claims due pushes under a lease, diffs them against the CRM's known values, sends the rest,
and records one result per push: done, skipped (no-op), rescheduled with exponential backoff
and jitter (retryable), or failed with its reason (permanent, or out of attempts).
"""

from __future__ import annotations

import functools
import logging
import random
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hub.connector import Connector, results_of_error
from hub.errors import FatalConnectorError, HubError, RetryableError
from hub.models import ActionKind, Identity, PushResult, utcnow
from hub.pipeline.context import HubContext
from hub.pipeline.diff import effective_payload
from hub.pipeline.usage import note_usage
from hub.reports.numbers import counted
from hub.store import pushes as push_store
from hub.store.pushes import PushRow

log = logging.getLogger(__name__)


@dataclass
class PushSummary:
    connector: str
    skipped_lock: bool = False
    sent: int = 0
    done: int = 0
    noop: int = 0
    retrying: int = 0
    failed: int = 0
    more: bool = False
    planned: Counter = field(default_factory=Counter)
    samples: list[dict] = field(default_factory=list)  # dry run: a few writes with before -> after
    failures: Counter = field(default_factory=Counter)  # reason -> pushes that failed for good with it
    deferrals: Counter = field(default_factory=Counter)  # reason -> pushes rescheduled with it

    def add(self, other: PushSummary) -> None:
        """Fold another call's counts into this one (a CLI or runner looping until ``more`` is off)."""
        for f in ("sent", "done", "noop", "retrying", "failed"):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        self.failures.update(other.failures)
        self.deferrals.update(other.deferrals)


def backoff(ctx: HubContext, attempts: int, retry_after: float | None, rng: random.Random = random.Random()) -> float:
    p = ctx.settings.push
    delay = min(p.backoff_max, p.backoff_base * 2**attempts) * rng.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)


class StoredForms:
    """One connector's ``stored_form`` for a batch's diff and record. A connector that cannot
    tell now (its schema read failed) is not asked again in the batch: each value then counts as
    itself, so the write goes out and meets that trouble where it is handled."""

    def __init__(self, connector: Connector):
        self.connector = connector
        self.failed = False

    def of(self, object_type: str, field: str, value: Any) -> Any:
        """``value`` as the CRM will hold it, or ``value`` when the connector cannot tell."""
        if self.failed:
            return value
        try:
            return self.connector.stored_form(object_type, field, value)
        except HubError as exc:
            log.warning(
                "%s cannot tell how it stores values (%s); diffing against them as sent", self.connector.name, exc
            )
            self.failed = True
            return value

    def payload(self, r: PushRow) -> dict[str, Any]:
        """A landed write's payload as the CRM holds it, for the store's copy of its fields."""
        if r.kind is not ActionKind.SET_FIELDS:
            return r.payload
        fields = r.payload.get("fields", {})
        return {**r.payload, "fields": {k: self.of(r.identity.object_type, k, v) for k, v in fields.items()}}


def _diff(ctx: HubContext, rows: list[PushRow], forms: StoredForms) -> tuple[list[PushRow], list[PushRow], dict]:
    with ctx.store.connect() as conn:
        state = push_store.crm_state(conn, [r.identity for r in rows])
    send, noop = [], []
    for r in rows:
        s = state.get(r.identity.key())
        if s is None:  # the record is gone from the CRM (archived, merged): nothing to write to
            noop.append(r)
            continue
        stored = functools.partial(forms.of, r.identity.object_type)
        eff = effective_payload(r.kind, r.payload, s.crm_fields or {}, s.lists, s.owner, stored)
        if eff is None:
            noop.append(r)
        else:
            r.payload = eff
            send.append(r)
    return send, noop, state


def plan_pushes(ctx: HubContext, name: str, samples: int = 5) -> PushSummary:
    """Dry run: what would be written now, per kind, and the first ``samples`` writes with the
    CRM's value before and the value after, without claiming or sending anything."""
    summary = PushSummary(connector=name)
    with ctx.store.connect() as conn:
        rows = push_store.list_pushes(conn, state="pending", connector=name, limit=1_000_000)
    claimed = [
        PushRow(
            id=r.id,
            decision_id=0,
            contact_id=0,
            identity=Identity(connector=name, object_type=r.object_type, external_id=r.external_id),
            kind=ActionKind(r.kind),
            payload=r.payload,
            attempts=r.attempts,
        )
        for r in rows
    ]
    send, noop, state = _diff(ctx, claimed, StoredForms(ctx.connector(name)))
    summary.planned = Counter(r.kind.value for r in send)
    summary.noop = len(noop)
    summary.samples = [_before_after(r, state[r.identity.key()]) for r in send[:samples]]
    return summary


def _before_after(r: PushRow, s) -> dict:  # noqa: ANN001 - the store's CRM state of the record
    """One planned write as the record's values before and after it."""
    p = r.payload
    if r.kind is ActionKind.SET_FIELDS:
        fields = p.get("fields", {})
        before = {k: (s.crm_fields or {}).get(k) for k in fields}
        after = dict(fields)
    elif r.kind in (ActionKind.ADD_TO_LIST, ActionKind.REMOVE_FROM_LIST):
        member = r.kind is ActionKind.ADD_TO_LIST
        before, after = {f"list {p['list']}": not member}, {f"list {p['list']}": member}
    elif r.kind is ActionKind.ASSIGN_OWNER:
        before, after = {"owner": s.owner}, {"owner": p.get("owner")}
    else:
        before, after = {}, dict(p)
    return {"push_id": r.id, "record": r.identity.external_id, "kind": r.kind.value, "before": before, "after": after}


def push_connector(
    ctx: HubContext, name: str, only_ids: Sequence[int] | None = None, spread: bool = False
) -> PushSummary:
    """Push up to ``push.batch_limit`` due actions per lane, one vendor batch (and one lease) at
    a time.

    The queue is split into ``push.lanes`` lanes by record, each under its own lock, so several
    workers push one connector at once and each record's writes stay in order. A call pushes
    every lane no one else holds, in lane order; with ``spread`` (the worker's task) it starts
    at a random lane, so that tasks running together spread out (in process, the order stays
    reproducible). ``only_ids`` limits it to those pushes (``hub forget`` sends its clearing
    writes)."""
    summary = PushSummary(connector=name)
    lanes = ctx.settings.push.lanes
    start = random.randrange(lanes) if spread else 0
    acquired = 0
    for k in range(lanes):
        lane = ((start + k) % lanes, lanes)
        with ctx.locks.hold(f"push:{name}:{lane[0]}", ctx.settings.push.lease_seconds) as lock:
            if not lock.acquired:
                continue
            acquired += 1
            with _Heartbeat(ctx, lock) as beat:
                _push_lane(ctx, name, lane, lock, beat, only_ids, summary)
        if summary.more:  # the batch limit (or a lost lock): the caller comes back for the rest
            break
    summary.skipped_lock = acquired == 0
    if summary.sent:
        note_usage(ctx, name)
    for reason, n in summary.failures.most_common():  # one line per cause, not one per record
        log.warning("%s to %s failed: %s", counted(n, "push", "pushes"), name, reason)
    return summary


def push_until_drained(ctx: HubContext, name: str) -> PushSummary:
    """:func:`push_connector` again while it reports more due, summed (embedded runs and `hub push`)."""
    total = PushSummary(connector=name)
    while True:
        s = push_connector(ctx, name)
        total.add(s)
        if not s.more:
            return total


def _push_lane(
    ctx: HubContext, name: str, lane: tuple[int, int], lock, beat: _Heartbeat, only_ids, summary: PushSummary
) -> None:
    connector = ctx.connector(name)
    cfg = ctx.settings.push
    handled = 0
    while handled < cfg.batch_limit:
        now = utcnow()
        with ctx.store.begin() as conn:
            rows = push_store.claim_due(
                conn,
                name,
                now,
                min(connector.max_push_batch, cfg.batch_limit - handled),
                cfg.lease_seconds,
                only_ids,
                lane,
            )
        if not rows:
            return
        beat.ids = [r.id for r in rows]  # ours until recorded: the heartbeat renews their lease
        handled += len(rows)
        forms = StoredForms(connector)
        send, noop, state = _diff(ctx, rows, forms)
        with beat.paused(), ctx.store.begin() as conn:  # ended: on the hub's clock, as _record says
            push_store.mark(conn, [r.id for r in noop], "skipped", ctx.clock())
        summary.noop += len(noop)
        if send:
            results = _send(connector, send)
            with beat.paused():
                _record(ctx, send, results, state, summary, forms)
        beat.ids = []
        if not lock.refresh():
            # held past its TTL (a long vendor back-off): another push may run now; stop
            # here, this batch is recorded, and ask for another task to pick up the rest
            log.warning("push of %s (lane %d) lost its lock after a slow batch; handing over", name, lane[0])
            summary.more = True
            return
    summary.more = True


class _Heartbeat:
    """Keeps a lane alive while its worker lives: renews the lane lock every ``lease / 3``
    seconds, and the lease of the rows it has claimed (``ids``) until they are recorded.

    ``push.lease_seconds`` can then be short (a minute): a worker killed outright stops beating,
    so another takes its lane and re-sends its batch a lease later, while a live lane slowed
    by the vendor (its back-off, a slow API) or the store is never taken over. Before, the
    lease had to outlast the slowest batch, and a dead lane waited five minutes; a call slowed
    past it let another worker send the newer decision and then landed the older write on top
    of it. Beaten for at most the task time limit (a call that never returns).

    The lane's own writes to its rows run inside ``paused()``, so a renewal never updates rows
    a recording transaction holds (two transactions locking the same rows in different order
    deadlock on PostgreSQL); a renewal leaves rows no longer ``sending`` alone."""

    def __init__(self, ctx: HubContext, lock):  # noqa: ANN001 - a hub.locks.Held
        self.ctx, self.lock = ctx, lock
        self.ids: list[int] = []
        self.lease = ctx.settings.push.lease_seconds
        self.cap = ctx.settings.celery.task_time_limit
        self._stop = threading.Event()
        self._writing = threading.Lock()
        self._thread = threading.Thread(target=self._beat, name="push-lease", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def paused(self) -> threading.Lock:
        """Hold while writing to the claimed rows: no renewal runs meanwhile."""
        return self._writing

    def _beat(self) -> None:
        started = utcnow()
        while not self._stop.wait(self.lease / 3):
            now = utcnow()
            if (now - started).total_seconds() > self.cap or not self.lock.refresh():
                return  # lost or beaten too long: the rows fall due again when the lease runs out
            with self._writing:
                ids = list(self.ids)
                if not ids:
                    continue
                try:
                    with self.ctx.store.begin() as conn:
                        push_store.extend_lease(conn, ids, now + timedelta(seconds=self.lease))
                except Exception:  # noqa: BLE001 - a store hiccup: the next beat tries again
                    log.warning("could not extend the lease of %d pushes", len(ids), exc_info=True)


def _send(connector, batch: list[PushRow]) -> dict[int, PushResult]:
    try:
        results = connector.push([r.request() for r in batch])
    except (RetryableError, FatalConnectorError) as exc:
        # auth, permissions or a spent limit block the pushes, queued with the reason, without
        # spending their attempts (hub.connector.results_of_error)
        return results_of_error([r.id for r in batch], exc)
    by_id = {res.push_id: res for res in results}
    for r in batch:
        by_id.setdefault(
            r.id, PushResult(push_id=r.id, status="retryable", reason="the connector returned no result for this push")
        )
    return by_id


def _record(
    ctx: HubContext,
    batch: list[PushRow],
    results: dict[int, PushResult],
    state: dict,
    summary: PushSummary,
    forms: StoredForms,
) -> None:
    now = utcnow()
    # when a push ended, on the hub's clock (decisions and their windows are on it; the same as
    # the wall's but in a demo or a test): learning skips a decision whose write landed after
    # its window closed (hub/store/learning.py learnable). Retry times stay on the wall's.
    ended = ctx.clock()
    cfg = ctx.settings.push
    summary.sent += len(batch)
    with ctx.store.begin() as conn:
        for r in batch:
            res = results[r.id]
            if res.status == "ok":
                push_store.mark(conn, [r.id], "done", ended, attempts_inc=1)
                # the store keeps the CRM's copy: what it holds of the write, not what was sent
                push_store.apply_to_identity(conn, r.identity, r.kind, forms.payload(r), state[r.identity.key()])
                summary.done += 1
            elif res.status == "blocked":  # the connector cannot write at all: no attempt is used
                when = now + timedelta(seconds=backoff(ctx, 0, res.retry_after))
                push_store.reschedule(conn, r.id, when, res.reason or "the connector is blocked", now, attempts_inc=0)
                summary.retrying += 1
                summary.deferrals[res.reason or "the connector is blocked"] += 1
            elif res.status == "retryable" and r.attempts + 1 < cfg.max_attempts:
                when = now + timedelta(seconds=backoff(ctx, r.attempts, res.retry_after))
                push_store.reschedule(conn, r.id, when, res.reason or "retryable error", now)
                summary.retrying += 1
                summary.deferrals[res.reason or "retryable error"] += 1
            else:
                reason = res.reason or "failed"
                if res.status == "retryable":
                    reason = f"gave up after {counted(r.attempts + 1, 'attempt')}: {reason}"
                push_store.mark(conn, [r.id], "failed", ended, error=reason, attempts_inc=1)
                log.debug("push %s to %s %s failed: %s", r.id, r.identity.connector, r.identity.external_id, reason)
                summary.failed += 1
                summary.failures[reason] += 1
