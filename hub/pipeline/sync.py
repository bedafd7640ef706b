"""Incremental sync of one connector: pages since the stored cursor, committed page by page.

Each page and its cursor commit in one transaction, so a crash re-reads at most one page and
never skips one. Malformed records are logged with their id and reason; the page goes on.

``on_commit`` hears of each committed page (stream, cursor, the contact ids it changed), so a
caller can hand those contacts to decide while a long sync goes on (``DecideFeed``): only
after the commit, so a page rolled back (lost lock) is never decided from.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from hub.connector import Connector
from hub.errors import ConnectorError
from hub.locks import Held, kept_alive
from hub.models import Activity, ActivityType, Contact, Page, RecordError, normalize_email, utcnow
from hub.outcomes_spec import DeclaredOutcome, field_change_activities, watched_fields
from hub.pipeline.context import HubContext
from hub.pipeline.usage import note_usage
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store import held as held_store
from hub.store import merge as merge_store
from hub.store import owners as owner_store
from hub.store import sync_state
from hub.store.planner import GrowthAnalyzer

log = logging.getLogger(__name__)
STREAMS = ("contacts", "activities")

Progress = Callable[[str, int], None]
#: (stream, the page's cursor, contact ids the page changed), called after the page committed
OnCommit = Callable[[str, str | None, set[int]], None]


@dataclass
class SyncResult:
    connector: str
    skipped: bool = False
    pages: int = 0
    records: int = 0
    rejects: int = 0
    created: int = 0
    deleted: int = 0
    merged: int = 0
    #: records of forgotten people not stored (hub/store/suppressions.py)
    suppressed: int = 0
    #: activities naming a contact not stored yet, held for it (hub/store/held.py)
    held: int = 0
    #: stopped at its time budget with pages left; the caller queues a continuation
    more: bool = False
    changed: set[int] = field(default_factory=set)
    new_activity_ids: list[int] = field(default_factory=list)
    #: why the sync failed, when the caller kept going (hub/pipeline/run.py ``keep_going``)
    error: str | None = None
    #: what a stream went on without ("<part> not synced: <why>", from ``Page.not_synced``)
    warnings: list[str] = field(default_factory=list)

    @property
    def updated(self) -> int:
        """Contacts stored before that this sync changed (their record, an identity, a new
        activity): every contact it created is in ``changed`` too, and counts as added only."""
        return max(0, len(self.changed) - self.created)


def sync_connector(
    ctx: HubContext,
    name: str,
    progress: Progress | None = None,
    on_commit: OnCommit | None = None,
    budget_seconds: float | None = None,
    deletions: bool = False,
) -> SyncResult:
    """Sync contacts, then activities (which need the contacts to resolve against).

    ``deletions``: the vendor said records were deleted (a webhook); the connector looks for
    deletions now rather than when its periodic look is due (``Connector.deletions_reported``).

    With ``budget_seconds`` the sync stops after the first page committed past that time and
    sets ``more``: a first sync of a big portal outlasts any task time limit, and a task killed
    at its limit leaves its lock to expire; stopping cleanly and continuing from the committed
    cursor loses nothing and keeps syncs of one connector strictly one after another.

    A sync that fails after committing pages raises with what it committed as the exception's
    ``partial`` (a :class:`SyncResult`): those pages' activities are stored and will not be read
    again, so the caller must still credit them to their decisions (:func:`committed_of`)."""
    result = SyncResult(connector=name)
    connector = ctx.connector(name)
    ttl = ctx.settings.push.lease_seconds  # a dead worker's sync lock is free after this
    with (
        ctx.locks.hold(f"sync:{name}", ttl) as held,
        kept_alive(held, ttl, ctx.settings.celery.task_time_limit, on_beat=lambda: _beat(ctx, name)) as lock,
    ):
        if not lock.acquired:
            log.info("sync of %s skipped: another sync of it is running", name)
            result.skipped = True
            return result
        # start/finish lines let an operator (and bench/chaos.py) see that syncs never overlap
        log.info("sync of %s started", name)
        connector.deletions_reported = deletions
        try:
            deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
            _sync_streams(ctx, name, connector, lock, result, progress, on_commit, deadline)
        except Exception as exc:
            exc.partial = result  # type: ignore[attr-defined]
            raise
        finally:
            connector.deletions_reported = False
            note_usage(ctx, name)
            log.info("sync of %s finished: %d records, %d pages", name, result.records, result.pages)
            if result.suppressed:
                # counted, never named: these are people who asked to be forgotten
                log.info("sync of %s: %d records of forgotten people not stored", name, result.suppressed)
            if result.held:
                log.info("sync of %s: %d activities held until their contact is stored", name, result.held)
    return result


def _beat(ctx: HubContext, name: str) -> None:
    """Stamp the running streams alive: `hub status` tells a live sync from a killed one by it."""
    with ctx.store.begin() as conn:
        sync_state.beat(conn, name, utcnow())


def _reason(exc: BaseException) -> str:
    """The failure as the sync state shows it: a connector's message, or the error's type too."""
    return str(exc) if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"[:500]


def committed_of(exc: BaseException) -> SyncResult | None:
    """What a failed :func:`sync_connector` had committed before it failed (None: nothing known)."""
    partial = getattr(exc, "partial", None)
    return partial if isinstance(partial, SyncResult) else None


class _LockLost(Exception):
    """Raised inside a page's transaction to roll it back when the sync lock is gone."""


