"""Find contacts a sync changed that no decision has looked at since: lost decide tasks.

Why: sync commits its pages (and cursor) before it fans out ``hub.decide`` messages. If the
broker loses those messages (a Redis restart without persistence, a flushed queue), the
changed contacts are never decided and the next sync will not report them again, because
their cursor has moved on. The store knows better than the broker: a contact whose
``changed_at`` is newer than its newest decision is owed one. ``hub.sweep`` (run by beat)
re-queues them; ``grace_seconds`` keeps it from racing decide tasks that are merely queued.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from hub.models import utcnow
from hub.pipeline.context import HubContext
from hub.store.decisions import from_batches
from hub.store.schema import contacts, decisions


def undecided_contacts(
    ctx: HubContext, grace_seconds: float, limit: int = 100_000, now: datetime | None = None
) -> list[int]:
    """Ids of contacts changed more than ``grace_seconds`` before ``now`` and not decided since."""
    cutoff = (now or utcnow()) - timedelta(seconds=grace_seconds)
    newest = (
        select(decisions.c.contact_id, func.max(decisions.c.created_at).label("at"))
        .where(from_batches())  # a real-time decision pushed nothing: the change is still owed
        .group_by(decisions.c.contact_id)
        .subquery()
    )
    q = (
        select(contacts.c.id)
        .select_from(contacts.outerjoin(newest, newest.c.contact_id == contacts.c.id))
        .where(contacts.c.changed_at < cutoff, (newest.c.at.is_(None)) | (newest.c.at < contacts.c.changed_at))
        .order_by(contacts.c.id)
        .limit(limit)
    )
    with ctx.store.connect() as conn:
        return list(conn.execute(q).scalars())
