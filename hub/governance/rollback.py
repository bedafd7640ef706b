"""Model rollback with its audit entry: a rollback changes what every worker decides with,
so it is a human action like an approval and is logged with who and why."""

from __future__ import annotations

from hub.governance import audit
from hub.pipeline.context import HubContext
from hub.pipeline.learn import rollback


def audited_rollback(ctx: HubContext, version: int, by: str, reason: str | None, name: str | None = None) -> int:
    new = rollback(ctx, version, name)
    with ctx.store.begin() as conn:
        audit.record(
            conn,
            ctx.clock(),
            by,
            "model_rollback",
            f"model {name or 'engine'} v{version}",
            reason,
            {"new_version": new},
        )
    return new
