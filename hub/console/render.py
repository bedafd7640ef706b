"""Template rendering and the session cookie on every console response."""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from hub.api.problems import Problem, field_errors, validation
from hub.api.state import ApiState
from hub.console import session as sessions
from hub.governance import alerts, approvals, audit
from hub.models import readable, utcnow
from hub.reports.lift import cuped_note
from hub.reports.numbers import counted, figure, interval, people, relative, utc_time
from hub.store import console_sessions as session_store
from hub.store import pushes as push_store

NAV = [
    ("/console/", "Overview"),
    ("/console/queues", "Queues"),
    ("/console/decisions", "Decisions"),
    ("/console/approvals", "Approvals"),
    ("/console/alerts", "Alerts"),
    ("/console/models", "Models"),
    ("/console/experiments", "Experiments"),
    ("/console/audit", "Audit"),
    ("/console/config", "Config"),
]
_env = Environment(
    loader=FileSystemLoader(str(resources.files("hub.console").joinpath("templates"))),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _cuped_note(lifts: list[Any]) -> str:
    """The lift table's CUPED note, as `hub report lift` prints it."""
    return cuped_note([(r.metric, r.variance_reduction) for r in lifts], means_shown=True)


_env.filters["cuped_note"] = _cuped_note
_env.filters["shown"] = readable  # the page's autoescape makes it safe to show
_env.filters["figure"] = figure  # hub/reports/numbers.py: the CLI's tables write figures so too
_env.filters["people"] = people
_env.globals["interval"] = interval
_env.globals["counted"] = counted  # "1 kill switch", never "1 kill switch(es)"
_env.filters["relative"] = relative
_env.globals["inf"] = float("inf")
_env.filters["utc"] = utc_time
# an empty list says what the CLI's listing says
_env.globals["no_alerts"] = alerts.none_listed
_env.globals["no_approvals"] = approvals.none_listed
_env.globals["no_audit_entries"] = audit.none_listed
_env.globals["no_pushes"] = push_store.none_listed
MAX_FORM = 10_000
# everything is served from here; the only inline code is the stylesheet (the one script,
# console.js, is served by /console/static/console.js)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}


def secret(state: ApiState) -> str | None:
    s = state.settings.api.session_secret
    return s.get_secret_value() if s else None


def current(request: Request, state: ApiState) -> sessions.Session | None:
    """The request's session; a logged-in one only while its server-side record is live."""
    key = secret(state)
    sess = sessions.load(request.cookies.get(sessions.COOKIE), key) if key else None
    if sess is None or not sess.user:
        return sess
    user = next((u for u in state.settings.api.users if u.username == sess.user), None)
    if user is None or not sess.sid:
        return None
    with state.ctx.store.begin() as conn:
        live = session_store.touch(
            conn,
            sess.sid,
            user.username,
            user.password_hash.get_secret_value(),
            utcnow(),
            state.settings.api.session_idle_timeout,
        )
    return sess if live else None


def set_cookie(response: Response, state: ApiState, session: sessions.Session) -> Response:
    key = secret(state)
    if key:
        response.set_cookie(
            sessions.COOKIE,
            sessions.dump(session, key),
            max_age=state.settings.api.session_max_age,
            httponly=True,
            samesite="lax",
            secure=state.settings.api.secure_cookies,
            path="/console",
        )
    return response


def page(
    request: Request, state: ApiState, session: sessions.Session, template: str, code: int = 200, **ctx: Any
) -> HTMLResponse:
    html = _env.get_template(template).render(
        user=session.user,
        csrf=session.csrf,
        nav=NAV,
        here=request.url.path,
        flash=request.query_params.get("flash"),
        **ctx,
    )
    resp = HTMLResponse(html, status_code=code, headers=SECURITY_HEADERS)
    set_cookie(resp, state, session)
    return resp


def to_login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303)


class Form(dict[str, str]):
    """A url-encoded form: first value per key, and ``many(key)`` for checkbox lists."""

    def __init__(self, parsed: dict[str, list[str]]):
        super().__init__({k: v[0] for k, v in parsed.items()})
        self._all = parsed

    def many(self, key: str) -> list[str]:
        return self._all.get(key, [])


async def form(request: Request, max_fields: int = 20) -> Form:
    """A url-encoded form body (bulk forms allow more fields; the body stays under MAX_FORM)."""
    body = await request.body()
    if len(body) > MAX_FORM:
        raise Problem(413, "Too large", "the form is too large")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "Bad form", "the form could not be read") from None
    if any("\x00" in k or "\x00" in v for k, vals in parsed.items() for v in vals):
        raise Problem(400, "Bad form", "the form holds a NUL character")
    return Form(parsed)


def logged_in(request: Request, state: ApiState) -> sessions.Session | None:
    sess = current(request, state)
    return sess if sess and sess.user else None


async def checked_form(request: Request, sess: sessions.Session, max_fields: int = 20) -> Form:
    """The form of a mutating request, refused (403) unless it carries the session's CSRF token."""
    data = await form(request, max_fields)
    if not sessions.csrf_ok(sess, data.get("csrf")):
        raise Problem(403, "Bad CSRF token", "reload the page and try again")
    return data


def back(path: str, msg: str) -> RedirectResponse:
    """Post/redirect/get with a message shown on the page."""
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{sep}flash={quote(msg)}", status_code=303)


async def invalid_address(request: Request, exc: RequestValidationError) -> Response:
    """A console address edited by hand (``?before=abc``, ``/console/decisions/x``) answers a
    console page saying what is wrong with it, not the API's JSON 422; the API's stay problems."""
    if request.method != "GET" or not request.url.path.startswith("/console"):
        return await validation(request, exc)
    state = request.app.state.hub
    sess = logged_in(request, state)
    if sess is None:
        return to_login()
    what = "; ".join(
        f"{e['field'].removeprefix('query.').removeprefix('path.')}: {e['message']}" for e in field_errors(exc)
    )
    return page(request, state, sess, "error.html", 400, title="This address is not valid", error=f"{what}.")
