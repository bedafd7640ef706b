"""Console pages of governance: Approvals (one at a time or in bulk, each with its decision's
explanation), Alerts (acknowledge) with the kill switches (flip), model rollback, the audit
log and the effective config (secrets masked).

Routes only parse the form and call hub/governance, the same functions as the CLI
(hub/cli/governance.py, `hub model rollback`); every change writes its audit entry there,
in the change's transaction. The actor recorded is the logged-in console user.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import yaml
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response

from hub.api.schemas import MAX_ID
from hub.api.state import ApiState, hub_state
from hub.console.render import back, checked_form, logged_in, page, to_login
from hub.console.session import Session
from hub.errors import GovernanceError, HubError
from hub.governance import approvals, audit, killswitch
from hub.governance.alerts import acknowledge, list_alerts
from hub.governance.rollback import audited_rollback
from hub.reports.numbers import counted
from hub.secrets import masked
from hub.store import console_views
from hub.store.held import HOLD_DAYS

router = APIRouter(prefix="/console", include_in_schema=False)
MAX_BULK = 200


def _ids(values: list[str]) -> list[int]:
    """The ticked ids of a bulk form (ASCII digits in range; anything else is ignored)."""
    return sorted({int(v) for v in values if re.fullmatch(r"[0-9]{1,18}", v) and 0 < int(v) <= MAX_ID})


def _sentence(text: str) -> str:
    """A governance error's message (written to follow "error:" in the CLI) as a sentence of its own."""
    return text[:1].upper() + text[1:]


def governance_summary(state: ApiState) -> dict:
    """What the overview shows: open alerts, kill switches on, approvals waiting, and the lines
    `hub status` prints below them (people forgotten, activities held for a contact)."""
    with state.ctx.store.connect() as conn:
        forgotten, waiting_activities = console_views.forgotten_and_held(conn)
        return {
            "alerts": list_alerts(conn, "open", 50),
            "switches": [s for s in killswitch.states(conn, state.settings.governance).values() if s.on],
            "waiting": approvals.counts(conn).get("awaiting", 0),
            "suppressed": forgotten,
            "held": waiting_activities,
            "hold_days": HOLD_DAYS,
        }


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = logged_in(request, state)
    if sess is None:
        return to_login()
    return _approvals(request, state, sess)


def _approvals(
    request: Request, state: ApiState, sess: Session, code: int = 200, ticked: Iterable[int] = (), error: str = ""
) -> Response:
    """The Approvals page; a refused form comes back with the user's ticks kept and ``error`` said."""
    ctx = state.ctx
    with ctx.store.begin() as conn:
        approvals.expire_due(conn, ctx.clock())
        waiting = approvals.list_approvals(conn, "awaiting", MAX_BULK)
        recent = [a for a in approvals.list_approvals(conn, None, 50) if a.state != "awaiting"]
        why = console_views.explanations(conn, [a.decision_id for a in waiting])
    return page(
        request,
        state,
        sess,
        "approvals.html",
        code,
        title="Approvals",
        waiting=waiting,
        recent=recent,
        why=why,
        ticked=set(ticked),
        error=error or None,
    )


def _decide_many(state: ApiState, ids: list[int], verdict: str, by: str, note: str | None) -> str:
    """Decide each and say what happened. What the system did instead (expired it, or withdrew it:
    the person opted out, a newer decision replaced it) is worded from the stored ``decided_by``,
    never as the user's doing."""
    ctx = state.ctx
    asked = "approved" if verdict == "approve" else "rejected"
    done: list[int] = []
    instead: list[approvals.ApprovalView] = []
    problems = []
    for approval_id in ids:  # one transaction each: one refusal does not undo the others
        try:
            with ctx.store.begin() as conn:
                a = approvals.decide(conn, approval_id, verdict, by, note, ctx.clock())  # type: ignore[arg-type]
            if a.state == asked:
                done.append(approval_id)
            else:
                instead.append(a)
        except HubError as exc:  # refused, not found, already decided
            problems.append(str(exc))
            if verdict == "reject" and not note:
                break  # the same refusal for every one
    if len(ids) == 1 and done:
        msg = f"Approval {ids[0]} {asked} by {by}."
    elif done:
        msg = f"{len(done)} {asked} ({', '.join(map(str, done[:10]))}{'…' if len(done) > 10 else ''}) by {by}."
    else:
        msg = "" if instead else "Nothing decided."
    if done and asked == "approved":
        msg += " The next push run sends the approved ones."
    for a in instead[:3]:
        why = f" ({a.note})" if a.note and a.note != a.state else ""
        msg += f" Approval {a.id} was not {asked}: {a.state} by {a.decided_by}{why}."
    if len(instead) > 3:
        msg += f" {len(instead) - 3} more were not {asked}: see Recently decided."
    return " ".join([msg, *map(_sentence, problems[:3])]).strip()


#: the governance error names the CLI's --note; a console user has a box instead
NOTE_NEEDED = "A rejection needs a note: write why in the box, then Reject ticked."


