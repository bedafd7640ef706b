"""Console pages: login, Overview (KPI tiles, trends, connectors, sales owners), Queues (failed pushes grouped by
cause, Retry all like this, and per push), a contact's timeline.

Every page needs a logged-in session; every POST needs the session's CSRF token.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from importlib import resources

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from hub.api.problems import Problem
from hub.api.routes.status import current_status
from hub.api.schemas import MAX_ID
from hub.api.settings import ConsoleUser
from hub.api.state import ApiState, hub_state
from hub.api.timeline import contact_timeline
from hub.connector_health import run_checks, summary
from hub.console import overview as kpi
from hub.console import session as sessions
from hub.console.governance import governance_summary
from hub.console.passwords import burn_time, verify_password
from hub.console.render import back, checked_form, current, form, page, secret, set_cookie, to_login
from hub.console.throttle import LoginThrottle
from hub.demo_store import DEMO_ENDED, demo_ended
from hub.governance import pushes as failed_pushes
from hub.models import Action, readable, utcnow
from hub.pipeline.owner_status import owner_statuses
from hub.reports.numbers import counted
from hub.status import TAKEN_NOTE, broker_unreachable, hub_status
from hub.store import console_sessions as session_store
from hub.store import console_views, queries, timeline

router = APIRouter(prefix="/console", include_in_schema=False)


def _disabled(state: ApiState) -> str | None:
    if secret(state) is None or not state.settings.api.users:
        return (
            "The console is off: set api.session_secret (32+ characters) and at least one api.users entry "
            "({username, password_hash}) in hub.yaml; make a password's hash with "
            "python -m hub.console.passwords (hub/api/README.md)."
        )
    return None


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = current(request, state) or sessions.Session.new(None, state.settings.api.session_max_age)
    if sess.user:
        return RedirectResponse("/console/", status_code=303)
    return page(request, state, sess, "login.html", title="Log in", disabled=_disabled(state))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    if _disabled(state):
        return to_login()
    data = await form(request)
    sess = current(request, state)
    if not sessions.csrf_ok(sess, data.get("csrf")):
        fresh = sessions.Session.new(None, state.settings.api.session_max_age)
        return page(request, state, fresh, "login.html", 403, title="Log in", error="The form expired; try again.")
    name, password = data.get("username", "")[:200], data.get("password", "")[:1000]
    throttle = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        throttle = request.app.state.login_throttle = LoginThrottle(state)
    address = request.client.host if request.client else "unknown"
    verdict = await run_in_threadpool(throttle.check, name, address)
    if verdict.wait > 0:
        msg = f"Too many login attempts; try again in {int(verdict.wait) + 1} s."
        return page(request, state, sess, "login.html", 429, title="Log in", error=msg, username=name)
    if verdict.slow > 0:
        await asyncio.sleep(verdict.slow)
    user = await run_in_threadpool(_check_password, state, name, password)
    if user is None:
        return page(  # the name as typed (never the password), to fix a typo in either
            request, state, sess, "login.html", 401, title="Log in", error="Wrong user name or password.", username=name
        )
    await run_in_threadpool(throttle.succeeded, name, address, verdict)
    logged = sessions.Session.new(user.username, state.settings.api.session_max_age)  # new CSRF token too
    with state.ctx.store.begin() as conn:
        session_store.open_session(
            conn,
            logged.sid or "",
            user.username,
            user.password_hash.get_secret_value(),
            address,
            utcnow(),
            state.settings.api.session_max_age,
        )
    return set_cookie(RedirectResponse("/console/", status_code=303), state, logged)


def _check_password(state: ApiState, name: str, password: str) -> ConsoleUser | None:
    """The user whose name and password these are, or None; the same work either way."""
    users = state.settings.api.users
    user = next((u for u in users if hmac.compare_digest(u.username.encode(), name.encode())), None)
    if user is None:
        burn_time(password, users[0].password_hash.get_secret_value() if users else None)
        return None
    return user if verify_password(password, user.password_hash.get_secret_value()) else None


@router.post("/logout")
async def logout(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = current(request, state)
    if not sessions.csrf_ok(sess, (await form(request)).get("csrf")):
        raise Problem(403, "Bad CSRF token", "reload the page and try again")
    if sess is not None and sess.sid:
        with state.ctx.store.begin() as conn:
            session_store.revoke(conn, sess.sid, utcnow())
    resp = to_login()
    resp.delete_cookie(sessions.COOKIE, path="/console")
    return resp


def _user(request: Request, state: ApiState) -> sessions.Session | None:
    sess = current(request, state)
    return sess if sess and sess.user else None


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = _user(request, state)
    if sess is None:
        return to_login()
    with state.ctx.store.connect() as conn:
        checks = queries.last_checks(conn)
        trends = kpi.trends(conn)
        lift = kpi.lift(state.ctx, conn)
        owners = owner_statuses(state.settings, conn, state.ctx.clock())
    return page(
        request,
        state,
        sess,
        "overview.html",
        title="Overview",
        status=current_status(state),
        checks=checks,
        governance=governance_summary(state),
        trends=trends,
        lift=lift,
        owners=owners,
        demo_ended=DEMO_ENDED if demo_ended(state.settings) else None,
    )


@router.post("/connectors/check")
async def check_connectors(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    """Run every enabled connector's health check now, as `hub connectors list --check` does:
    the Health column shows "not checked" until someone has."""
    sess = _user(request, state)
    if sess is None:
        return to_login()
    await checked_form(request, sess)
    if demo_ended(state.settings):  # its CRMs are gone: a check would record them unreachable
        return back("/console/", DEMO_ENDED)
    reports = await run_in_threadpool(run_checks, state.ctx)  # a call or two to each CRM
    return back("/console/", summary(reports))


@router.get("/queues", response_class=HTMLResponse)
def queues(request: Request, state: ApiState = Depends(hub_state)) -> Response:
    sess = _user(request, state)
    if sess is None:
        return to_login()
    st = hub_status(state.settings, state.ctx.store)
    workers = None
    if st.broker_error is None:
        try:
            workers = state.dispatch.workers()
        except (OSError, OperationalError, RedisError) as exc:
            st.broker_error = broker_unreachable(state.settings.broker_url, exc)
    with state.ctx.store.connect() as conn:
        groups = failed_pushes.failure_groups(conn)
    return page(
        request,
        state,
        sess,
        "queues.html",
        title="Queues",
        queues=st.queues or {},
        taken=st.taken or {},
        taken_note=TAKEN_NOTE.format(timeout=state.settings.celery.visibility_timeout),
        workers=workers or [],
        broker_error=st.broker_error,
        groups=groups,
        mode=state.dispatch.mode,
        demo_ended=DEMO_ENDED if demo_ended(state.settings) else None,
    )


@router.get("/failures/{key}", response_class=HTMLResponse)
def failure_group(
    request: Request, key: str = Path(pattern="^[0-9a-f]{16}$"), state: ApiState = Depends(hub_state)
) -> Response:
    """One cause's failed pushes (newest 200), each with its own Retry."""
    sess = _user(request, state)
    if sess is None:
        return to_login()
    with state.ctx.store.connect() as conn:
        g = failed_pushes.group(conn, key)
        rows = []
        if g is not None:
            ids = console_views.failed_ids(conn, g.connector, g.kind, g.errors)
            rows = console_views.failed_pushes(conn, ids[-200:])
    if g is None:
        # the last one was just retried from here: its message goes on to the queues page
        return back("/console/queues", request.query_params.get("flash") or "No failed pushes of that kind any more.")
    return page(request, state, sess, "failures.html", title="Failed pushes", group=g, rows=rows)


