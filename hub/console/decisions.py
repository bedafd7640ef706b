"""Console pages of decisions: search by e-mail, CRM record id or contact id with keyset paging,
and one decision's inspector (what was decided, why, what the engine logged, what was sent).

The inspector shows what the store holds per decision: the arm, the policy version, the
propensity, the final reason (the explanation names budgets and long-term overrules when they
changed the choice), and the engine's decide-time trace: per catalog action, eligible or what
excluded it, its score and its probability. Decisions logged before the trace existed show each
action's score under the model in use now, recomputed from the logged feature vector.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response

from hub.api.schemas import MAX_ID
from hub.api.state import ApiState, hub_state
from hub.console.render import logged_in, page, to_login
from hub.pipeline.context import HubContext
from hub.pipeline.learn import ensure_current
from hub.store import console_views, timeline
from hub.store.decisions import REALTIME_KEY_PREFIX

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE = 50


@router.get("/decisions", response_class=HTMLResponse)
def decisions(
    request: Request,
    q: str | None = None,
    arm: str | None = None,
    contact: str | None = None,
    before: int | None = None,
    state: ApiState = Depends(hub_state),
) -> Response:
    sess = logged_in(request, state)
    if sess is None:
        return to_login()
    q = (q or contact or "").strip()[:320]
    error = None
    before = before if before is not None and 0 < before <= MAX_ID else None
    with state.ctx.store.connect() as conn:
        ids = console_views.contacts_matching(conn, q) if q else None
        if q and not ids:
            error = console_views.unknown_contact(q)
        rows = (
            []
            if ids == []
            else timeline.decisions_with_pushes(
                conn, contact_ids=ids, arm=arm or None, before_id=before, limit=PAGE + 1
            )
        )
        arms = timeline.distinct_arms(conn)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return page(
        request,
        state,
        sess,
        "decisions.html",
        title="Decisions",
        decisions=rows,
        arms=arms,
        filters={"arm": arm or "", "q": q},
        next_before=rows[-1].decision.id if more and rows else None,
        paged=before is not None,
        error=error,
        no_decisions=console_views.NO_DECISIONS,
    )


def action_scores(ctx: HubContext, log: Any) -> dict[str, Any] | None:
    """Every catalog action's predicted reward (objective points) for the logged features,
    under the engine's model in use now; None when the decision was not the engine's or its
    feature schema is not the engine's any more."""
    from decision.engine import EnginePolicy

    engine = ctx.policy
    if log is None or not isinstance(engine, EnginePolicy) or log.feature_version != engine.feature_version:
        return None
    x = np.asarray([log.features], dtype=float)
    try:
        pred = engine.model.predict_many(x)[0] * engine.settings.engine.reward_scale
    except (ValueError, IndexError):
        return None  # a vector of another length: a schema this model does not read
    n_obs = engine.model.policy.n_obs_
    return {
        "version": engine.version,
        "rows": [
            {"action": a, "score": float(s), "evidence": int(n), "chosen": a == log.action}
            for a, s, n in zip(engine.ids, pred, n_obs, strict=True)
        ],
    }


def factor_parts(reason: str) -> list[str]:
    """The factors of a decision's reason, split at ``;`` and ``|``: what follows its head
    (``action (note): ``). The first colon outside parentheses ends the head, since a note
    has colons of its own ("segment value: +0.5 points learned from ...")."""
    depth = 0
    for i, ch in enumerate(reason):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == ":" and depth == 0:
            return [p.strip() for p in re.split(r"[;|]", reason[i + 1 :]) if p.strip()]
    return []


def trace_rows(log: Any) -> list[dict[str, Any]]:
    """The decide-time trace (decision/engine.py ``_trace``) as one row per catalog action."""
    t = (log.trace if log is not None else None) or {}
    ids = t.get("actions") or []
    n = len(ids)
    cols = {k: (t.get(k) or [None] * n) for k in ("excluded", "score", "probability")}
    if any(len(v) != n for v in cols.values()):
        return []  # a trace of another shape: show nothing rather than misalign
    return [
        {
            "action": a,
            "excluded": cols["excluded"][j],
            "score": cols["score"][j],
            "probability": cols["probability"][j],
            "chosen": a == log.action,
            "rules": a == t.get("rules_action"),
        }
        for j, a in enumerate(ids)
    ]


@router.get("/decisions/{decision_id}", response_class=HTMLResponse)
def inspector(
    request: Request, decision_id: int = Path(ge=1, le=MAX_ID), state: ApiState = Depends(hub_state)
) -> Response:
    sess = logged_in(request, state)
    if sess is None:
        return to_login()
    ctx = state.ctx
    with ctx.store.connect() as conn:
        ensure_current(ctx, conn)
        detail = console_views.decision_detail(conn, decision_id)
    if detail is None:
        return page(request, state, sess, "error.html", 404, title=f"There is no decision {decision_id}")
    log = detail["log"]
    reason = detail["decision"].explanation or ""
    return page(
        request,
        state,
        sess,
        "inspector.html",
        title=f"Decision {decision_id}",
        d=detail["decision"],
        log=log,
        parts=factor_parts(reason),
        realtime=detail["decision"].request_key.startswith(REALTIME_KEY_PREFIX),
        trace=trace_rows(log),
        scores=None if log is not None and log.trace else action_scores(ctx, log),
        pushes=detail["pushes"],
        approvals=detail["approvals"],
    )