@router.post("/approvals/bulk")
async def approvals_bulk(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = logged_in(request, state)
    if sess is None:
        return to_login()
    data = await checked_form(request, sess, max_fields=MAX_BULK + 5)
    verdict = data.get("decision")
    if verdict not in ("approve", "reject"):
        return back("/console/approvals", "Choose Approve or Reject.")
    ids = _ids(data.many("id"))
    if not ids:
        return back("/console/approvals", "Tick at least one approval first.")
    note = (data.get("note") or "").strip()[:1000] or None
    if verdict == "reject" and note is None:  # the page again, as ticked: only the note is missing
        return _approvals(request, state, sess, 400, ticked=ids, error=NOTE_NEEDED)
    return back("/console/approvals", _decide_many(state, ids, verdict, sess.user or "", note))


@router.post("/approvals/{approval_id}")
async def approvals_decide(
    request: Request, approval_id: int = Path(ge=1, le=MAX_ID), state: ApiState = Depends(hub_state)
) -> Response:
    sess = logged_in(request, state)
    if sess is None:
        return to_login()
    data = await checked_form(request, sess)
    verdict = data.get("decision")
    if verdict not in ("approve", "reject"):
        return back("/console/approvals", "Choose Approve or Reject.")
    note = (data.get("note") or "").strip()[:1000] or None
    if verdict == "reject" and note is None:
        return back("/console/approvals", NOTE_NEEDED)
    return back("/console/approvals", _decide_many(state, [approval_id], verdict, sess.user or "", note))


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = logged_in(request, state)
    if sess is None:
        return to_login()
    with state.ctx.store.connect() as conn:
        open_ = list_alerts(conn, "open", 200)
        acked = list_alerts(conn, "acknowledged", 50)
        switches = list(killswitch.states(conn, state.settings.governance).values())
    return page(request, state, sess, "alerts.html", title="Alerts", alerts=open_, acked=acked, switches=switches)


@router.post("/alerts/ack")
async def alerts_ack(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = logged_in(request, state)
    if sess is None:
        return to_login()
    data = await checked_form(request, sess, max_fields=MAX_BULK + 5)
    ids = _ids(data.many("id"))
    if not ids:
        return back("/console/alerts", "Tick at least one alert first.")
    note = (data.get("note") or "").strip()[:1000] or None
    ctx = state.ctx
    released: set[str] = set()
    acked, problems = [], []
    for alert_id in ids:
        try:
            with ctx.store.begin() as conn:
                released.update(acknowledge(conn, alert_id, sess.user or "", note, ctx.clock()))
            acked.append(alert_id)
        except HubError as exc:
            problems.append(str(exc))
    # none acknowledged (a colleague was first, or it is gone): say only why, not "Acknowledged 0 alerts"
    msg = f"Acknowledged {counted(len(acked), 'alert')} by {sess.user}." if acked else ""
    if released:
        msg += f" Kill switch off again: {', '.join(sorted(released))}."
    return back("/console/alerts", " ".join([msg, *map(_sentence, problems[:3])]).strip())


@router.post("/killswitch/{use_case}")
async def killswitch_flip(request: Request, use_case: str, state: ApiState = Depends(hub_state)) -> Response:
    sess = logged_in(request, state)
    if sess is None:
        return to_login()
    data = await checked_form(request, sess)
    to = data.get("to")
    if to not in ("on", "off"):  # not "anything else is off": a bad form must not flip or audit
        return back("/console/alerts", "Choose on or off.")
    on = to == "on"
    note = (data.get("note") or "").strip()[:1000] or None
    ctx = state.ctx
    try:
        with ctx.store.begin() as conn:
            changed = killswitch.flip(conn, use_case, on, sess.user or "", note, ctx.clock())
            st = killswitch.states(conn, ctx.settings.governance)[use_case]
    except GovernanceError as exc:
        return back("/console/alerts", str(exc))
    word = "on (legacy behaviour from the next batch)" if on else "off (back to the engine)"
    msg = (
        f"Kill switch {use_case} {word}." if changed else f"Kill switch {use_case} was already {'on' if on else 'off'}."
    )
    if not on and st.configured:
        msg = f"Kill switch {use_case} stays on: hub.yaml governance.kill_switches turns it on."
        msg += " Its stored switch is off now." if changed else ""
    return back("/console/alerts", msg)


@router.post("/models/rollback")
async def model_rollback(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = logged_in(request, state)
    if sess is None:
        return to_login()
    data = await checked_form(request, sess)
    name, version = data.get("name", "")[:80], data.get("version", "")
    if not re.fullmatch(r"[0-9]{1,9}", version) or not name:
        return back("/console/models", "Pick a model version to roll back to.")
    note = (data.get("note") or "").strip()[:1000] or None
    try:
        new = audited_rollback(state.ctx, int(version), sess.user or "", note, name)
    except HubError as exc:
        return back("/console/models", str(exc))
    return back("/console/models", f"{name} v{version} is live again as v{new}; workers reload it on their next batch.")


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, action: str | None = None, before: int | None = None, state: ApiState = Depends(hub_state)
) -> Response:
    sess = logged_in(request, state)
    if sess is None:
        return to_login()
    before = before if before is not None and 0 < before <= MAX_ID else None  # no id is outside: all of them
    with state.ctx.store.connect() as conn:
        rows = audit.entries(conn, 101, action or None, before_id=before)
    more = len(rows) > 100
    rows = rows[:100]
    return page(
        request,
        state,
        sess,
        "audit.html",
        title="Audit",
        rows=rows,
        action=action or "",
        next_before=rows[-1].id if more else None,
        dumps=json.dumps,
    )


@router.get("/config", response_class=HTMLResponse)
def config_page(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = logged_in(request, state)
    if sess is None:
        return to_login()
    tree = masked(state.settings.model_dump(mode="json"))
    text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, width=110)
    return page(request, state, sess, "config.html", title="Config", text=text)