def _log_unusable_emails(records: Sequence[Contact]) -> None:
    """Name each record stored without an e-mail value it holds that is no address: a CRM's
    record is real whatever its e-mail cell says, so it is kept, not rejected, but the owner of
    the data should hear which one (by id; the value itself is personal and not logged)."""
    for c in records:
        if any(e and e.strip() and normalize_email(e) is None for e in c.emails):
            ident = c.identities[0] if c.identities else None
            who = f"{ident.connector} {ident.object_type} {ident.external_id}" if ident else "a record"
            log.warning("%s: its e-mail value is not an e-mail address; stored without it", who)


def _store_page(
    conn: Connection,
    stream: str,
    page: Page,
    result: SyncResult,
    declared: Sequence[DeclaredOutcome] = (),
    now: datetime | None = None,
) -> tuple[list[RecordError], set[int]]:
    """Store one page in the caller's transaction; returns its rejects and the contacts it
    changed. If the caller then rolls back (lost lock), ``result.changed`` keeps those ids:
    deciding them is harmless, decide reads the store, and the next sync reads the page again.
    ``now``: the hub's clock (a simulated one in the demo), the time a change is stamped with,
    as decisions are: the two are compared (what a contact is owed, a write withdrawn)."""
    now = now or utcnow()
    if stream == "contacts":
        _log_unusable_emails(page.items)
        up = contact_store.upsert_contacts(conn, page.items, now, watch=watched_fields(declared))
        # a merge into a record refused on this page would read as the loser's deletion (its
        # target is not stored) and take its history with it: it waits for the survivor, whose
        # every read names the records merged into it again
        refused = {r.external_id for r in (*page.rejects, *up.rejects)}
        moves = [m for m in page.moved if m.target.external_id not in refused]
        moved = merge_store.move_identities(conn, moves, now)
        # activities read before their contact (created between a sync's two streams) were held
        released = activity_store.release_held(conn, page.items, now)
        result.new_activity_ids += released.new_ids
        result.suppressed += released.suppressed
        gone = contact_store.remove_identities(conn, page.deleted, now)
        if page.live is not None:
            missing = contact_store.reconcile_identities(conn, page.live, now)
            gone.changed |= missing.changed
            gone.deleted += missing.deleted
        changed = up.changed | moved.changed | gone.changed | released.contacts
        result.merged += moved.updated
        result.deleted += moved.deleted
        if up.opted_out:
            ins = activity_store.insert_activities(conn, unsubscribes(conn, up.opted_out), now)
            result.new_activity_ids += ins.new_ids
        reached = field_change_activities(declared, up.field_changes, up.changed_when)
        if reached:  # declared field outcomes (lifecycle_stage becoming customer, ...)
            ins = activity_store.insert_activities(conn, reached, now)
            result.new_activity_ids += ins.new_ids
        result.created += up.created
        result.deleted += gone.deleted
        result.suppressed += up.suppressed
        rejects = list(page.rejects) + up.rejects
    else:
        # one naming a contact not stored yet is held for it: the cursor will not come back
        ins = activity_store.insert_activities(conn, page.items, now, hold=True)
        changed = set(ins.contacts)
        result.new_activity_ids += ins.new_ids
        result.held += len(ins.held)
        result.suppressed += ins.suppressed
        rejects = list(page.rejects) + ins.rejects
    result.changed |= changed
    return rejects, changed


