"""Keep each connector's API usage in the store after a sync or a push (see hub/store/usage.py)."""

from __future__ import annotations

import logging

from hub.models import utcnow
from hub.pipeline.context import HubContext
from hub.store import usage as usage_store

log = logging.getLogger(__name__)


def note_usage(ctx: HubContext, name: str) -> None:
    """Never fails the step it follows: usage is for display."""
    try:
        usage = ctx.connector(name).usage()
        if usage:
            with ctx.store.begin() as conn:
                usage_store.record(conn, name, usage, utcnow())
    except Exception:  # noqa: BLE001 - a display aid must not turn a good sync or push into a failure
        log.warning("could not record the API usage of %s", name, exc_info=True)
