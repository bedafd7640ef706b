"""`hub decisions`: what the hub decided, newest first, from the terminal.

The console's Decisions page reads the same rows (hub/store/timeline.py): each decision with its
contact, arm, actions, the reason in plain words and what its pushes became. Without a CRM
connector (data brought in with `hub import`) this is where a decision is seen at all.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hub.cli.common import ConfigOpt, JsonOpt, fail, load_config, out, print_json, say, table
from hub.reports.numbers import utc_time


def decisions(
    query: Annotated[
        str | None, typer.Argument(help="A contact's e-mail, CRM record id or contact id (default: every contact).")
    ] = None,
    config: ConfigOpt = None,
    arm: Annotated[str | None, typer.Option(help="Only this experiment arm (engine, holdout, ...).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
    json_: JsonOpt = False,
) -> None:
    """Decisions newest first: contact, arm, actions, the reason, and what the pushes became."""
    from hub.store import Store
    from hub.store.console_views import NO_DECISIONS, contacts_matching, unknown_contact
    from hub.store.timeline import decisions_with_pushes

    store = Store(load_config(config).store_url, must_exist=True)  # missing or down: exit 1 (HubGroup)
    try:
        with store.connect() as conn:
            ids = contacts_matching(conn, query) if query else None
            if ids == []:
                raise fail(unknown_contact(query))
            rows = decisions_with_pushes(conn, contact_ids=ids, arm=arm, limit=limit)
    finally:
        store.dispose()
    if json_:
        print_json([_json(v) for v in rows])
        return
    if not rows:
        say(NO_DECISIONS)
        return
    t = table("id", "when (UTC)", "contact", "arm", "actions", "reason", "pushes", wrap=("actions", "reason"))
    for v in rows:
        d = v.decision
        t.add_row(
            str(d.id),
            utc_time(d.created_at, seconds=True),  # as the console's Decisions page
            v.contact_email or str(d.contact_id),
            d.arm,
            "; ".join(v.action_lines()),
            d.explanation or "",
            ", ".join(v.push_lines()),
        )
    out.print(t)
    if len(rows) == limit:
        say(f"The newest {limit:,} shown; there may be more: --limit N, or --json for scripts.")


def _json(v: Any) -> dict[str, Any]:  # a hub.store.timeline.DecisionView
    d = v.decision
    return {
        "id": d.id,
        "created_at": d.created_at.isoformat(),
        "contact_id": d.contact_id,
        "contact_email": v.contact_email,
        "arm": d.arm,
        "policy": d.policy,
        "policy_version": d.policy_version,
        "actions": [{"kind": a.kind.value, "connector": a.connector, "payload": a.payload} for a in d.actions],
        "explanation": d.explanation,
        "pushes": [
            {"connector": p.connector, "record": p.external_id, "kind": p.kind, "state": p.state, "error": p.last_error}
            for p in v.pushes
        ],
    }
