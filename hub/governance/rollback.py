"""Model rollback with its audit entry: a rollback changes what every worker decides with,
so it is a human action like an approval and is logged with who and why."""

from __future__ import annotations

from hub.governance import audit
from hub.pipeline.context import HubContext
from hub.pipeline.learn import model_name, rollback


def audited_rollback(ctx: HubContext, version: int, by: str, reason: str | None, name: str | None = None) -> int:
    """Roll back and log it in one transaction; returns the new (live) version."""
    name = model_name(ctx, name)
    with ctx.store.begin() as conn:
        new = rollback(ctx, version, name, conn)
        audit.record(
            conn,
            ctx.clock(),
            by,
            "model_rollback",
            f"model {name} v{version}",
            reason,
            {"new_version": new},
        )
    return new