def _sync_streams(
    ctx: HubContext,
    name: str,
    connector: Connector,
    lock: Held,
    result: SyncResult,
    progress: Progress | None,
    on_commit: OnCommit | None,
    deadline: float | None = None,
) -> None:
    """Each page and its cursor in one transaction (see the module docstring)."""
    last_commit = datetime.now()  # local time, like the log lines: when our last page committed
    growth = GrowthAnalyzer(ctx.store)  # a first sync fills tables the planner believes empty
    for stream in STREAMS:
        with ctx.store.begin() as conn:
            sync_state.mark_started(conn, name, stream, ctx.clock(), utcnow())
            cursor = sync_state.get_cursor(conn, name, stream)
            if stream == "activities":  # held so long, their contact is not coming (warned by id)
                held_store.expire(conn)
        pull = connector.pull_contacts if stream == "contacts" else connector.pull_activities
        notes: list[str] = []  # parts this stream went on without: its status says so, as a warning
        try:
            for page in pull(cursor):
                for part, why in page.not_synced.items():
                    notes.append(f"{part} not synced: {why}")
                    log.warning("sync of %s: %s not synced: %s", name, part, why)
                try:
                    with ctx.store.begin() as conn:
                        rejects, changed = _store_page(
                            conn, stream, page, result, ctx.settings.decision.outcomes, ctx.clock()
                        )
                        sync_state.advance_cursor(conn, name, stream, page.cursor, len(page.items), len(rejects))
                        # commit only while we still hold the lock: if it expired or its Redis
                        # restarted, another sync may be running; roll this page back and stop
                        if not lock.refresh():
                            raise _LockLost
                except _LockLost:
                    log.warning(
                        "sync of %s lost its lock; last page rolled back, stopping (last commit at %s)",
                        name,
                        last_commit.isoformat(sep=" ", timespec="milliseconds"),
                    )
                    return
                last_commit = datetime.now()
                growth.added(len(page.items))
                for r in rejects:
                    log.warning("%s %s: skipped record %s: %s", name, stream, r.external_id[:120], r.reason)
                result.pages += 1
                result.records += len(page.items)
                result.rejects += len(rejects)
                if progress:
                    progress(stream, len(page.items))
                if on_commit and changed:
                    on_commit(stream, page.cursor, changed)
                if deadline is not None and time.monotonic() > deadline:
                    result.more = True
                    with ctx.store.begin() as conn:
                        sync_state.mark_finished(conn, name, stream, ctx.clock(), "continuing")
                    log.info("sync of %s used its time budget; continuing from the committed cursor", name)
                    return
        except Exception as exc:  # any failure, not only a connector's: the stream must not stay "running"
            with ctx.store.begin() as conn:
                sync_state.mark_finished(conn, name, stream, ctx.clock(), "failed", _reason(exc))
            raise
        result.warnings += notes
        with ctx.store.begin() as conn:
            status, note = ("warning", "; ".join(notes)) if notes else ("ok", None)
            sync_state.mark_finished(conn, name, stream, ctx.clock(), status, note)
    _sync_owners(ctx, name, connector)


