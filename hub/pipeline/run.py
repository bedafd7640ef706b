"""The embedded runner: sync -> outcomes -> learn -> decide -> push in one process, no broker.

Same functions the Celery tasks call, run in order; locks are in-process. Besides the contacts
a sync changed, it decides again for contacts whose newest decision is older than
``decision.engine.redecide_after_days`` (a non-responder's window has closed: time for the
next action), so a demo loop keeps acting and learning without Celery (there, ``hub.redecide``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.errors import ConnectorError
from hub.governance.step import GovernanceReport, governance_step
from hub.pipeline.context import HubContext
from hub.pipeline.decide import DecideResult, decide_contacts
from hub.pipeline.learn import LearnReport, learn_step
from hub.pipeline.outcomes import record_outcomes
from hub.pipeline.push import PushSummary, push_until_drained
from hub.pipeline.scoring import RetrainResult, retrain_if_due
from hub.pipeline.sweep import undecided_contacts
from hub.pipeline.sync import SyncResult, committed_of, sync_connector

log = logging.getLogger(__name__)


def chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


@dataclass
class RunReport:
    syncs: list[SyncResult] = field(default_factory=list)
    decide: DecideResult = field(default_factory=DecideResult)
    pushes: list[PushSummary] = field(default_factory=list)
    outcomes: int = 0
    learn: LearnReport = field(default_factory=LearnReport)
    governance: GovernanceReport = field(default_factory=GovernanceReport)
    scoring: RetrainResult | None = None


def run_once(
    ctx: HubContext, on_step: Callable[[str, int, int], None] | None = None, *, keep_going: bool = False
) -> RunReport:
    """One pass. A connector whose sync fails stops the pass, unless ``keep_going``: then the
    error is kept on its ``SyncResult`` (and in the store's sync state) and the rest runs, as
    it does under Celery, where one connector's failed sync task stops nothing else; so
    monitoring still runs and raises the connector's sync alert (the demo keeps going)."""
    report = RunReport()
    changed: set[int] = set()
    activity_ids: list[int] = []
    names = list(ctx.settings.enabled_connectors())
    for name in names:
        try:
            res = sync_connector(ctx, name)
        except ConnectorError as exc:
            res = committed_of(exc) or SyncResult(connector=name)
            if not keep_going:
                record_outcomes(ctx, activity_ids + res.new_activity_ids)  # committed: never read again
                raise
            res.error = str(exc)
        report.syncs.append(res)
        changed |= res.changed
        activity_ids += res.new_activity_ids
    report.outcomes = record_outcomes(ctx, activity_ids)
    report.learn = learn_step(ctx)
    report.governance = governance_step(ctx)  # expire approvals; monitoring alerts when due
    report.scoring = retrain_scoring_if_due(ctx)  # logs a failure and goes on, like its Celery task
    changed |= due_for_decision(ctx)
    # what no sync of this run brought in but is owed a decision: contacts from `hub import`,
    # a Segment identify, a decide a crash cut short (under Celery, the beat's hub.sweep)
    changed |= set(undecided_contacts(ctx, 0.0, now=ctx.clock()))
    key = f"run-{uuid.uuid4().hex[:12]}"
    parts = chunks(sorted(changed), ctx.settings.decision.chunk_size)
    for i, part in enumerate(parts):
        r = decide_contacts(ctx, part, key)
        report.decide.decided += r.decided
        report.decide.pushes += r.pushes
        report.decide.held += r.held
        report.decide.connectors |= r.connectors
        if on_step:
            on_step("decide", i + 1, len(parts))
    report.pushes.extend(push_until_drained(ctx, name) for name in names)
    return report


def retrain_scoring_if_due(ctx: HubContext) -> RetrainResult | None:
    """Celery beat runs ``hub.train_scoring`` on its own schedule; the embedded runner asks here."""
    s = ctx.settings.decision.scoring
    if s is None or not s.enabled:
        return None
    now = ctx.clock()
    try:
        result = retrain_if_due(ctx.store, now, s, ctx.scoring_tried_at)
    except Exception:  # noqa: BLE001 - any fit or store error; the live model (or points) keeps scoring
        # Under Celery a failed hub.train_scoring fails alone; here it must not stop decide and
        # push. The try counts as an attempt, so it is retried after retrain_every_hours, not
        # on every pass.
        log.exception("lead scoring retrain failed; the live model (or the points score) keeps scoring")
        ctx.scoring_tried_at = now
        return None
    if result is not None:
        ctx.scoring_tried_at = now
    return result


def redecide_cutoff(ctx: HubContext) -> datetime | None:
    """Contacts whose newest decision is older than this are due again (None: re-decide is off)."""
    days = ctx.settings.decision.engine.redecide_after_days
    if days is None or ctx.settings.decision.policy != "engine":
        return None
    return ctx.clock() - timedelta(days=days)


def due_for_decision(ctx: HubContext) -> set[int]:
    """Contacts whose newest decision is older than the re-decide interval (``hub run --once``
    here; under Celery the beat's ``hub.redecide``)."""
    from hub.store.queries import stale_contacts

    cutoff = redecide_cutoff(ctx)
    if cutoff is None:
        return set()
    with ctx.store.connect() as conn:
        return set(stale_contacts(conn, cutoff))
