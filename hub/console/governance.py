"""Console pages of governance: Approvals (approve / reject forms, CSRF) and the overview's
alerts and kill switches. The decider recorded is the logged-in console user."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.api.problems import Problem
from hub.api.schemas import MAX_ID
from hub.api.state import ApiState, hub_state
from hub.console import session as sessions
from hub.console.render import current, form, page, to_login
from hub.errors import GovernanceError
from hub.governance import approvals, killswitch
from hub.governance.alerts import list_alerts

router = APIRouter(prefix="/console", include_in_schema=False)


def governance_summary(state: ApiState) -> dict:
    """What the overview shows: open alerts, kill switches on, approvals waiting."""
    with state.ctx.store.connect() as conn:
        return {
            "alerts": list_alerts(conn, "open", 50),
            "switches": [s for s in killswitch.states(conn, state.settings.governance).values() if s.on],
            "waiting": approvals.counts(conn).get("awaiting", 0),
        }


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = current(request, state)
    if sess is None or not sess.user:
        return to_login()
    ctx = state.ctx
    with ctx.store.begin() as conn:
        approvals.expire_due(conn, ctx.clock())
        waiting = approvals.list_approvals(conn, "awaiting", 200)
        recent = [a for a in approvals.list_approvals(conn, None, 50) if a.state != "awaiting"]
    return page(request, state, sess, "approvals.html", title="Approvals", waiting=waiting, recent=recent)


@router.post("/approvals/{approval_id}")
async def approvals_decide(
    request: Request, approval_id: int = Path(ge=1, le=MAX_ID), state: ApiState = Depends(hub_state)
) -> Response:
    sess = current(request, state)
    if sess is None or not sess.user:
        return to_login()
    data = await form(request)
    if not sessions.csrf_ok(sess, data.get("csrf")):
        raise Problem(403, "Bad CSRF token", "reload the page and try again")
    verdict = data.get("decision")
    if verdict not in ("approve", "reject"):
        raise Problem(422, "Invalid request", "decision must be approve or reject")
    note = (data.get("note") or "").strip()[:1000] or None
    ctx = state.ctx
    try:
        with ctx.store.begin() as conn:
            a = approvals.decide(conn, approval_id, verdict, sess.user, note, ctx.clock())
        msg = f"Approval {approval_id} {a.state} by {sess.user}."
        if a.state == "approved":
            msg += " The next push run sends it."
    except GovernanceError as exc:
        msg = str(exc)
    return RedirectResponse(f"/console/approvals?flash={quote(msg)}", status_code=303)
