"""Incremental sync of one connector: pages since the stored cursor, committed page by page.

Each page and its cursor commit in one transaction, so a crash re-reads at most one page and
never skips one. Malformed records are logged with their id and reason; the page goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.errors import ConnectorError
from hub.pipeline.context import HubContext
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store import sync_state

log = logging.getLogger(__name__)
STREAMS = ("contacts", "activities")

Progress = Callable[[str, int], None]


@dataclass
class SyncResult:
    connector: str
    skipped: bool = False
    pages: int = 0
    records: int = 0
    rejects: int = 0
    created: int = 0
    deleted: int = 0
    changed: set[int] = field(default_factory=set)
    new_activity_ids: list[int] = field(default_factory=list)


def sync_connector(ctx: HubContext, name: str, progress: Progress | None = None) -> SyncResult:
    """Sync contacts, then activities (which need the contacts to resolve against)."""
    result = SyncResult(connector=name)
    connector = ctx.connector(name)
    with ctx.locks.hold(f"sync:{name}", ctx.settings.celery.task_time_limit) as lock:
        if not lock.acquired:
            log.info("sync of %s skipped: another sync of it is running", name)
            result.skipped = True
            return result
        for stream in STREAMS:
            with ctx.store.begin() as conn:
                sync_state.mark_started(conn, name, stream)
                cursor = sync_state.get_cursor(conn, name, stream)
            pull = connector.pull_contacts if stream == "contacts" else connector.pull_activities
            try:
                for page in pull(cursor):
                    with ctx.store.begin() as conn:
                        if stream == "contacts":
                            up = contact_store.upsert_contacts(conn, page.items)
                            gone = contact_store.remove_identities(conn, page.deleted)
                            result.changed |= up.changed | gone.changed
                            result.created += up.created
                            result.deleted += gone.deleted
                            rejects = list(page.rejects) + up.rejects
                        else:
                            ins = activity_store.insert_activities(conn, page.items)
                            result.changed |= ins.contacts
                            result.new_activity_ids += ins.new_ids
                            rejects = list(page.rejects) + ins.rejects
                        sync_state.advance_cursor(conn, name, stream, page.cursor, len(page.items), len(rejects))
                    for r in rejects:
                        log.warning("%s %s: skipped record %s: %s", name, stream, r.external_id, r.reason)
                    lock.refresh()
                    result.pages += 1
                    result.records += len(page.items)
                    result.rejects += len(rejects)
                    if progress:
                        progress(stream, len(page.items))
            except ConnectorError as exc:
                with ctx.store.begin() as conn:
                    sync_state.mark_finished(conn, name, stream, "failed", str(exc))
                raise
            with ctx.store.begin() as conn:
                sync_state.mark_finished(conn, name, stream, "ok")
    return result