@router.post("/failures/{key}/retry")
async def retry_group(
    request: Request, key: str = Path(pattern="^[0-9a-f]{16}$"), state: ApiState = Depends(hub_state)
) -> Response:
    sess = _user(request, state)
    if sess is None:
        return to_login()
    await checked_form(request, sess)
    with state.ctx.store.begin() as conn:
        g, n = failed_pushes.retry_group(conn, key, sess.user or "", utcnow())
    if g is None:
        return back("/console/queues", "No failed pushes of that kind any more; nothing to retry.")
    return back(
        "/console/queues",
        f"{counted(n, 'failed push', 'failed pushes')} queued again ({g.connector} {g.kind}: {g.error}); the next push run sends them.",
    )


@router.post("/pushes/{push_id}/retry")
async def retry(
    request: Request, push_id: int = Path(ge=1, le=MAX_ID), state: ApiState = Depends(hub_state)
) -> Response:
    sess = _user(request, state)
    if sess is None:
        return to_login()
    data = await checked_form(request, sess)
    with state.ctx.store.begin() as conn:
        n = failed_pushes.retry(conn, [push_id], sess.user or "", utcnow(), f"retry push {push_id}")
    msg = (
        f"Push {push_id} queued again; the next push run sends it."
        if n
        else f"Push {push_id} was not failed any more; nothing to retry."
    )
    nxt = data.get("next", "")
    return back(nxt if re.fullmatch(r"/console/failures/[0-9a-f]{16}", nxt) else "/console/queues", msg)


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
def contact_page(
    request: Request, contact_id: int = Path(ge=1, le=MAX_ID), state: ApiState = Depends(hub_state)
) -> Response:
    sess = _user(request, state)
    if sess is None:
        return to_login()
    try:
        c = contact_timeline(state, contact_id, limit=100)
    except Problem as exc:
        return page(request, state, sess, "error.html", exc.status, title="Contact not found", error=exc.detail)
    events = [
        (a.occurred_at, "activity", f"{a.type} via {a.source} {readable(a.properties) if a.properties else ''}")
        for a in c.activities
    ]
    for d in c.decisions:  # actions as the Decisions page and `hub decisions` write them
        acts = "; ".join(timeline.action_lines([Action.model_validate(a) for a in d.actions]))
        events.append((d.created_at, "decision", f"{d.arm}: {acts} — {d.explanation}"))
        for p in d.pushes:
            err = f" ({p.last_error})" if p.last_error else ""
            events.append((p.updated_at or d.created_at, "push", f"{p.kind} to {p.connector}: {p.state}{err}"))
    events.sort(key=lambda e: e[0], reverse=True)
    return page(request, state, sess, "contact.html", title=f"Contact {contact_id}", contact=c, events=events)


_SCRIPT = resources.files("hub.console").joinpath("static", "console.js").read_text()


@router.get("/static/console.js")
def script() -> Response:
    return Response(_SCRIPT, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})


@router.get("/{name}", response_class=HTMLResponse)
def unknown(request: Request, name: str, state: ApiState = Depends(hub_state)) -> Response:
    sess = _user(request, state)
    if sess is None:
        return to_login()
    return page(request, state, sess, "error.html", 404, title="No such page")