def _sync_owners(ctx: HubContext, name: str, connector: Connector) -> None:
    """Store the CRM's owners and which are active, after every stream synced, so routing
    stops sending leads to an owner deactivated in the CRM. A failed read keeps the owners
    read before: the contacts are committed, and the next sync reads the owners again."""
    try:
        owners = connector.owners()
    except ConnectorError as exc:
        log.warning("sync of %s: could not read its owners, keeping those read before: %s", name, exc)
        return
    if owners is None:
        return
    with ctx.store.begin() as conn:
        owner_store.replace(conn, name, {connector.canonical_owner(o): a for o, a in owners.items()}, ctx.clock())
    inactive = sum(not active for active in owners.values())
    if inactive:
        log.info("sync of %s: %d owner(s) inactive in the CRM get no leads", name, inactive)


class DecideFeed:
    """Hands the contacts a running sync committed to decide, a full chunk at a time, once the
    sync has run ``after_seconds``; ``finish`` sends the rest.

    Why not from the first page: a sync reads contacts, then activities. A contact decided
    from its record page, before its page views are read, gets a decision that its activities
    then overturn: the CRM sees e.g. ``email_nurture`` and then ``sales_outreach`` (a real
    workflow might send the nurture email). A short sync therefore decides once, at its end.
    A long one (the first sync of a big portal, a backlog) would leave contacts waiting for
    many minutes, and the beat sweep already decides contacts changed longer ago than its
    grace (300 s); past ``after_seconds`` (that grace by default) the feed hands them out
    per committed chunk instead, in order, as soon as they are committed.

    Request keys name the task and the cursor of the page that filled the chunk: a task run
    again (same id, retry) after its cursor moved on gets new keys; a redelivered one that
    repeats the same pages gets the same keys, which decide treats as done.
    """

    def __init__(
        self,
        chunk_size: int,
        send: Callable[[list[int], str], None],
        key: str,
        after_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.chunk_size, self.send, self.key = chunk_size, send, key
        self.clock = clock
        self.start, self.after_seconds = clock(), after_seconds
        self.pending: dict[int, None] = {}  # insertion-ordered set
        self.sent_chunks = 0
        self._at = "start"

    def committed(self, stream: str, cursor: str | None, ids: set[int]) -> None:
        """Called after a page committed (``sync_connector``'s ``on_commit``)."""
        self.pending.update(dict.fromkeys(sorted(ids)))
        self._at = f"{stream[0]}{hashlib.sha256(str(cursor).encode()).hexdigest()[:12]}"
        if self.clock() - self.start < self.after_seconds:
            return
        k = 0
        while len(self.pending) >= self.chunk_size:
            self._send(f"{self._at}-{k}")
            k += 1

    def finish(self) -> None:
        k = 0
        while self.pending:
            self._send(f"{self._at}-end{k}")
            k += 1

    def _send(self, suffix: str) -> None:
        part = list(self.pending)[: self.chunk_size]
        self.send(part, f"{self.key}-{suffix}")
        for i in part:
            del self.pending[i]
        self.sent_chunks += 1


def unsubscribes(conn, opted_out: dict[int, datetime]) -> list[Activity]:
    """An opt-out that arrives as a flag on the record (not as an email event) is still an
    unsubscribe outcome; skipped when the contact already has one from the last two days."""
    from hub.store.profiles import load_profiles

    profiles = load_profiles(conn, opted_out)
    out = []
    for cid, at in opted_out.items():
        last = (profiles.get(cid) or {}).get("last", {}).get("unsubscribe")
        if last is not None and abs(at.timestamp() - last) < 2 * 86_400:
            continue
        out.append(
            Activity(
                contact_id=cid,
                type=ActivityType.UNSUBSCRIBE,
                channel="email",
                occurred_at=at,
                properties={"via": "opt-out flag"},
                source="hub",
                external_id=f"optout:{cid}:{int(at.timestamp())}",
            )
        )
    return out
